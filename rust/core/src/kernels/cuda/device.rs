//! The GPUs of this process: found once, lazily, through the driver library loaded at run
//! time. Each device keeps its primary context, one stream that every kernel and copy for it
//! is queued on (so stream order is engine order), a memory pool, the kernels compiled for
//! its architecture and a cuBLAS handle.

use crate::error::{Error, Result};
use cudarc::cublas::{result as blas, sys as blas_sys};
use cudarc::driver::result::{self as cu, DriverError};
use cudarc::driver::sys;
use std::collections::HashMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// Bytes of freed device memory a pool keeps before returning buffers to the driver.
const POOL_LIMIT: usize = 8 << 30;

pub struct Device {
    pub id: i32,
    pub name: String,
    /// Compute capability (major, minor); kernels are compiled for exactly this.
    pub cc: (i32, i32),
    ctx: sys::CUcontext,
    pub stream: sys::CUstream,
    pool: Mutex<Pool>,
    modules: Mutex<HashMap<&'static str, Module>>,
    blas: OnceLock<std::result::Result<BlasHandle, String>>,
    /// Work was queued since the last full synchronisation (`waitall` skips idle devices).
    busy: AtomicBool,
}

// SAFETY: the driver handles are process-wide objects usable from any thread once the
// context is made current there (`bind`); the mutable parts sit behind mutexes.
unsafe impl Send for Device {}
unsafe impl Sync for Device {}

#[derive(Default)]
struct Pool {
    free: HashMap<usize, Vec<u64>>,
    cached: usize,
}

/// A loaded module (never unloaded: its functions stay valid for the process).
struct Module {
    handle: sys::CUmodule,
    functions: HashMap<String, sys::CUfunction>,
}

struct BlasHandle(blas_sys::cublasHandle_t);
// SAFETY: cuBLAS handles may be used from any thread; calls on one handle are serialised
// by the engine order of the ops that use them.
unsafe impl Send for BlasHandle {}
unsafe impl Sync for BlasHandle {}

/// A driver error as the user reads it: what we were doing, the driver's name for the code.
pub fn drv(what: &str, e: DriverError) -> Error {
    let name = e
        .error_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|_| format!("{:?}", e.0));
    let text = e
        .error_string()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Error::Context(format!("CUDA error in {what}: {name} ({text})"))
}

fn init() -> std::result::Result<Vec<Device>, String> {
    // SAFETY: only probes whether the driver library can be opened.
    if !unsafe { sys::is_culib_present() } {
        return Err("no CUDA device found (driver not loaded)".into());
    }
    cu::init().map_err(|e| format!("no CUDA device found (cuInit failed: {e})"))?;
    let n = cu::device::get_count().map_err(|e| format!("no CUDA device found ({e})"))?;
    if n == 0 {
        return Err("no CUDA device found (the driver reports 0 devices)".into());
    }
    (0..n).map(open).collect()
}

fn open(id: i32) -> std::result::Result<Device, String> {
    let fail = |what: &str, e: DriverError| drv(&format!("{what} of gpu({id})"), e).to_string();
    let dev = cu::device::get(id).map_err(|e| fail("cuDeviceGet", e))?;
    // SAFETY: `dev` came from cuDeviceGet; the primary context lives for the process.
    unsafe {
        let ctx = cu::primary_ctx::retain(dev).map_err(|e| fail("context creation", e))?;
        cu::ctx::set_current(ctx).map_err(|e| fail("cuCtxSetCurrent", e))?;
        let stream = cu::stream::create(cu::stream::StreamKind::NonBlocking)
            .map_err(|e| fail("stream creation", e))?;
        let attr = |a| cu::device::get_attribute(dev, a).unwrap_or(0);
        let cc = (
            attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
            attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
        );
        Ok(Device {
            id,
            name: cu::device::get_name(dev).unwrap_or_default(),
            cc,
            ctx,
            stream,
            pool: Mutex::new(Pool::default()),
            modules: Mutex::new(HashMap::new()),
            blas: OnceLock::new(),
            busy: AtomicBool::new(false),
        })
    }
}

static DEVICES: OnceLock<std::result::Result<Vec<Device>, String>> = OnceLock::new();

fn all() -> &'static std::result::Result<Vec<Device>, String> {
    DEVICES.get_or_init(|| {
        // A driver library missing a symbol makes the loader panic; report it as no device.
        std::panic::catch_unwind(init).unwrap_or_else(|_| {
            Err("no CUDA device found (the CUDA driver library could not be used)".into())
        })
    })
}

/// Every usable GPU, or why there is none.
pub fn devices() -> Result<&'static [Device]> {
    all()
        .as_ref()
        .map(|v| v.as_slice())
        .map_err(|m| Error::Context(m.clone()))
}

/// Devices already opened, without trying to open them (for `waitall`).
pub fn opened() -> &'static [Device] {
    match DEVICES.get() {
        Some(Ok(v)) => v,
        _ => &[],
    }
}

pub fn num_gpus() -> usize {
    devices().map(|d| d.len()).unwrap_or(0)
}

pub fn device(id: i32) -> Result<&'static Device> {
    let devs = devices()?;
    usize::try_from(id)
        .ok()
        .and_then(|i| devs.get(i))
        .ok_or_else(|| {
            Error::Context(format!(
                "gpu({id}) does not exist: {} CUDA device(s) found",
                devs.len()
            ))
        })
}

impl Device {
    /// Makes this device's context current on the calling thread (engine workers move
    /// between devices from op to op).
    pub fn bind(&self) -> Result<()> {
        // SAFETY: the context is the device's retained primary context.
        unsafe { cu::ctx::set_current(self.ctx) }.map_err(|e| drv("cuCtxSetCurrent", e))?;
        self.busy.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Waits for everything queued on the stream; errors of earlier kernels surface here.
    pub fn sync(&self) -> Result<()> {
        self.bind()?;
        // SAFETY: the stream belongs to this device's context, made current above.
        unsafe { cu::stream::synchronize(self.stream) }
            .map_err(|e| drv(&format!("a kernel on gpu({})", self.id), e))?;
        self.busy.store(false, Ordering::Relaxed);
        Ok(())
    }

    pub fn context(&self) -> sys::CUcontext {
        self.ctx
    }

    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed)
    }

    pub(crate) fn pool_take(&self, class: usize) -> Result<u64> {
        if let Ok(mut p) = self.pool.lock() {
            if let Some(ptr) = p.free.get_mut(&class).and_then(|l| l.pop()) {
                p.cached -= class;
                return Ok(ptr);
            }
        }
        self.bind()?;
        // SAFETY: the device's context is current; plain device memory, never managed.
        match unsafe { cu::malloc_sync(class) } {
            Ok(p) => Ok(p),
            Err(_) => {
                // Out of memory with buffers parked: give them back and try once more.
                self.release_cached()?;
                unsafe { cu::malloc_sync(class) }
                    .map_err(|e| drv(&format!("allocating {class} bytes on gpu({})", self.id), e))
            }
        }
    }

    pub(crate) fn pool_give(&self, ptr: u64, class: usize) {
        if let Ok(mut p) = self.pool.lock() {
            if p.cached + class <= POOL_LIMIT {
                p.cached += class;
                p.free.entry(class).or_default().push(ptr);
                return;
            }
        }
        if self.sync().is_ok() {
            // SAFETY: the stream is idle, so no queued kernel still reads this buffer.
            let _ = unsafe { cu::free_sync(ptr) };
        }
    }

    /// (free, total) bytes of device memory, as the driver reports them.
    pub fn memory_info(&self) -> Result<(usize, usize)> {
        self.bind()?;
        cu::mem_get_info().map_err(|e| drv("cuMemGetInfo", e))
    }

    /// Returns the pool's parked buffers to the driver (`Context.empty_cache()`).
    pub fn release_cached(&self) -> Result<()> {
        self.sync()?;
        let parked: Vec<u64> = match self.pool.lock() {
            Ok(mut p) => {
                p.cached = 0;
                p.free.drain().flat_map(|(_, v)| v).collect()
            }
            Err(_) => Vec::new(),
        };
        for ptr in parked {
            // SAFETY: parked buffers belong to no array and the stream is idle.
            let _ = unsafe { cu::free_sync(ptr) };
        }
        Ok(())
    }

    /// The kernel `func` of the module `key`, compiling `source()` for this device's
    /// architecture the first time the module is used.
    pub fn function(
        &self,
        key: &'static str,
        source: impl FnOnce() -> String,
        func: &str,
    ) -> Result<sys::CUfunction> {
        let mut mods = self
            .modules
            .lock()
            .map_err(|_| Error::Internal("CUDA module cache poisoned".into()))?;
        if !mods.contains_key(key) {
            let ptx = super::nvrtc::compile(key, &source(), &super::nvrtc::arch_of(self.cc))?;
            let image = CString::new(ptx)
                .map_err(|_| Error::Internal(format!("PTX of {key} contains a NUL byte")))?;
            self.bind()?;
            // SAFETY: `image` is NUL-terminated PTX text produced by NVRTC.
            let module = unsafe { cu::module::load_data(image.as_ptr() as *const _) }
                .map_err(|e| drv(&format!("loading kernels {key}"), e))?;
            mods.insert(
                key,
                Module {
                    handle: module,
                    functions: HashMap::new(),
                },
            );
        }
        let m = mods
            .get_mut(key)
            .ok_or_else(|| Error::Internal(format!("CUDA module {key} missing")))?;
        if let Some(f) = m.functions.get(func) {
            return Ok(*f);
        }
        let name =
            CString::new(func).map_err(|_| Error::Internal(format!("kernel name {func:?}")))?;
        // SAFETY: the module is loaded and never unloaded.
        let f = unsafe { cu::module::get_function(m.handle, name) }
            .map_err(|e| drv(&format!("finding kernel {func} in {key}"), e))?;
        m.functions.insert(func.to_string(), f);
        Ok(f)
    }

    /// The device's cuBLAS handle, bound to its stream. TF32 stays off (cuBLAS's default
    /// math mode), so float32 products are exact float32 like the CPU's.
    pub fn blas(&self) -> Result<blas_sys::cublasHandle_t> {
        let h = self.blas.get_or_init(|| {
            // SAFETY: probing the library, then creating a handle in this device's context.
            if !unsafe { blas_sys::is_culib_present() } {
                return Err("cuBLAS library not found (install nvidia-cublas)".to_string());
            }
            self.bind().map_err(|e| e.to_string())?;
            let h = blas::create_handle().map_err(|e| format!("cublasCreate: {e:?}"))?;
            unsafe { blas::set_stream(h, self.stream as _) }
                .map_err(|e| format!("cublasSetStream: {e:?}"))?;
            Ok(BlasHandle(h))
        });
        h.as_ref()
            .map(|b| b.0)
            .map_err(|m| Error::Context(m.clone()))
    }
}

/// Synchronises every device that has queued work (`mx.nd.waitall`).
pub fn sync_all() -> Result<()> {
    for d in opened() {
        if d.is_busy() {
            d.sync()?;
        }
    }
    Ok(())
}
