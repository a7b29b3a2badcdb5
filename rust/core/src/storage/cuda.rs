//! Device memory on one GPU, pooled per device like host memory: freed buffers park in a
//! size-class list and are handed out again. Every kernel and copy for a device runs on that
//! device's one stream, so a buffer reused by a later op is only touched after the earlier
//! op's work on the stream has finished.

use super::cpu::class_size;
use crate::error::Result;
use crate::kernels::cuda::device::{device, Device};

pub struct CudaBuffer {
    ptr: u64,
    len: usize,
    class: usize,
    dev: &'static Device,
}

impl CudaBuffer {
    pub fn alloc(dev_id: i32, bytes: usize) -> Result<Self> {
        let dev = device(dev_id)?;
        if bytes == 0 {
            return Ok(CudaBuffer {
                ptr: 0,
                len: 0,
                class: 0,
                dev,
            });
        }
        let class = class_size(bytes);
        let ptr = dev.pool_take(class)?;
        Ok(CudaBuffer {
            ptr,
            len: bytes,
            class,
            dev,
        })
    }

    /// The device address (never dereferenced on the host).
    pub fn device_ptr(&self) -> u64 {
        self.ptr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn device(&self) -> &'static Device {
        self.dev
    }
}

impl Drop for CudaBuffer {
    fn drop(&mut self) {
        if self.class > 0 {
            self.dev.pool_give(self.ptr, self.class);
        }
    }
}
