//! Imperative autograd (`mx.autograd`): recording flags, the tape (graph nodes carrying the
//! arrays they produced) and backward through the same gradient rules as the executor.

use std::cell::Cell;

thread_local! {
    static RECORDING: Cell<bool> = const { Cell::new(false) };
    static TRAINING: Cell<bool> = const { Cell::new(false) };
}

pub fn is_recording() -> bool {
    RECORDING.with(|c| c.get())
}

pub fn is_training() -> bool {
    TRAINING.with(|c| c.get())
}

/// Sets the recording flag; returns the previous one.
pub fn set_recording(on: bool) -> bool {
    RECORDING.with(|c| c.replace(on))
}

/// Sets the training flag; returns the previous one.
pub fn set_training(on: bool) -> bool {
    TRAINING.with(|c| c.replace(on))
}
