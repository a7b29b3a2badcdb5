//! MXNet NDArray file format (being written).
