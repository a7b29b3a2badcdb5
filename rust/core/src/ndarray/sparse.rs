//! Storage types of MXNet's sparse arrays, as far as oxnet has them.
//!
//! oxnet keeps every array dense; a `row_sparse` or `csr` array is a dense array whose
//! sparse structure is derived from its values when it is needed (printing its components,
//! saving it). The one place this matters here is the file format: `mx.nd.save` of a sparse
//! array writes MXNet's sparse record (stype 1 or 2, storage shape, aux arrays), which MXNet
//! 1.9.1 loads as the same sparse array. Structure derived from values stores only nonzero
//! entries (rows), so an explicit zero that an MXNet array happened to store is not written.

use super::NDArray;
use crate::dtype::DType;
use crate::error::{Error, Result};

/// MXNet's `NDArrayStorageType` (the codes are the file format's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageType {
    Default = 0,
    RowSparse = 1,
    Csr = 2,
}

impl StorageType {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(code: i32) -> Option<StorageType> {
        match code {
            -1 | 0 => Some(StorageType::Default),
            1 => Some(StorageType::RowSparse),
            2 => Some(StorageType::Csr),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StorageType::Default => "default",
            StorageType::RowSparse => "row_sparse",
            StorageType::Csr => "csr",
        }
    }
}

/// Whether element `e` (little-endian bytes of `dtype`) is nonzero as MXNet's cast_storage
/// tests it (`v != 0`): -0.0 is zero, NaN is not.
fn nonzero(e: &[u8], dtype: DType) -> bool {
    match dtype {
        DType::F32 => f32::from_le_bytes([e[0], e[1], e[2], e[3]]) != 0.0,
        DType::F64 => f64::from_le_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]) != 0.0,
        // Every bit pattern but +-0 is nonzero (NaN included).
        DType::F16 | DType::BF16 => u16::from_le_bytes([e[0], e[1]]) & 0x7fff != 0,
        _ => e.iter().any(|&b| b != 0),
    }
}

/// The sparse components of a dense host buffer: stored values (bytes), their storage shape,
/// and the aux arrays in MXNet's order (row_sparse: row indices; csr: indptr, indices).
pub struct SparseParts {
    pub storage_shape: Vec<usize>,
    pub data: Vec<u8>,
    pub aux: Vec<Vec<i64>>,
}

/// Derives the `stype` components of `a` from its values.
pub fn sparse_parts(a: &NDArray, stype: StorageType) -> Result<SparseParts> {
    let dims = a.shape().dims().to_vec();
    let es = a.dtype().size();
    let dtype = a.dtype();
    a.with_bytes(|bytes| match stype {
        StorageType::Default => Err(Error::Value(
            "internal: sparse_parts of a default-storage array".into(),
        )),
        StorageType::RowSparse => {
            if dims.is_empty() {
                return Err(Error::Value(
                    "save: a row_sparse array needs at least 1 dimension, got shape ()".into(),
                ));
            }
            let row_elems: usize = dims[1..].iter().product();
            let row_bytes = row_elems * es;
            let mut rows = Vec::new();
            let mut data = Vec::new();
            if row_bytes > 0 {
                for (r, row) in bytes.chunks_exact(row_bytes).enumerate() {
                    if row.chunks_exact(es).any(|e| nonzero(e, dtype)) {
                        rows.push(r as i64);
                        data.extend_from_slice(row);
                    }
                }
            }
            let mut storage_shape = dims.clone();
            storage_shape[0] = rows.len();
            Ok(SparseParts {
                storage_shape,
                data,
                aux: vec![rows],
            })
        }
        StorageType::Csr => {
            if dims.len() != 2 {
                return Err(Error::Value(format!(
                    "save: a csr array must be 2-D, got shape {}",
                    a.shape()
                )));
            }
            let ncols = dims[1];
            let mut indptr = Vec::with_capacity(dims[0] + 1);
            let mut indices = Vec::new();
            let mut data = Vec::new();
            indptr.push(0i64);
            for r in 0..dims[0] {
                let row = &bytes[r * ncols * es..(r + 1) * ncols * es];
                for (c, e) in row.chunks_exact(es).enumerate() {
                    if nonzero(e, dtype) {
                        indices.push(c as i64);
                        data.extend_from_slice(e);
                    }
                }
                indptr.push(indices.len() as i64);
            }
            Ok(SparseParts {
                storage_shape: vec![indices.len()],
                data,
                aux: vec![indptr, indices],
            })
        }
    })?
}

fn put_shape(h: &mut Vec<u8>, dims: &[usize]) -> Result<()> {
    let ndim = i32::try_from(dims.len())
        .map_err(|_| Error::Value(format!("save: too many dimensions ({})", dims.len())))?;
    h.extend_from_slice(&ndim.to_le_bytes());
    for &d in dims {
        let d = i64::try_from(d)
            .map_err(|_| Error::Value(format!("save: dimension {d} does not fit the format")))?;
        h.extend_from_slice(&d.to_le_bytes());
    }
    Ok(())
}

/// A whole V2 sparse record of `a` as MXNet 1.9.1 writes it: magic, stype, storage shape,
/// shape, context, dtype, aux types and shapes, values, aux values (int64 aux, as MXNet's
/// Python front end always creates them).
pub fn sparse_record(a: &NDArray, stype: StorageType, magic: u32) -> Result<Vec<u8>> {
    let parts = sparse_parts(a, stype)?;
    let aux_bytes: usize = parts.aux.iter().map(|v| v.len() * 8).sum();
    let mut h = Vec::with_capacity(64 + parts.data.len() + aux_bytes);
    h.extend_from_slice(&magic.to_le_bytes());
    h.extend_from_slice(&stype.code().to_le_bytes());
    put_shape(&mut h, &parts.storage_shape)?;
    put_shape(&mut h, a.shape().dims())?;
    let ctx = a.ctx();
    h.extend_from_slice(&ctx.dev_type.code().to_le_bytes());
    h.extend_from_slice(&ctx.dev_id.to_le_bytes());
    h.extend_from_slice(&a.dtype().flag().to_le_bytes());
    for aux in &parts.aux {
        h.extend_from_slice(&DType::I64.flag().to_le_bytes());
        put_shape(&mut h, &[aux.len()])?;
    }
    h.extend_from_slice(&parts.data);
    for aux in &parts.aux {
        for v in aux {
            h.extend_from_slice(&v.to_le_bytes());
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Context;
    use crate::shape::Shape;

    fn f32s(shape: &[usize], v: &[f32]) -> NDArray {
        NDArray::from_vec(Shape::new(shape.to_vec()), v, Context::cpu(0)).unwrap()
    }

    #[test]
    fn parts_follow_values() {
        let a = f32s(&[3, 3], &[1., 0., 2., 0., -0., 0., 0., 3., f32::NAN]);
        let p = sparse_parts(&a, StorageType::Csr).unwrap();
        assert_eq!(p.aux, vec![vec![0, 2, 2, 4], vec![0, 2, 1, 2]]);
        assert_eq!(p.storage_shape, vec![4]);
        let p = sparse_parts(&a, StorageType::RowSparse).unwrap();
        assert_eq!(p.aux, vec![vec![0, 2]]);
        assert_eq!(p.storage_shape, vec![2, 3]);
        let three_d = f32s(&[1, 1, 2], &[0., 1.]);
        assert!(sparse_parts(&three_d, StorageType::Csr).is_err());
        assert_eq!(
            StorageType::from_code(2).map(StorageType::name),
            Some("csr")
        );
        assert_eq!(StorageType::from_code(3), None);
    }
}
