//! Data between host and device, and ops without a native kernel: those run their CPU kernel
//! on host copies of their inputs (and of their outputs and mutated inputs, which some ops
//! accumulate into), and the results go back to the device. Slow but exact, so every
//! registry op works on a GPU context; the hot ops have native kernels.

use super::device::{device, drv, Device};
use super::dptr;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::ndarray::NDArray;
use crate::op::{OpCtx, Operator};
use cudarc::driver::result as cu;

/// The device of a GPU array.
pub fn device_of(a: &NDArray) -> Result<&'static Device> {
    device(a.ctx().dev_id)
}

/// Copies device bytes of `a` into `dst`, waiting for the stream (errors of earlier kernels
/// surface here).
pub fn download(a: &NDArray, dst: &mut [u8]) -> Result<()> {
    let dev = device_of(a)?;
    dev.bind()?;
    // SAFETY: dst holds exactly a's bytes; the copy is complete when sync returns.
    unsafe { cu::memcpy_dtoh_async(dst, dptr(a), dev.stream) }
        .map_err(|e| drv("copying gpu memory to the host", e))?;
    dev.sync()
}

/// Copies host bytes into `a` on its stream (ordered after earlier kernels on `a`).
pub fn upload(a: &NDArray, src: &[u8]) -> Result<()> {
    let dev = device_of(a)?;
    dev.bind()?;
    // SAFETY: a holds src.len() bytes; the driver stages pageable memory before returning.
    unsafe { cu::memcpy_htod_async(dptr(a), src, dev.stream) }
        .map_err(|e| drv("copying host memory to the gpu", e))?;
    dev.sync()
}

/// A host array with the contents of `a` (any context).
pub fn to_host(a: &NDArray) -> Result<NDArray> {
    let h = NDArray::empty(a.shape().clone(), a.dtype(), Context::cpu(0))?;
    if a.ctx().is_host() {
        crate::kernels::cpu::cast::cast_into(a, &h);
    } else {
        // SAFETY: h is fresh and owned here.
        let bytes = unsafe { std::slice::from_raw_parts_mut(h.raw(), h.nbytes()) };
        download(a, bytes)?;
    }
    Ok(h)
}

/// Writes the host array `h` (same shape and dtype) into `a`.
fn from_host(h: &NDArray, a: &NDArray) -> Result<()> {
    // SAFETY: h is a private host array.
    let bytes = unsafe { std::slice::from_raw_parts(h.raw(), h.nbytes()) };
    upload(a, bytes)
}

/// Runs `op` on GPU arrays inside its engine op: the native kernel when it has one for
/// these types, else the CPU kernel on host copies.
pub fn forward(
    op: &dyn Operator,
    cx: &OpCtx,
    inputs: &[NDArray],
    outputs: &[NDArray],
) -> Result<()> {
    let any = inputs
        .first()
        .or(outputs.first())
        .ok_or_else(|| Error::Internal(format!("{}: no arrays", op.name())))?;
    let dev = device_of(any)?;
    dev.bind()?;
    if op.forward_cuda(dev, cx, inputs, outputs)? {
        return Ok(());
    }
    let hin: Vec<NDArray> = inputs.iter().map(to_host).collect::<Result<_>>()?;
    let hout: Vec<NDArray> = outputs.iter().map(to_host).collect::<Result<_>>()?;
    op.forward(cx, &hin, &hout)?;
    for (h, o) in hout.iter().zip(outputs) {
        from_host(h, o)?;
    }
    for &i in op.mutate_inputs() {
        if let (Some(h), Some(a)) = (hin.get(i), inputs.get(i)) {
            from_host(h, a)?;
        }
    }
    Ok(())
}

/// `copyto` where either side is on a GPU; dtypes may differ (cast on the host).
pub fn copy(src: &NDArray, dst: &NDArray) -> Result<()> {
    let (sc, dc) = (src.ctx(), dst.ctx());
    if !sc.is_host() && !dc.is_host() && src.dtype() == dst.dtype() {
        let (sd, dd) = (device_of(src)?, device_of(dst)?);
        if sd.id == dd.id {
            sd.bind()?;
            // SAFETY: both ranges are on this device and hold nbytes; same stream order.
            return unsafe { cu::memcpy_dtod_async(dptr(dst), dptr(src), src.nbytes(), sd.stream) }
                .map_err(|e| drv("copying within a gpu", e));
        }
        // Across devices: the destination's stream must be idle before the source's stream
        // writes into it, and the copy complete before the destination's later kernels.
        dd.sync()?;
        sd.bind()?;
        // SAFETY: contexts are the devices' primary contexts; ranges hold nbytes.
        unsafe {
            cu::memcpy_peer_async(
                dd.context(),
                dptr(dst),
                sd.context(),
                dptr(src),
                src.nbytes(),
                sd.stream,
            )
        }
        .map_err(|e| drv("copying between gpus", e))?;
        return sd.sync();
    }
    let h = to_host(src)?;
    if dc.is_host() {
        crate::kernels::cpu::cast::cast_into(&h, dst);
        return Ok(());
    }
    let hd = if h.dtype() == dst.dtype() {
        h
    } else {
        let t = NDArray::empty(dst.shape().clone(), dst.dtype(), Context::cpu(0))?;
        crate::kernels::cpu::cast::cast_into(&h, &t);
        t
    };
    from_host(&hd, dst)
}

/// Fills the GPU array `dst` from another library's device memory at `src` (same device,
/// `dst.nbytes()` contiguous bytes), ordered after `dst`'s pending ops. The whole context is
/// synchronised first, so the producer's streams have finished writing `src`.
pub fn copy_from_device_ptr(dst: &NDArray, src: u64) -> Result<()> {
    let d = dst.clone();
    NDArray::push(
        "_copy_from_cuda_array",
        &[],
        &[dst],
        dst.size(),
        None,
        move || {
            let dev = device_of(&d)?;
            dev.bind()?;
            cu::ctx::synchronize().map_err(|e| drv("waiting for the producer's streams", e))?;
            // SAFETY: the caller vouches for `src` holding nbytes on this device; dst is ours.
            unsafe { cu::memcpy_dtod_async(dptr(&d), src, d.nbytes(), dev.stream) }
                .map_err(|e| drv("copying a foreign gpu array", e))?;
            dev.sync()
        },
    );
    dst.wait_to_read()
}
