//! Strided copies on the GPU: one kernel moves the points of one walk into those of another
//! (any dtype, by element size), so the layout ops (transpose, slice, flip, broadcast, crop,
//! their gradients, concat and split) run natively instead of through host copies.

use super::device::Device;
use super::{dptr, kernel_name, launch, module_source, param, FLOATS};
use crate::dtype::DType;
use crate::error::Result;
use crate::kernels::cpu::strided::{check_walks, Walk};
use crate::ndarray::NDArray;

pub const CUDA_MODULE: &str = "strided";

/// Dimensions the kernel walks after merging; longer walks take the host path.
const MAX_DIMS: usize = 6;

const SHARED: &str = r#"
struct Strided { i64 nd, shape[6], src[6], dst[6]; };
template <typename T>
__device__ __forceinline__ void ox_strided(const T* s, T* d, u64 n, Strided g, i64 so, i64 dof) {
  OX_LOOP(i, n) {
    u64 r = i;
    i64 a = so, b = dof;
    for (i64 k = g.nd - 1; k >= 0; --k) {
      const u64 q = r % (u64)g.shape[k];
      r /= (u64)g.shape[k];
      a += (i64)q * g.src[k];
      b += (i64)q * g.dst[k];
    }
    d[b] = s[a];
  }
}
extern "C" __global__ void strided_copy_1(const unsigned char* s, unsigned char* d, u64 n, Strided g, i64 so, i64 dof) { ox_strided(s, d, n, g, so, dof); }
"#;

/// The kernels move raw elements: an unsigned integer of each float type's size.
pub fn cuda_source() -> String {
    module_source(SHARED, |dt| {
        let t = match dt.size() {
            2 => "unsigned short",
            4 => "unsigned int",
            _ => "unsigned long long",
        };
        format!(
            "extern \"C\" __global__ void {}(const {t}* s, {t}* d, u64 n, Strided g, i64 so, \
             i64 dof) {{ ox_strided(s, d, n, g, so, dof); }}\n",
            kernel_name("strided_copy", dt)
        )
    })
}

#[repr(C)]
struct Strided {
    nd: i64,
    shape: [i64; MAX_DIMS],
    src: [i64; MAX_DIMS],
    dst: [i64; MAX_DIMS],
}

/// Drops unit dims and merges neighbours that are contiguous in both walks; the result
/// visits the same (source, destination) pairs in the same order.
fn merge(shape: &[usize], a: &[isize], b: &[isize]) -> Vec<(usize, isize, isize)> {
    let mut out: Vec<(usize, isize, isize)> = Vec::with_capacity(shape.len());
    for ((&n, &sa), &sb) in shape.iter().zip(a).zip(b) {
        if n == 1 {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.1 == sa * n as isize && last.2 == sb * n as isize => {
                *last = (last.0 * n, sa, sb);
            }
            _ => out.push((n, sa, sb)),
        }
    }
    out
}

/// Copies the points of `src_walk` into those of `dst_walk` on the device (the GPU twin of
/// `copy_walk`, with its checks); `Ok(false)` for walks of more than six merged dims.
pub fn copy_walk(
    dev: &Device,
    shape: &[usize],
    src: &NDArray,
    src_walk: &Walk,
    dst: &NDArray,
    dst_walk: &Walk,
) -> Result<bool> {
    check_walks(shape, src, src_walk, dst, dst_walk)?;
    let n: usize = shape.iter().product();
    if n == 0 {
        return Ok(true);
    }
    let dims = merge(shape, &src_walk.strides, &dst_walk.strides);
    if dims.len() > MAX_DIMS {
        return Ok(false);
    }
    let mut g = Strided {
        nd: dims.len() as i64,
        shape: [1; MAX_DIMS],
        src: [0; MAX_DIMS],
        dst: [0; MAX_DIMS],
    };
    for (k, &(len, a, b)) in dims.iter().enumerate() {
        g.shape[k] = len as i64;
        g.src[k] = a as i64;
        g.dst[k] = b as i64;
    }
    let name = match src.dtype().size() {
        1 => "strided_copy_1".to_string(),
        es => {
            let dt = FLOATS
                .iter()
                .copied()
                .find(|d| d.size() == es)
                .unwrap_or(DType::F64);
            kernel_name("strided_copy", dt)
        }
    };
    let f = dev.function(CUDA_MODULE, cuda_source, &name)?;
    let (s, d, count) = (dptr(src), dptr(dst), n as u64);
    let (so, dof) = (src_walk.offset as i64, dst_walk.offset as i64);
    let mut params = [
        param(&s),
        param(&d),
        param(&count),
        param(&g),
        param(&so),
        param(&dof),
    ];
    // SAFETY: matches the kernel's parameters (Strided mirrors the C struct); check_walks
    // kept every point of both walks inside its array.
    unsafe { launch(dev, f, n, &mut params)? };
    Ok(true)
}

/// Sets every byte of `a` to zero on the device's stream.
pub fn zero(dev: &Device, a: &NDArray) -> Result<()> {
    if a.nbytes() == 0 {
        return Ok(());
    }
    // SAFETY: `a` holds nbytes on this device.
    unsafe { cudarc::driver::result::memset_d8_async(dptr(a), 0, a.nbytes(), dev.stream) }
        .map_err(|e| super::device::drv("clearing gpu memory", e))
}

#[cfg(test)]
mod tests {
    use super::merge;

    #[test]
    fn merge_keeps_the_pairs_and_their_order() {
        // A contiguous 2x3x4 copy is one run of 24.
        assert_eq!(
            merge(&[2, 3, 4], &[12, 4, 1], &[12, 4, 1]),
            vec![(24, 1, 1)]
        );
        // A transpose of the last two axes merges nothing; unit dims vanish.
        assert_eq!(
            merge(&[2, 1, 4, 3], &[12, 12, 1, 4], &[12, 12, 3, 1]),
            vec![(2, 12, 12), (4, 1, 3), (3, 4, 1)]
        );
        // Broadcast (stride 0) rows merge with each other but not into the row.
        assert_eq!(
            merge(&[5, 6, 3], &[0, 0, 1], &[18, 3, 1]),
            vec![(30, 0, 3), (3, 1, 1)]
        );
        // Negative strides (flip) merge when contiguous backwards in both walks.
        assert_eq!(merge(&[3, 4], &[-4, -1], &[4, 1]), vec![(12, -1, 1)]);
        assert_eq!(
            merge(&[3, 4], &[-4, 1], &[4, 1]),
            vec![(3, -4, 4), (4, 1, 1)]
        );
    }
}
