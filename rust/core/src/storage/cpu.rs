//! Pooled, 64-byte aligned host memory. Freed buffers go back to a size-class free list so a
//! fresh output in a loop reuses warm pages instead of page-faulting new ones.

use crate::error::{Error, Result};
use crate::runtime::rt;
use std::alloc::{alloc, dealloc, Layout};
use std::ptr::NonNull;
use std::sync::{Mutex, OnceLock};

const ALIGN: usize = 64;
/// Requests above this many bytes are rejected before touching the allocator.
const MAX_BYTES: usize = 1 << 46;

/// Size class: four steps per power of two above 4 KiB, powers of two below.
pub(crate) fn class_size(bytes: usize) -> usize {
    if bytes <= 4096 {
        return bytes.next_power_of_two().max(ALIGN);
    }
    let p = usize::BITS - 1 - (bytes - 1).leading_zeros(); // 2^p < bytes <= 2^(p+1)
    let step = 1usize << (p - 2);
    bytes.div_ceil(step) * step
}

pub struct CpuPool {
    free: Mutex<PoolState>,
    limit: usize,
}

/// Index of a size class in `PoolState::lists` (classes are sparse; this packs them).
fn class_index(class: usize) -> usize {
    if class <= 4096 {
        return class.trailing_zeros() as usize; // powers of two up to 2^12
    }
    let p = usize::BITS - 1 - (class - 1).leading_zeros();
    let step = 1usize << (p - 2);
    13 + (p as usize - 12) * 4 + (class / step - 4)
}

struct PoolState {
    /// Free buffers per size class, indexed by `class_index`.
    lists: Vec<Vec<SendPtr>>,
    cached: usize,
    in_use: usize,
}

/// A parked buffer and its size class.
struct SendPtr(NonNull<u8>, usize);
// SAFETY: the pointer is an owned, unaliased allocation parked in the pool.
unsafe impl Send for SendPtr {}

impl CpuPool {
    pub fn new() -> Self {
        let limit = std::env::var("MXNET_CPU_MEM_POOL_LIMIT_MB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .map(|mb| mb << 20)
            .unwrap_or(2 << 30);
        CpuPool {
            free: Mutex::new(PoolState {
                lists: Vec::new(),
                cached: 0,
                in_use: 0,
            }),
            limit,
        }
    }

    fn take(&self, class: usize) -> Result<NonNull<u8>> {
        if let Ok(mut st) = self.free.lock() {
            st.in_use += class;
            if let Some(p) = st.lists.get_mut(class_index(class)).and_then(|l| l.pop()) {
                st.cached -= class;
                return Ok(p.0);
            }
        }
        let layout = Layout::from_size_align(class, ALIGN)
            .map_err(|_| Error::Memory(format!("cannot allocate {class} bytes")))?;
        // SAFETY: layout has non-zero size (class >= ALIGN).
        let p = unsafe { alloc(layout) };
        NonNull::new(p)
            .ok_or_else(|| Error::Memory(format!("out of memory allocating {class} bytes on cpu")))
    }

    fn give(&self, p: NonNull<u8>, class: usize) {
        if let Ok(mut st) = self.free.lock() {
            st.in_use = st.in_use.saturating_sub(class);
            if st.cached + class <= self.limit {
                let i = class_index(class);
                if st.lists.len() <= i {
                    st.lists.resize_with(i + 1, Vec::new);
                }
                st.cached += class;
                st.lists[i].push(SendPtr(p, class));
                return;
            }
        }
        // SAFETY: p was allocated with exactly this layout in `take`.
        unsafe { dealloc(p.as_ptr(), Layout::from_size_align_unchecked(class, ALIGN)) }
    }

    /// (bytes handed out and alive, bytes parked in free lists).
    pub fn stats(&self) -> (usize, usize) {
        self.free
            .lock()
            .map(|s| (s.in_use, s.cached))
            .unwrap_or((0, 0))
    }

    /// Returns every parked buffer to the system allocator.
    pub fn release_all(&self) {
        if let Ok(mut st) = self.free.lock() {
            for list in st.lists.iter_mut() {
                for p in list.drain(..) {
                    let class = p.1;
                    // SAFETY: as in `give`.
                    unsafe {
                        dealloc(
                            p.0.as_ptr(),
                            Layout::from_size_align_unchecked(class, ALIGN),
                        )
                    }
                }
            }
            st.cached = 0;
        }
    }
}

impl Default for CpuPool {
    fn default() -> Self {
        Self::new()
    }
}

/// An aligned host buffer that returns itself to the pool on drop.
pub struct CpuBuffer {
    ptr: NonNull<u8>,
    len: usize,
    class: usize,
}

// SAFETY: CpuBuffer owns its allocation; concurrent access is arbitrated by the engine.
unsafe impl Send for CpuBuffer {}
unsafe impl Sync for CpuBuffer {}

/// Physical memory plus swap, read once. A request above it can never be met, yet the
/// kernel's overcommit may grant the address space and kill the process only when a kernel
/// writes the pages.
fn host_memory() -> Option<usize> {
    static MEM: OnceLock<Option<usize>> = OnceLock::new();
    *MEM.get_or_init(|| {
        let info = std::fs::read_to_string("/proc/meminfo").ok()?;
        let kib = |key: &str| {
            info.lines().find_map(|l| {
                l.strip_prefix(key)?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse::<usize>()
                    .ok()
            })
        };
        let total = kib("MemTotal:")?.checked_add(kib("SwapTotal:").unwrap_or(0))?;
        total.checked_mul(1024)
    })
}

impl CpuBuffer {
    pub fn alloc(bytes: usize) -> Result<Self> {
        if bytes > MAX_BYTES {
            return Err(Error::Memory(format!(
                "cannot allocate {bytes} bytes on cpu"
            )));
        }
        if let Some(mem) = host_memory().filter(|&m| bytes > m) {
            return Err(Error::Memory(format!(
                "cannot allocate {bytes} bytes on cpu: more than the machine's {mem} bytes of \
                 memory and swap"
            )));
        }
        if bytes == 0 {
            // Aligned for every element type, so empty slices of any T are valid.
            return Ok(CpuBuffer {
                ptr: NonNull::new(ALIGN as *mut u8).unwrap_or(NonNull::dangling()),
                len: 0,
                class: 0,
            });
        }
        let class = class_size(bytes);
        let ptr = rt().cpu_pool.take(class)?;
        Ok(CpuBuffer {
            ptr,
            len: bytes,
            class,
        })
    }

    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for CpuBuffer {
    fn drop(&mut self) {
        if self.class > 0 {
            rt().cpu_pool.give(self.ptr, self.class);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::class_size;

    #[test]
    fn class_indices_are_distinct_and_increasing() {
        let mut last = None;
        let mut b = 1usize;
        while b < 1 << 30 {
            let c = super::class_size(b);
            let i = super::class_index(c);
            if let Some((lc, li)) = last {
                assert!(
                    c == lc && i == li || c > lc && i > li,
                    "{b}: {c}/{i} after {lc}/{li}"
                );
            }
            last = Some((c, i));
            b = b * 9 / 8 + 1;
        }
    }

    #[test]
    fn classes_cover_request() {
        for b in [
            1usize,
            63,
            64,
            65,
            4095,
            4096,
            4097,
            10_000,
            1 << 20,
            (1 << 20) + 1,
            123_456_789,
        ] {
            let c = class_size(b);
            assert!(c >= b, "{b} -> {c}");
            assert!(c <= b.max(64) * 2, "{b} -> {c} wastes too much");
            assert_eq!(c % 64, 0);
        }
    }
}
