//! In-process key-value store (MXNet `KVStoreLocal`): `store.rs` keeps key → stored array and
//! validates calls; `comm.rs` pushes the reduce and broadcast ops that move the bytes. Python
//! updaters run in the binding's caller (they push their own engine ops on the merge buffer and
//! the stored array); everything here is asynchronous through the engine.

pub mod comm;
pub mod store;

pub use store::{KVStore, KVStoreError, Key};
