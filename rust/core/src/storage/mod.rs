//! Device memory. Invariant: a `Storage` is owned by exactly one `Chunk`; who may touch its
//! bytes at a given moment is decided by the engine (reads shared, writes exclusive).

pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;

pub use cpu::{CpuBuffer, CpuPool};

use crate::context::Context;
use crate::error::Result;

/// Bytes on one device.
pub enum Storage {
    Cpu(CpuBuffer),
    #[cfg(feature = "cuda")]
    Cuda(cuda::CudaBuffer),
}

impl Storage {
    /// Uninitialised storage of `bytes` for `ctx`, from that device's pool.
    pub fn alloc(ctx: Context, bytes: usize, op: &str) -> Result<Storage> {
        ctx.check_usable(op)?;
        #[cfg(feature = "cuda")]
        if !ctx.is_host() {
            return Ok(Storage::Cuda(cuda::CudaBuffer::alloc(ctx.dev_id, bytes)?));
        }
        Ok(Storage::Cpu(CpuBuffer::alloc(bytes)?))
    }

    pub fn as_ptr(&self) -> *mut u8 {
        match self {
            Storage::Cpu(b) => b.as_ptr(),
            // The device address, for kernels; never dereferenced on the host.
            #[cfg(feature = "cuda")]
            Storage::Cuda(b) => b.device_ptr() as *mut u8,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(b) => b.len(),
            #[cfg(feature = "cuda")]
            Storage::Cuda(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
