//! Elementwise kernels for float16 and bfloat16: tiles of elements widened to f32, computed
//! there by the op's f32 function, and rounded once on the way back, which is how mshadow's
//! `half_t` and `bf16_t` compute. F16C converts eight f16 values per instruction; one value
//! at a time, the conversions cost ten times the arithmetic.

use super::elemwise::{self, broadcast_rows, map_slice};
use super::norm::Real;
use super::{par_ranges, Ptr};
use crate::dtype::{DType, Element};
use crate::ndarray::NDArray;
use half::{bf16, f16};

/// Elements per tile: the tiles of one segment stay in L1.
pub const TILE: usize = 512;

/// A half-precision element type, converted a slice at a time (`src` and `dst` have one
/// length).
pub trait Half: Element {
    fn widen(src: &[Self], dst: &mut [f32]);
    /// Rounds to nearest, ties to even.
    fn narrow(src: &[f32], dst: &mut [Self]);
}

impl Half for f16 {
    fn widen(src: &[f16], dst: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("f16c") {
            // SAFETY: just checked.
            return unsafe { x86::widen(src, dst) };
        }
        map_slice(src, dst, Element::to_f32)
    }

    fn narrow(src: &[f32], dst: &mut [f16]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("f16c") {
            // SAFETY: just checked.
            return unsafe { x86::narrow(src, dst) };
        }
        map_slice(src, dst, Element::from_f32)
    }
}

// bfloat16 is the top half of an f32: its conversions are shifts that vectorise as they are.
impl Half for bf16 {
    fn widen(src: &[bf16], dst: &mut [f32]) {
        map_slice(src, dst, Element::to_f32)
    }

    fn narrow(src: &[f32], dst: &mut [bf16]) {
        map_slice(src, dst, Element::from_f32)
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use crate::dtype::Element;
    use half::f16;
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU has F16C (and so AVX).
    #[target_feature(enable = "avx,f16c")]
    pub unsafe fn widen(src: &[f16], dst: &mut [f32]) {
        let n = src.len().min(dst.len());
        let mut i = 0;
        while i + 8 <= n {
            let h = _mm_loadu_si128(src.as_ptr().add(i).cast());
            _mm256_storeu_ps(dst.as_mut_ptr().add(i), _mm256_cvtph_ps(h));
            i += 8;
        }
        for j in i..n {
            dst[j] = Element::to_f32(src[j]);
        }
    }

    /// # Safety
    /// The CPU has F16C (and so AVX).
    #[target_feature(enable = "avx,f16c")]
    pub unsafe fn narrow(src: &[f32], dst: &mut [f16]) {
        let n = src.len().min(dst.len());
        let mut i = 0;
        while i + 8 <= n {
            let v = _mm256_loadu_ps(src.as_ptr().add(i));
            let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v);
            _mm_storeu_si128(dst.as_mut_ptr().add(i).cast(), h);
            i += 8;
        }
        for j in i..n {
            dst[j] = Element::from_f32(src[j]);
        }
    }
}

/// Widens `len` elements from `p` stepping by `step` (0: one value repeated) into `dst`.
///
/// # Safety
/// The elements read are valid.
#[inline(always)]
unsafe fn load<H: Half>(p: *const H, step: usize, dst: &mut [f32]) {
    match step {
        1 => H::widen(std::slice::from_raw_parts(p, dst.len()), dst),
        0 => dst.fill((*p).to_f32()),
        _ => dst
            .iter_mut()
            .enumerate()
            .for_each(|(j, d)| *d = (*p.add(j * step)).to_f32()),
    }
}

/// `o[j] = f(a[j * sa], b[j * sb])` for `j < len`, tile by tile.
///
/// # Safety
/// The ranges are valid; `o` is disjoint from both inputs or is exactly one of them (a tile
/// is read whole before it is written).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn zip_tiles<H: Half>(
    a: *const H,
    sa: usize,
    b: *const H,
    sb: usize,
    o: *mut H,
    len: usize,
    f: impl Fn(f32, f32) -> f32 + Copy,
) {
    let (mut wa, mut wb) = ([0f32; TILE], [0f32; TILE]);
    let mut k = 0;
    while k < len {
        let m = TILE.min(len - k);
        let (ta, tb) = (&mut wa[..m], &mut wb[..m]);
        load(a.add(k * sa), sa, ta);
        load(b.add(k * sb), sb, tb);
        ta.iter_mut()
            .zip(tb.iter())
            .for_each(|(x, &y)| *x = f(*x, y));
        H::narrow(ta, std::slice::from_raw_parts_mut(o.add(k), m));
        k += m;
    }
}

/// `out = f(a, b)` with numpy broadcasting of `a` and `b` to `out`'s shape, computed in f32.
/// Must run inside an engine op reading a, b and writing out.
pub fn binary<H: Half>(
    a: &NDArray,
    b: &NDArray,
    out: &NDArray,
    f: impl Fn(f32, f32) -> f32 + Sync + Send + Copy,
) {
    let n = out.size();
    if n == 0 {
        return;
    }
    // SAFETY: called from the op that holds these arrays' variables.
    let (pa, pb, po) = unsafe {
        (
            Ptr(a.raw() as *mut H),
            Ptr(b.raw() as *mut H),
            Ptr(out.raw() as *mut H),
        )
    };
    // Whole arrays, or one side a single value: contiguous ranges of out.
    let flat = |sa: usize, sb: usize| {
        par_ranges(n, 1, |s, e| {
            // SAFETY: s..e < n; an input with step 0 has its one element at offset 0.
            unsafe {
                let (xa, xb) = (pa.get().add(s * sa), pb.get().add(s * sb));
                zip_tiles(xa, sa, xb, sb, po.get().add(s), e - s, f)
            }
        })
    };
    let (sa, sb) = (a.shape() == out.shape(), b.shape() == out.shape());
    match (sa, sb, a.size() == 1, b.size() == 1) {
        (true, true, ..) => flat(1, 1),
        (true, false, _, true) => flat(1, 0),
        (false, true, true, _) => flat(0, 1),
        _ => broadcast_rows(a, b, out, |r| {
            // SAFETY: offsets stay inside each operand by construction of broadcast strides.
            unsafe {
                let (xa, xb) = (pa.get().add(r.a), pb.get().add(r.b));
                zip_tiles(xa, r.step_a, xb, r.step_b, po.get().add(r.out), r.len, f)
            }
        }),
    }
}

/// `out = f(a)` elementwise (same size), computed in f32 (through the AVX2 build of the map
/// where the CPU has one). Must run inside the op holding both variables.
pub fn unary<H: Half>(a: &NDArray, out: &NDArray, f: impl Fn(f32) -> f32 + Sync + Send + Copy) {
    let n = out.size().min(a.size());
    // SAFETY: called from the op that holds both arrays' variables.
    let (pa, po) = unsafe { (Ptr(a.raw() as *mut H), Ptr(out.raw() as *mut H)) };
    par_ranges(n, 1, |s, e| {
        let (mut wa, mut wo) = ([0f32; TILE], [0f32; TILE]);
        let mut k = s;
        while k < e {
            let m = TILE.min(e - k);
            // SAFETY: k..k + m < n; out is a or disjoint from it, and each tile is read
            // whole before it is written.
            unsafe {
                H::widen(std::slice::from_raw_parts(pa.get().add(k), m), &mut wa[..m]);
                map_slice(&wa[..m], &mut wo[..m], f);
                H::narrow(&wo[..m], std::slice::from_raw_parts_mut(po.get().add(k), m));
            }
            k += m;
        }
    });
}

/// `out = f(a)` for any float `T`, `f` computing in `C` (f32 for the half types, which take
/// `unary`'s tiles here; the others take `elemwise::unary`, through its AVX2 build when
/// `wide`). Must run inside the op holding both variables.
pub fn map_real<T: Element, C: Real>(
    a: &NDArray,
    out: &NDArray,
    wide: bool,
    f: impl Fn(C) -> C + Sync + Send + Copy,
) {
    // The wrappers are forced inline: a large `f` (exp and a logarithm) otherwise stays a
    // call per element and the loops do not vectorise.
    match T::DTYPE {
        DType::F16 => unary::<f16>(
            a,
            out,
            #[inline(always)]
            move |v| f(C::of(v)).to(),
        ),
        DType::BF16 => unary::<bf16>(
            a,
            out,
            #[inline(always)]
            move |v| f(C::of(v)).to(),
        ),
        _ if wide => elemwise::unary_wide::<T, T>(
            a,
            out,
            #[inline(always)]
            move |v| f(C::of(v)).to(),
        ),
        _ => elemwise::unary::<T, T>(
            a,
            out,
            #[inline(always)]
            move |v| f(C::of(v)).to(),
        ),
    }
}

/// `out = f(a, b)` for any float `T` with broadcasting, `f` computing in `C` as in
/// [`map_real`] (`wide` as there).
pub fn zip_real<T: Element, C: Real>(
    a: &NDArray,
    b: &NDArray,
    out: &NDArray,
    wide: bool,
    f: impl Fn(C, C) -> C + Sync + Send + Copy,
) {
    match T::DTYPE {
        DType::F16 => binary::<f16>(
            a,
            b,
            out,
            #[inline(always)]
            move |x, y| f(C::of(x), C::of(y)).to(),
        ),
        DType::BF16 => binary::<bf16>(
            a,
            b,
            out,
            #[inline(always)]
            move |x, y| f(C::of(x), C::of(y)).to(),
        ),
        _ if wide => elemwise::binary_wide::<T>(
            a,
            b,
            out,
            #[inline(always)]
            move |x, y| f(C::of(x), C::of(y)).to(),
        ),
        _ => elemwise::binary::<T>(
            a,
            b,
            out,
            #[inline(always)]
            move |x, y| f(C::of(x), C::of(y)).to(),
        ),
    }
}

/// Runs `f` on f32 copies of `ins` and on f32 buffers for `outs`, which are then rounded
/// into `outs` once: for ops whose f32 kernels beat converting one value at a time.
///
/// # Safety
/// Inside an op that reads `ins` and writes `outs`, all of dtype `H`.
pub unsafe fn through_f32<H: Half, R>(
    ins: &[&NDArray],
    outs: &[&NDArray],
    f: impl FnOnce(&[Vec<f32>], &mut [Vec<f32>]) -> R,
) -> R {
    let wide: Vec<Vec<f32>> = ins
        .iter()
        .map(|a| {
            let mut v = vec![0f32; a.size()];
            widen_into(a.data::<H>(), &mut v);
            v
        })
        .collect();
    let mut res: Vec<Vec<f32>> = outs.iter().map(|o| vec![0f32; o.size()]).collect();
    let r = f(&wide, &mut res);
    for (o, v) in outs.iter().zip(&res) {
        narrow_into(v, o.data_mut::<H>());
    }
    r
}

/// `dst = src` widened to f32, in parallel (over their common length).
pub fn widen_into<H: Half>(src: &[H], dst: &mut [f32]) {
    in_parallel(src, dst, H::widen)
}

/// `dst = src` rounded to `H`, in parallel (over their common length).
pub fn narrow_into<H: Half>(src: &[f32], dst: &mut [H]) {
    in_parallel(src, dst, H::narrow)
}

fn in_parallel<S: Sync, D: Copy>(src: &[S], dst: &mut [D], f: impl Fn(&[S], &mut [D]) + Sync) {
    let n = src.len().min(dst.len());
    let d = Ptr(dst.as_mut_ptr());
    par_ranges(n, 1, |b, e| {
        // SAFETY: b..e < n; the tasks' ranges are disjoint.
        let out = unsafe { std::slice::from_raw_parts_mut(d.get().add(b), e - b) };
        f(&src[b..e], out)
    });
}

#[cfg(test)]
mod tests {
    use super::Half;
    use crate::dtype::{DType, Element};
    use crate::op::test_util::{arr, run};
    use crate::shape::Shape;
    use half::{bf16, f16};

    type Zip = fn(f32, f32) -> f32;
    type Map = fn(f32) -> f32;
    type Attrs = &'static [(&'static str, &'static str)];

    /// Values spread over the type's range, with its special values and tails that fill
    /// neither a vector nor a tile.
    fn values<H: Half>(n: usize, seed: u32) -> Vec<H> {
        let special = [0.0, -0.0, 1.0, -2.5, 65504.0, -65504.0, 6e-8, -3e-6, 1e-40];
        let special = special
            .into_iter()
            .chain([f32::INFINITY, f32::NEG_INFINITY, f32::NAN]);
        let mut x = seed;
        let spread = (0..).map(move |_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((x >> 8) as f32 / (1 << 24) as f32 - 0.5) * 2f32.powi((x % 24) as i32 - 8)
        });
        special.chain(spread).take(n).map(H::from_f32).collect()
    }

    /// The reference: `half`'s own one-value conversions around the f32 operation.
    fn refer<H: Element>(x: H) -> f32 {
        x.to_f64() as f32
    }

    fn narrow_ref<H: Element>(v: f32) -> f32 {
        if H::DTYPE == DType::F16 {
            f16::from_f32(v).to_f32()
        } else {
            bf16::from_f32(v).to_f32()
        }
    }

    fn same_bits<H: Element>(got: &[H], want: &[f32], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let g = refer(*g);
            let ok = g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan());
            assert!(ok, "{what} [{i}]: {g:e}, want {w:e}");
        }
    }

    fn binary_matches<H: Half>(dtype: &str) {
        // (a's shape, b's shape): whole arrays over several threads, one side a single value,
        // and broadcasting with steps 0, 1 and n along the inner axis.
        let cases: [(&[usize], &[usize]); 6] = [
            (&[70_001], &[70_001]),
            (&[1030], &[1]),
            (&[1], &[3, 517]),
            (&[3, 1, 7], &[1, 5, 7]),
            (&[4, 9], &[4, 1]),
            (&[2, 3, 1], &[2, 3, 600]),
        ];
        let ops: [(&str, Zip); 5] = [
            ("broadcast_add", |x, y| x + y),
            ("broadcast_mul", |x, y| x * y),
            ("broadcast_div", |x, y| x / y),
            (
                "broadcast_maximum",
                |x, y| if x > y || x.is_nan() { x } else { y },
            ),
            ("broadcast_greater", |x, y| f32::from(u8::from(x > y))),
        ];
        for (sa, sb) in cases {
            let (na, nb) = (sa.iter().product(), sb.iter().product());
            let (va, vb) = (values::<H>(na, 1), values::<H>(nb, 2));
            let (a, b) = (arr(sa, &va), arr(sb, &vb));
            for (name, f) in ops {
                let out = run(name, &[a.clone(), b.clone()], &[]);
                let shape = out.shape().clone();
                let (ea, eb) = (Shape::new(sa.to_vec()), Shape::new(sb.to_vec()));
                let sta = crate::shape::broadcast_strides(&ea, &shape);
                let stb = crate::shape::broadcast_strides(&eb, &shape);
                let want: Vec<f32> = (0..shape.size())
                    .map(|i| {
                        let idx = crate::op::test_util::unravel(i, shape.dims());
                        let oa: usize = idx.iter().zip(&sta).map(|(i, s)| i * s).sum();
                        let ob: usize = idx.iter().zip(&stb).map(|(i, s)| i * s).sum();
                        narrow_ref::<H>(f(refer(va[oa]), refer(vb[ob])))
                    })
                    .collect();
                let got = out.to_vec::<H>().expect("read");
                same_bits(&got, &want, &format!("{dtype} {name} {sa:?} {sb:?}"));
            }
        }
    }

    fn unary_matches<H: Half>(dtype: &str) {
        let v = values::<H>(70_003, 3);
        let a = arr(&[v.len()], &v);
        let ops: [(&str, Attrs, Map); 4] = [
            ("sqrt", &[], f32::sqrt),
            ("relu", &[], |x| if x > 0.0 || x.is_nan() { x } else { 0.0 }),
            ("_plus_scalar", &[("scalar", "0.1")], |x| {
                x + narrow_ref::<H>(0.1)
            }),
            ("_rdiv_scalar", &[("scalar", "3")], |x| 3.0 / x),
        ];
        for (name, attrs, f) in ops {
            let got = run(name, std::slice::from_ref(&a), attrs)
                .to_vec::<H>()
                .expect("read");
            let want: Vec<f32> = v.iter().map(|&x| narrow_ref::<H>(f(refer(x)))).collect();
            same_bits(&got, &want, &format!("{dtype} {name}"));
        }
    }

    fn casts_match<H: Half>(dtype: &str) {
        let v = values::<H>(70_005, 4);
        let wide = run("Cast", &[arr(&[v.len()], &v)], &[("dtype", "float32")]);
        let want: Vec<f32> = v.iter().map(|&x| refer(x)).collect();
        same_bits(&wide.to_vec::<f32>().expect("read"), &want, dtype);
        // Every f32 step near the type's rounding boundaries, and far outside its range.
        let f: Vec<f32> = (0..70_007u32)
            .map(|i| f32::from_bits(i.wrapping_mul(61_343).wrapping_add(0x3380_0000 + i % 7)))
            .collect();
        let back = run("Cast", &[arr(&[f.len()], &f)], &[("dtype", dtype)]);
        let want: Vec<f32> = f.iter().map(|&x| narrow_ref::<H>(x)).collect();
        same_bits(&back.to_vec::<H>().expect("read"), &want, dtype);
    }

    #[test]
    fn float16_kernels_round_like_one_value_at_a_time() {
        binary_matches::<f16>("float16");
        unary_matches::<f16>("float16");
        casts_match::<f16>("float16");
    }

    #[test]
    fn bfloat16_kernels_round_like_one_value_at_a_time() {
        binary_matches::<bf16>("bfloat16");
        unary_matches::<bf16>("bfloat16");
        casts_match::<bf16>("bfloat16");
    }
}
