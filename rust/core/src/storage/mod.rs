//! Device memory. Invariant: a `Storage` is owned by exactly one `Chunk`; who may touch its
//! bytes at a given moment is decided by the engine (reads shared, writes exclusive).

pub mod cpu;

pub use cpu::{CpuBuffer, CpuPool};

use crate::context::Context;
use crate::error::Result;

/// Bytes on one device.
pub enum Storage {
    Cpu(CpuBuffer),
}

impl Storage {
    /// Uninitialised storage of `bytes` for `ctx`, from that device's pool.
    pub fn alloc(ctx: Context, bytes: usize, op: &str) -> Result<Storage> {
        ctx.check_usable(op)?;
        Ok(Storage::Cpu(CpuBuffer::alloc(bytes)?))
    }

    pub fn as_ptr(&self) -> *mut u8 {
        match self {
            Storage::Cpu(b) => b.as_ptr(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
