//! Reading NDArray list files of every version MXNet wrote, validating every length first.

use super::{
    densify_limit, io_error, LIST_MAGIC, MAX_NDIM, MIN_RECORD_BYTES, V1_MAGIC, V2_MAGIC, V3_MAGIC,
};
use crate::context::{Context, DeviceType};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ndarray::sparse::StorageType;
use crate::ndarray::NDArray;
use crate::runtime::rt;
use crate::shape::Shape;
use crate::storage::cpu::CpuBuffer;
use rayon::prelude::*;
use std::path::Path;

/// Reads a whole `.params` file; see [`load_from_bytes`].
///
/// The file is read into a pooled buffer: a fresh allocation the size of the file costs more in
/// page faults than the read itself, and checkpoints are loaded again and again.
pub fn load_from_file(path: impl AsRef<Path>) -> Result<(Vec<NDArray>, Option<Vec<String>>)> {
    load_from_file_typed(path).map(|l| (l.arrays, l.names))
}

/// What a file holds: the arrays (sparse ones densified), each record's storage type, and
/// the names when it was saved as a dict.
pub struct Loaded {
    pub arrays: Vec<NDArray>,
    pub stypes: Vec<StorageType>,
    pub names: Option<Vec<String>>,
}

/// [`load_from_file`] that also reports each record's storage type.
pub fn load_from_file_typed(path: impl AsRef<Path>) -> Result<Loaded> {
    let path = path.as_ref();
    let shown = || path.display().to_string();
    let mut file = std::fs::File::open(path).map_err(|e| io_error(&shown(), &e))?;
    let meta = file.metadata().map_err(|e| io_error(&shown(), &e))?;
    if !meta.is_file() || meta.len() == 0 {
        // A pipe, a device or a /proc file has no length to size the buffer by: it is read to
        // the end, but only once its header is a list file's (`/dev/zero` never ends).
        use std::io::Read;
        let mut buf = Vec::new();
        let read_err = |e: std::io::Error| io_error(&shown(), &e);
        (&mut file)
            .take(24)
            .read_to_end(&mut buf)
            .map_err(read_err)?;
        if buf.len() == 24 && buf[..8] == LIST_MAGIC.to_le_bytes() {
            file.read_to_end(&mut buf).map_err(read_err)?;
        }
        return load_from_bytes_typed(&buf);
    }
    let len = meta.len();
    let len = usize::try_from(len).map_err(|_| Error::Io {
        path: shown(),
        msg: format!("a file of {len} bytes does not fit in memory"),
    })?;
    let staging = CpuBuffer::alloc(len)?;
    // SAFETY: the buffer is owned here and `len` bytes long; `read_exact` only writes to it.
    let buf = unsafe { std::slice::from_raw_parts_mut(staging.as_ptr(), len) };
    std::io::Read::read_exact(&mut file, buf).map_err(|e| io_error(&shown(), &e))?;
    load_from_bytes_typed(buf)
}

/// Parses an NDArray list file: the arrays, and the names when it was saved as a dict
/// (`None` for a list, including an empty dict, which MXNet saves as an empty list).
pub fn load_from_bytes(buf: &[u8]) -> Result<(Vec<NDArray>, Option<Vec<String>>)> {
    load_from_bytes_typed(buf).map(|l| (l.arrays, l.names))
}

/// [`load_from_bytes`] that also reports each record's storage type.
pub fn load_from_bytes_typed(buf: &[u8]) -> Result<Loaded> {
    // Validate the whole file first, so a corrupt one fails before any array is allocated.
    let (records, names) = parse(buf)?;
    // Records are independent copies out of `buf`: both cores share the memory traffic.
    let arrays = rt().pool.install(|| {
        records
            .par_iter()
            .map(Record::materialize)
            .collect::<Result<Vec<_>>>()
    })?;
    let stypes = records.iter().map(Record::stype).collect();
    Ok(Loaded {
        arrays,
        stypes,
        names,
    })
}

/// An array record, validated, pointing into the input buffer.
enum Record<'a> {
    /// MXNet's storage-less array.
    None,
    Dense {
        shape: Shape,
        dtype: DType,
        data: &'a [u8],
    },
    /// `data` holds `rows.len()` rows of `shape[1..]`; `rows` are the row indices.
    RowSparse {
        shape: Shape,
        dtype: DType,
        data: &'a [u8],
        rows: Ints<'a>,
    },
    /// Compressed sparse rows of a 2-d `shape`; `data` and `indices` have one entry per
    /// stored value; `indptr` is empty (an all-zero matrix) or has `shape[0] + 1` entries.
    Csr {
        shape: Shape,
        dtype: DType,
        data: &'a [u8],
        indptr: Ints<'a>,
        indices: Ints<'a>,
    },
}

/// A little-endian integer array inside the file, in one of the index dtypes.
#[derive(Clone, Copy)]
struct Ints<'a> {
    bytes: &'a [u8],
    dtype: DType,
}

impl<'a> Ints<'a> {
    fn iter(self) -> impl Iterator<Item = i64> + 'a {
        let dtype = self.dtype;
        // `chunks_exact` hands out chunks of exactly the element size, so the indexing in
        // `decode_int` cannot go out of bounds.
        self.bytes
            .chunks_exact(dtype.size())
            .map(move |c| decode_int(c, dtype))
    }
}

fn decode_int(c: &[u8], dtype: DType) -> i64 {
    match dtype {
        DType::I8 => c[0] as i8 as i64,
        DType::I32 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
        DType::I64 => i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
        // Only integer dtypes are ever stored in `Ints`; U8 and Bool are one byte.
        _ => c[0] as i64,
    }
}

impl Record<'_> {
    fn stype(&self) -> StorageType {
        match self {
            Record::None | Record::Dense { .. } => StorageType::Default,
            Record::RowSparse { .. } => StorageType::RowSparse,
            Record::Csr { .. } => StorageType::Csr,
        }
    }

    fn materialize(&self) -> Result<NDArray> {
        let cpu = Context::cpu(0);
        match self {
            Record::None => NDArray::from_bytes(Shape::new(vec![0]), DType::F32, cpu, &[]),
            Record::Dense { shape, dtype, data } => {
                NDArray::from_bytes(shape.clone(), *dtype, cpu, data)
            }
            Record::RowSparse {
                shape,
                dtype,
                data,
                rows,
            } => {
                let a = NDArray::empty(shape.clone(), *dtype, cpu)?;
                // SAFETY: `a` is fresh: no op and no other handle can touch its memory yet.
                let dense = unsafe { std::slice::from_raw_parts_mut(a.raw(), a.nbytes()) };
                dense.fill(0);
                let row_bytes = shape.dims()[1..].iter().product::<usize>() * dtype.size();
                if row_bytes > 0 {
                    // Rows were checked to lie in 0..shape[0] while parsing.
                    for (r, src) in rows.iter().zip(data.chunks_exact(row_bytes)) {
                        let at = r as usize * row_bytes;
                        dense[at..at + row_bytes].copy_from_slice(src);
                    }
                }
                Ok(a)
            }
            Record::Csr {
                shape,
                dtype,
                data,
                indptr,
                indices,
            } => {
                let a = NDArray::empty(shape.clone(), *dtype, cpu)?;
                // SAFETY: as above, `a` is fresh.
                let dense = unsafe { std::slice::from_raw_parts_mut(a.raw(), a.nbytes()) };
                dense.fill(0);
                let es = dtype.size();
                let ncols = shape.dims()[1];
                let mut values = data.chunks_exact(es).zip(indices.iter());
                let mut ptrs = indptr.iter();
                // indptr was checked to start at 0, never decrease and end at most at the
                // number of stored values, and every column index it uses to be below ncols.
                if let Some(mut begin) = ptrs.next() {
                    for (row, end) in ptrs.enumerate() {
                        for (src, col) in values.by_ref().take((end - begin) as usize) {
                            let at = (row * ncols + col as usize) * es;
                            dense[at..at + es].copy_from_slice(src);
                        }
                        begin = end;
                    }
                }
                Ok(a)
            }
        }
    }
}

/// Cursor over the input with bounds-checked reads. `item` names the array being parsed,
/// for messages.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    item: Option<usize>,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn err(&self, at: usize, msg: impl std::fmt::Display) -> Error {
        match self.item {
            Some(i) => Error::Format(format!("array {i}: {msg} at offset {at}")),
            None => Error::Format(format!("{msg} at offset {at}")),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.err(
                self.pos,
                format_args!(
                    "file ends inside {what} (needs {n} bytes, {} remain)",
                    self.remaining()
                ),
            ));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn i32(&mut self, what: &str) -> Result<i32> {
        self.array(what).map(i32::from_le_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn i64(&mut self, what: &str) -> Result<i64> {
        self.array(what).map(i64::from_le_bytes)
    }

    fn peek_i32(&self, ahead: usize) -> Option<i32> {
        let at = self.pos.checked_add(ahead)?;
        let b = self.buf.get(at..at.checked_add(4)?)?;
        Some(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// A shape as stored; `Unknown` is np-shape's "ndim -1 or some dim -1" (a none array).
enum RawShape {
    Known(Vec<usize>),
    Unknown,
}

#[derive(Clone, Copy, PartialEq)]
enum ShapeCoding {
    /// i32 ndim, i64 dims; -1 means unknown (V3, np-shape semantics).
    NpShape,
    /// i32 ndim, i64 dims (V1, V2).
    Int64,
}

fn read_shape(r: &mut Reader, coding: ShapeCoding, what: &str) -> Result<RawShape> {
    let at = r.pos;
    let ndim = r.i32(what)?;
    if ndim == -1 && coding == ShapeCoding::NpShape {
        return Ok(RawShape::Unknown);
    }
    if ndim < 0 {
        return Err(r.err(at, format_args!("{what} has negative ndim {ndim}")));
    }
    read_dims(r, ndim as usize, coding, what, at)
}

fn read_dims(
    r: &mut Reader,
    ndim: usize,
    coding: ShapeCoding,
    what: &str,
    at: usize,
) -> Result<RawShape> {
    if ndim > MAX_NDIM {
        return Err(r.err(
            at,
            format_args!("{what} claims {ndim} dimensions (at most {MAX_NDIM})"),
        ));
    }
    let mut dims = Vec::with_capacity(ndim);
    let mut unknown = false;
    for _ in 0..ndim {
        let dat = r.pos;
        let d = r.i64(what)?;
        if d == -1 && coding == ShapeCoding::NpShape {
            unknown = true;
            continue;
        }
        let d = usize::try_from(d)
            .map_err(|_| r.err(dat, format_args!("{what} has invalid dimension {d}")))?;
        dims.push(d);
    }
    Ok(if unknown {
        RawShape::Unknown
    } else {
        RawShape::Known(dims)
    })
}

/// Element count of `dims` (0 when any dim is 0), or `None` when the non-zero dims times
/// `elem_size` overflow: such a shape could not be allocated or even indexed safely.
fn element_count(dims: &[usize], elem_size: usize) -> Option<usize> {
    let mut nonzero = 1usize;
    let mut zero = false;
    for &d in dims {
        if d == 0 {
            zero = true;
        } else {
            nonzero = nonzero.checked_mul(d)?;
        }
    }
    let bytes = nonzero.checked_mul(elem_size.max(1))?;
    if bytes > isize::MAX as usize {
        return None;
    }
    Some(if zero { 0 } else { nonzero })
}

fn dtype_of(r: &Reader, at: usize, flag: i32, what: &str) -> Result<DType> {
    DType::from_flag(flag).ok_or_else(|| {
        let name = match flag {
            8 => Some("int16"),
            9 => Some("uint16"),
            10 => Some("uint32"),
            11 => Some("uint64"),
            _ => None,
        };
        match name {
            Some(n) => r.err(
                at,
                format_args!("{what} flag {flag} ({n}) is not supported by oxnet"),
            ),
            None => r.err(at, format_args!("unknown {what} flag {flag}")),
        }
    })
}

fn read_ctx(r: &mut Reader) -> Result<()> {
    let at = r.pos;
    let dev_type = r.i32("the context")?;
    let _dev_id = r.i32("the context")?;
    // MXNet puts every array on cpu(0) when there is no GPU; the type is still checked
    // because an unknown one means the record is corrupt.
    if DeviceType::from_code(dev_type).is_none() {
        return Err(r.err(at, format_args!("unknown device type {dev_type}")));
    }
    Ok(())
}

fn read_dtype(r: &mut Reader, what: &str) -> Result<DType> {
    let at = r.pos;
    let flag = r.i32(what)?;
    dtype_of(r, at, flag, what)
}

fn take_data<'a>(r: &mut Reader<'a>, dims: &[usize], dtype: DType, what: &str) -> Result<&'a [u8]> {
    let at = r.pos;
    let count = element_count(dims, dtype.size()).ok_or_else(|| {
        r.err(
            at,
            format_args!("{what} shape {} is too large", Shape::new(dims.to_vec())),
        )
    })?;
    let bytes = count * dtype.size();
    if bytes > r.remaining() {
        let i = r.item.unwrap_or(0);
        return Err(Error::Format(format!(
            "array {i} claims {bytes} bytes of {what} at offset {at} but only {} remain",
            r.remaining()
        )));
    }
    r.take(bytes, what)
}

/// Dense body after the shape: context, dtype, data (V1, V2, V3 and pre-V1 alike).
fn dense_body<'a>(r: &mut Reader<'a>, dims: Vec<usize>) -> Result<Record<'a>> {
    read_ctx(r)?;
    let dtype = read_dtype(r, "dtype")?;
    let data = take_data(r, &dims, dtype, "data")?;
    Ok(Record::Dense {
        shape: Shape::new(dims),
        dtype,
        data,
    })
}

fn parse(buf: &[u8]) -> Result<(Vec<Record<'_>>, Option<Vec<String>>)> {
    let mut r = Reader {
        buf,
        pos: 0,
        item: None,
    };
    if buf.len() < 24 {
        return Err(Error::Format(format!(
            "the file is {} bytes, shorter than the 24-byte header",
            buf.len()
        )));
    }
    let magic = r.u64("the header")?;
    if magic != LIST_MAGIC {
        return Err(r.err(
            0,
            format_args!("bad header magic {magic:#x} (expected 0x112)"),
        ));
    }
    let _reserved = r.u64("the header")?;
    let at = r.pos;
    let n = r.u64("the array count")?;
    if n > (r.remaining() / MIN_RECORD_BYTES) as u64 {
        return Err(r.err(
            at,
            format_args!("{n} arrays claimed but only {} bytes remain", r.remaining()),
        ));
    }
    let n = n as usize;
    let limit = densify_limit(buf.len());
    // Grown as records parse, not reserved from the claimed count.
    let mut records = Vec::new();
    let mut names = None;
    for i in 0..n {
        r.item = Some(i);
        let (rec, pre_parsed) = parse_record(&mut r, n, i + 1 == n, limit)?;
        records.push(rec);
        if pre_parsed.is_some() {
            names = pre_parsed;
        }
    }
    r.item = None;
    let names = match names {
        Some(names) => names,
        None => parse_names(&mut r, n)?,
    };
    Ok((records, names))
}

/// Names section up to the end of the file: `None` for a list.
fn parse_names(r: &mut Reader, n_arrays: usize) -> Result<Option<Vec<String>>> {
    let at = r.pos;
    let n = r.u64("the name count")?;
    if n == 0 {
        if r.remaining() > 0 {
            return Err(r.err(
                r.pos,
                format_args!("{} unexpected bytes after the last array", r.remaining()),
            ));
        }
        return Ok(None);
    }
    if n != n_arrays as u64 {
        return Err(r.err(
            at,
            format_args!("{n} names for {n_arrays} arrays (must be 0 or one per array)"),
        ));
    }
    // n_arrays was already bounded by the input size, and each name takes >= 8 bytes.
    if n > (r.remaining() / 8) as u64 {
        return Err(r.err(
            at,
            format_args!("{n} names claimed but only {} bytes remain", r.remaining()),
        ));
    }
    let mut names = Vec::with_capacity(n as usize);
    for i in 0..n {
        let at = r.pos;
        let len = r.u64("a name length")?;
        if len > r.remaining() as u64 {
            return Err(r.err(
                at,
                format_args!(
                    "name {i} claims {len} bytes but only {} remain",
                    r.remaining()
                ),
            ));
        }
        let bytes_at = r.pos;
        let bytes = r.take(len as usize, "a name")?;
        let s = std::str::from_utf8(bytes)
            .map_err(|_| r.err(bytes_at, format_args!("name {i} is not valid UTF-8")))?;
        names.push(s.to_string());
    }
    if r.remaining() > 0 {
        return Err(r.err(
            r.pos,
            format_args!("{} unexpected bytes after the names", r.remaining()),
        ));
    }
    Ok(Some(names))
}

/// Parses one record. For the last one it may also parse the names section (returned
/// second) when that was needed to tell a legacy 0-d array from a "none" record.
fn parse_record<'a>(
    r: &mut Reader<'a>,
    n_arrays: usize,
    last: bool,
    limit: usize,
) -> Result<(Record<'a>, Option<Option<Vec<String>>>)> {
    let at = r.pos;
    let magic = r.u32("the record magic")?;
    match magic {
        V2_MAGIC | V3_MAGIC => parse_v2_v3(r, magic == V3_MAGIC, n_arrays, last, limit),
        V1_MAGIC => {
            let shape = read_shape(r, ShapeCoding::Int64, "shape")?;
            match shape {
                RawShape::Known(dims) if dims.is_empty() => Ok((Record::None, None)),
                RawShape::Known(dims) => Ok((dense_body(r, dims)?, None)),
                RawShape::Unknown => Ok((Record::None, None)),
            }
        }
        ndim => {
            // Pre-V1 records have no magic: the first u32 is ndim, followed by u32 dims.
            if ndim as usize > MAX_NDIM {
                return Err(r.err(
                    at,
                    format_args!(
                        "unknown record magic {ndim:#010x} (not V1/V2/V3, and too large for \
                         a pre-V1 ndim)"
                    ),
                ));
            }
            if ndim == 0 {
                return Ok((Record::None, None));
            }
            let mut dims = Vec::with_capacity(ndim as usize);
            for _ in 0..ndim {
                dims.push(r.u32("shape")? as usize);
            }
            Ok((dense_body(r, dims)?, None))
        }
    }
}

fn parse_v2_v3<'a>(
    r: &mut Reader<'a>,
    v3: bool,
    n_arrays: usize,
    last: bool,
    limit: usize,
) -> Result<(Record<'a>, Option<Option<Vec<String>>>)> {
    let coding = if v3 {
        ShapeCoding::NpShape
    } else {
        ShapeCoding::Int64
    };
    let at = r.pos;
    let stype = r.i32("the storage type")?;
    // MXNet reads -1 (undefined) like dense.
    let n_aux = match stype {
        -1 | 0 => 0,
        1 => 1,
        2 => 2,
        _ => return Err(r.err(at, format_args!("unknown storage type {stype}"))),
    };
    let storage_shape = if n_aux > 0 {
        Some(read_shape(r, coding, "storage shape")?)
    } else {
        None
    };
    let dims = match read_shape(r, coding, "shape")? {
        RawShape::Unknown => return Ok((Record::None, None)),
        RawShape::Known(dims) => dims,
    };
    let Some(storage_shape) = storage_shape else {
        if dims.is_empty() && !v3 {
            return legacy_zero_dim(r, n_arrays, last);
        }
        return Ok((dense_body(r, dims)?, None));
    };
    if dims.is_empty() {
        // A sparse array has no 0-d form: ndim 0 is MXNet's "none".
        return Ok((Record::None, None));
    }
    let storage = match storage_shape {
        RawShape::Known(s) => s,
        RawShape::Unknown => {
            return Err(r.err(at, "sparse record has an unknown storage shape"));
        }
    };
    Ok((sparse_body(r, stype, storage, dims, limit)?, None))
}

/// A V2 record with ndim 0 is either MXNet's "none" (the record ends here) or a legacy 0-d
/// array that MXNet wrote with its context, dtype and one element (MXNet itself cannot read
/// the latter back). The bytes that follow decide: a "none" is followed by the next record's
/// magic or by the name count, which almost never read as a valid context and dtype.
fn legacy_zero_dim<'a>(
    r: &mut Reader<'a>,
    n_arrays: usize,
    last: bool,
) -> Result<(Record<'a>, Option<Option<Vec<String>>>)> {
    let plausible = match (r.peek_i32(0), r.peek_i32(4), r.peek_i32(8)) {
        (Some(dev_type), Some(dev_id), Some(flag)) => {
            DeviceType::from_code(dev_type).is_some()
                && dev_id >= 0
                && DType::from_flag(flag).is_some_and(|d| r.remaining() >= 12 + d.size())
        }
        _ => false,
    };
    if !plausible {
        return Ok((Record::None, None));
    }
    if !last {
        // After a "none", the next record would have to be a pre-V1 record with ndim 1, 2,
        // 3 or 5 inside a V2 file; no MXNet writer mixes versions like that.
        return Ok((dense_body(r, Vec::new())?, None));
    }
    // Last record: a small dict's name count could pass for a context, so take whichever
    // reading leaves a well-formed names section ending exactly at the end of the file.
    let mut scalar = Reader {
        buf: r.buf,
        pos: r.pos,
        item: r.item,
    };
    if let Ok(rec) = dense_body(&mut scalar, Vec::new()) {
        scalar.item = None;
        if let Ok(names) = parse_names(&mut scalar, n_arrays) {
            r.pos = scalar.pos;
            return Ok((rec, Some(names)));
        }
    }
    let mut none = Reader {
        buf: r.buf,
        pos: r.pos,
        item: None,
    };
    if let Ok(names) = parse_names(&mut none, n_arrays) {
        r.pos = none.pos;
        return Ok((Record::None, Some(names)));
    }
    // Neither fits: report the error of the scalar reading, the one MXNet's writer produces.
    Ok((dense_body(r, Vec::new())?, None))
}

/// Sparse body after the shape: context, dtype, aux types and shapes, data, aux data.
fn sparse_body<'a>(
    r: &mut Reader<'a>,
    stype: i32,
    storage: Vec<usize>,
    dims: Vec<usize>,
    limit: usize,
) -> Result<Record<'a>> {
    let rec_at = r.pos;
    read_ctx(r)?;
    let dtype = read_dtype(r, "dtype")?;
    let n_aux = if stype == 1 { 1 } else { 2 };
    let mut aux = [(DType::I64, 0usize); 2];
    for slot in aux.iter_mut().take(n_aux) {
        let at = r.pos;
        let t = read_dtype(r, "aux dtype")?;
        if !matches!(t, DType::U8 | DType::I8 | DType::I32 | DType::I64) {
            return Err(r.err(
                at,
                format_args!("sparse index dtype {t} is not an integer type"),
            ));
        }
        let shape_at = r.pos;
        let len = match read_shape(r, ShapeCoding::Int64, "aux shape")? {
            RawShape::Known(d) if d.len() == 1 => d[0],
            _ => return Err(r.err(shape_at, "sparse index array is not 1-d")),
        };
        *slot = (t, len);
    }
    let data = take_data(r, &storage, dtype, "sparse values")?;
    let stored = data.len() / dtype.size();
    let mut ints = [Ints {
        bytes: &[],
        dtype: DType::I64,
    }; 2];
    for (slot, &(t, len)) in ints.iter_mut().zip(aux.iter()).take(n_aux) {
        *slot = Ints {
            bytes: take_data(r, &[len], t, "sparse indices")?,
            dtype: t,
        };
    }
    let shape = Shape::new(dims);
    let fits = element_count(shape.dims(), dtype.size()).is_some_and(|c| c * dtype.size() <= limit);
    if !fits {
        return Err(r.err(
            rec_at,
            format_args!(
                "sparse array of shape {shape} would densify to more than {limit} bytes \
                 (oxnet loads sparse arrays as dense ones)"
            ),
        ));
    }
    let bad = |msg: String| r.err(rec_at, msg);
    if stype == 1 {
        let [rows, _] = ints;
        let nrows = shape.dims()[0];
        let row_elems: usize = shape.dims()[1..].iter().product();
        if aux[0].1.checked_mul(row_elems) != Some(stored) {
            return Err(bad(format!(
                "row_sparse storage of {stored} values does not hold {} rows of shape {shape}",
                aux[0].1
            )));
        }
        if let Some(v) = rows.iter().find(|&v| v < 0 || v as u64 >= nrows as u64) {
            return Err(bad(format!(
                "row_sparse row index {v} is out of range for shape {shape}"
            )));
        }
        return Ok(Record::RowSparse {
            shape,
            dtype,
            data,
            rows,
        });
    }
    let [indptr, indices] = ints;
    if shape.ndim() != 2 {
        return Err(bad(format!(
            "csr array has shape {shape}; csr arrays are 2-d"
        )));
    }
    let (nrows, ncols) = (shape.dims()[0], shape.dims()[1]);
    if aux[1].1 != stored {
        return Err(bad(format!(
            "csr has {stored} values but {} column indices",
            aux[1].1
        )));
    }
    let ptr_len = aux[0].1;
    let all_zero = ptr_len == 0 && stored == 0;
    if !all_zero && ptr_len as u64 != nrows as u64 + 1 {
        return Err(bad(format!(
            "csr indptr has {ptr_len} entries for {nrows} rows"
        )));
    }
    let mut prev = 0i64;
    for (i, p) in indptr.iter().enumerate() {
        if (i == 0 && p != 0) || p < prev || p as u64 > stored as u64 {
            return Err(bad(format!("csr indptr entry {i} ({p}) is invalid")));
        }
        prev = p;
    }
    // MXNet writes csr arrays whose indptr ends before the stored values (its `a - a` of a csr
    // keeps the old entries): the rows hold the first `prev` of them, the rest are unused.
    let used = usize::try_from(prev).unwrap_or(0);
    if let Some(c) = indices
        .iter()
        .take(used)
        .find(|&c| c < 0 || c as u64 >= ncols as u64)
    {
        return Err(bad(format!(
            "csr column index {c} is out of range for shape {shape}"
        )));
    }
    Ok(Record::Csr {
        shape,
        dtype,
        data,
        indptr,
        indices,
    })
}
