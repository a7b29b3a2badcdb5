//! Evaluation plans.
