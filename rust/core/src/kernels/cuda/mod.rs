//! The CUDA backend (cargo feature `cuda`): devices and streams (`device`), run-time kernel
//! compilation (`nvrtc`), kernel source generation and launches (here), cuBLAS products
//! (`blas`), and moving data and ops between host and device (`host`). The op files own
//! their kernel expressions; this module turns them into CUDA C.

pub mod blas;
pub mod device;
pub mod host;
pub mod nvrtc;
pub mod sources;
pub mod strided;

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ndarray::NDArray;
use crate::op::OpCtx;
use cudarc::driver::{result as cu, sys};
use device::Device;
use std::ffi::c_void;

pub use device::{device, num_gpus};

/// A native GPU kernel of an op: `Ok(true)` when it ran on the device's stream, `Ok(false)`
/// to run the op's CPU kernel on staged host copies instead (types it does not cover).
pub type CudaFn =
    Box<dyn Fn(&Device, &OpCtx, &[NDArray], &[NDArray]) -> Result<bool> + Send + Sync>;

pub const PRELUDE: &str = include_str!("prelude.cu");

/// Float types with native kernels; other dtypes take the host path.
pub const FLOATS: [DType; 3] = [DType::F32, DType::F64, DType::F16];

/// The CUDA C storage type of a dtype (see `IO<S>` in prelude.cu).
pub fn storage_type(dt: DType) -> &'static str {
    match dt {
        DType::F32 => "float",
        DType::F64 => "double",
        DType::F16 => "half_t",
        DType::U8 | DType::Bool => "unsigned char",
        DType::I8 => "signed char",
        DType::I32 => "int",
        DType::I64 => "long long",
        // No kernel is generated for bfloat16 (not in FLOATS: its ops take the host path);
        // the prelude has no IO for it, so one would fail to compile rather than misread.
        DType::BF16 => "unsigned short",
    }
}

pub fn kernel_name(base: &str, dt: DType) -> String {
    format!("{base}_{}", dt.name())
}

/// A grid-stride elementwise kernel `base_<dtype>(p0.., n, s0_..)`: `n_in` inputs loaded as
/// `x0..` in the compute type `C`, `n_out` outputs stored from `y0..`, scalars `s0..`. The
/// body may also write inputs in place through `p<k>[i]` (optimizer states).
pub fn map_kernel(
    base: &str,
    dt: DType,
    n_in: usize,
    n_out: usize,
    n_scalar: usize,
    body: &str,
) -> String {
    let s = storage_type(dt);
    let mut params: Vec<String> = (0..n_in + n_out).map(|k| format!("{s}* p{k}")).collect();
    params.push("u64 n".into());
    params.extend((0..n_scalar).map(|k| format!("double s{k}_")));
    let mut k = format!(
        "extern \"C\" __global__ void {}({}) {{\n  typedef {s} S; typedef IO<S>::C C;\n",
        kernel_name(base, dt),
        params.join(", ")
    );
    for j in 0..n_scalar {
        k += &format!("  const C s{j} = (C)s{j}_;\n");
    }
    k += "  OX_LOOP(i, n) {\n";
    for j in 0..n_in {
        k += &format!("    const C x{j} = IO<S>::ld(p{j}[i]);\n");
    }
    for j in 0..n_out {
        k += &format!("    C y{j};\n");
    }
    k += &format!("    {body}\n");
    for j in 0..n_out {
        k += &format!("    p{}[i] = IO<S>::st(y{j});\n", n_in + j);
    }
    k += "  }\n}\n";
    k
}

/// `base_<dtype>(a, b, out, n, Bcast g)`: numpy-broadcast binary kernel on `a` and `b`.
pub fn broadcast_kernel(base: &str, dt: DType, expr: &str) -> String {
    let s = storage_type(dt);
    format!(
        "extern \"C\" __global__ void {}(const {s}* pa, const {s}* pb, {s}* po, u64 n, \
         Bcast g) {{\n  typedef {s} S; typedef IO<S>::C C;\n  \
         OX_LOOP(i, n) {{\n    u64 ia, ib;\n    bcast_index(g, i, &ia, &ib);\n    \
         const C a = IO<S>::ld(pa[ia]);\n    const C b = IO<S>::ld(pb[ib]);\n    \
         po[i] = IO<S>::st({expr});\n  }}\n}}\n",
        kernel_name(base, dt)
    )
}

/// Device address of an array's first element.
pub fn dptr(a: &NDArray) -> u64 {
    // SAFETY: only the address is taken; the host never dereferences device memory.
    unsafe { a.raw() as u64 }
}

/// A kernel parameter: the address of its value (the launch copies it).
pub fn param<T>(v: &T) -> *mut c_void {
    v as *const T as *mut c_void
}

/// Launches `f` over `n` elements with grid-stride loops on the device's stream.
///
/// # Safety
/// `params` must match the kernel's parameter list and point at live values.
pub unsafe fn launch(
    dev: &Device,
    f: sys::CUfunction,
    n: usize,
    params: &mut [*mut c_void],
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let blocks = n.div_ceil(256).clamp(1, 1 << 20) as u32;
    cu::launch_kernel(f, (blocks, 1, 1), (256, 1, 1), 0, dev.stream, params)
        .map_err(|e| device::drv("a kernel launch", e))
}

/// Runs a `map_kernel` over arrays of `n` elements: inputs, then outputs, then scalars.
pub fn run_map(
    dev: &Device,
    module: &'static str,
    source: fn() -> String,
    base: &str,
    arrays: &[&NDArray],
    scalars: &[f64],
) -> Result<()> {
    let first = arrays
        .first()
        .ok_or_else(|| Error::Internal(format!("{base}: no arrays")))?;
    let f = dev.function(module, source, &kernel_name(base, first.dtype()))?;
    let ptrs: Vec<u64> = arrays.iter().map(|a| dptr(a)).collect();
    let n = first.size() as u64;
    let mut params: Vec<*mut c_void> = ptrs.iter().map(param).collect();
    params.push(param(&n));
    params.extend(scalars.iter().map(param));
    // SAFETY: the kernel takes one pointer per array, n, and one double per scalar; the
    // arrays are held by the calling op until it returns.
    unsafe { launch(dev, f, first.size(), &mut params) }
}

#[repr(C)]
struct Bcast {
    nd: i64,
    shape: [i64; 6],
    sa: [i64; 6],
    sb: [i64; 6],
}

/// Row-major strides of `dims` aligned right to `nd` dims, 0 along broadcast axes.
fn bcast_strides(dims: &[usize], out: &[usize]) -> [i64; 6] {
    let mut st = [0i64; 6];
    let off = out.len() - dims.len();
    let mut acc = 1i64;
    for d in (0..dims.len()).rev() {
        if dims[d] != 1 || out[off + d] == 1 {
            st[off + d] = acc;
        }
        acc *= dims[d] as i64;
    }
    st
}

/// Runs a `broadcast_kernel` on `a`, `b` into `out`; `Ok(false)` beyond 6 dimensions.
pub fn run_broadcast(
    dev: &Device,
    module: &'static str,
    source: fn() -> String,
    base: &str,
    a: &NDArray,
    b: &NDArray,
    out: &NDArray,
) -> Result<bool> {
    let o = &out.shape().0;
    if o.len() > 6 {
        return Ok(false);
    }
    let mut g = Bcast {
        nd: o.len() as i64,
        shape: [1; 6],
        sa: bcast_strides(&a.shape().0, o),
        sb: bcast_strides(&b.shape().0, o),
    };
    for (d, &s) in o.iter().enumerate() {
        g.shape[d] = s as i64;
    }
    let f = dev.function(module, source, &kernel_name(base, a.dtype()))?;
    let (pa, pb, po, n) = (dptr(a), dptr(b), dptr(out), out.size() as u64);
    let mut params = [param(&pa), param(&pb), param(&po), param(&n), param(&g)];
    // SAFETY: matches broadcast_kernel's parameters; Bcast mirrors the C struct.
    unsafe { launch(dev, f, out.size(), &mut params)? };
    Ok(true)
}

/// Ops whose output is input 0's bytes in another shape (Reshape, Flatten, ...).
pub fn copy_bytes() -> CudaFn {
    Box::new(|dev, _, ins, outs| {
        let (src, dst) = (&ins[0], &outs[0]);
        if src.nbytes() != dst.nbytes() {
            return Ok(false);
        }
        if src.nbytes() > 0 && dptr(src) != dptr(dst) {
            // SAFETY: both hold nbytes on this device (shape inference checked the sizes).
            unsafe { cu::memcpy_dtod_async(dptr(dst), dptr(src), src.nbytes(), dev.stream) }
                .map_err(|e| device::drv("copying within a gpu", e))?;
        }
        Ok(true)
    })
}

/// A kernel argument: a device pointer or count (`u64`), a scalar (`f64`), a flag (`i32`).
pub enum Arg {
    U(u64),
    F(f64),
    I(i32),
}

fn arg_params(args: &[Arg]) -> Vec<*mut c_void> {
    args.iter()
        .map(|a| match a {
            Arg::U(v) => param(v),
            Arg::F(v) => param(v),
            Arg::I(v) => param(v),
        })
        .collect()
}

/// Launches `module`'s kernel `base_<dtype>` over `n` threads with `args` in order.
pub fn run_kernel(
    dev: &Device,
    module: &'static str,
    source: fn() -> String,
    base: &str,
    dt: DType,
    n: usize,
    args: &[Arg],
) -> Result<()> {
    let f = dev.function(module, source, &kernel_name(base, dt))?;
    // SAFETY: callers pass the kernel's parameters in order and type; `args` outlives the
    // launch call, which copies them.
    unsafe { launch(dev, f, n, &mut arg_params(args)) }
}

/// Launches `module`'s kernel `base_<dtype>` as `blocks` blocks of 256 threads (kernels that
/// give each block one channel and reduce with `ox_block_sum`).
pub fn run_blocks(
    dev: &Device,
    module: &'static str,
    source: fn() -> String,
    base: &str,
    dt: DType,
    blocks: usize,
    args: &[Arg],
) -> Result<()> {
    if blocks == 0 {
        return Ok(());
    }
    let f = dev.function(module, source, &kernel_name(base, dt))?;
    let grid = u32::try_from(blocks)
        .map_err(|_| Error::Value(format!("{base}: {blocks} blocks is too many")))?;
    // SAFETY: as in `run_kernel`.
    unsafe {
        cu::launch_kernel(
            f,
            (grid, 1, 1),
            (256, 1, 1),
            0,
            dev.stream,
            &mut arg_params(args),
        )
    }
    .map_err(|e| device::drv("a kernel launch", e))
}

/// Source of a module: the prelude, the module's `shared` declarations, and the kernels
/// `gen` writes for each float type.
pub fn module_source(shared: &str, gen: impl Fn(DType) -> String) -> String {
    let mut s = String::from(PRELUDE);
    s += shared;
    for dt in FLOATS {
        s += &gen(dt);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_strides_zero_broadcast_axes() {
        assert_eq!(bcast_strides(&[3, 1, 5], &[3, 4, 5])[..3], [5, 0, 1]);
        assert_eq!(bcast_strides(&[5], &[2, 3, 5])[..3], [0, 0, 1]);
        assert_eq!(bcast_strides(&[2, 3], &[2, 3])[..2], [3, 1]);
        assert_eq!(bcast_strides(&[1, 1], &[4, 1])[..2], [0, 1]);
    }

    #[test]
    fn map_kernel_declares_arrays_then_count_then_scalars() {
        let k = map_kernel("sgd_mom", DType::F16, 3, 1, 2, "y0 = x0;");
        assert!(k.contains(
            "void sgd_mom_float16(half_t* p0, half_t* p1, half_t* p2, half_t* p3, u64 n, \
             double s0_, double s1_)"
        ));
        assert!(k.contains("p3[i] = IO<S>::st(y0);"));
        let b = broadcast_kernel("bcast_add", DType::F64, "a + b");
        assert!(b.contains("void bcast_add_float64(const double* pa"));
    }

    #[test]
    fn every_module_compiles_where_nvrtc_is_found() {
        // SAFETY: only probes for the library.
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            eprintln!("NVRTC not on the library path: compile check left to the Python tests");
            return;
        }
        for (module, r) in nvrtc::compile_all("compute_90") {
            if let Err(log) = r {
                panic!("{module}: {log}");
            }
        }
    }

    #[test]
    fn no_driver_is_one_clear_line() {
        // Only meaningful where no GPU is usable (CI); with a GPU the count is positive.
        match device::devices() {
            Err(e) => {
                let m = e.to_string();
                assert!(m.starts_with("no CUDA device found"), "{m}");
                assert!(!m.contains('\n'), "{m}");
                assert_eq!(num_gpus(), 0);
                let a = crate::NDArray::empty(
                    crate::Shape(vec![2]),
                    DType::F32,
                    crate::Context::gpu(0),
                );
                let msg = a.err().map(|e| e.to_string()).unwrap_or_default();
                assert!(
                    msg.contains("gpu(0)") && msg.contains("no CUDA device found"),
                    "{msg}"
                );
            }
            Ok(d) => assert!(!d.is_empty()),
        }
    }
}
