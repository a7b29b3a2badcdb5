//! `NDArray`: a cheap-clone handle to a chunk of device memory (shared by views) plus the
//! chunk's engine variable. Arrays are always contiguous row-major; a view is an offset and a
//! shape into the same chunk, so writes through a view are ordered on the whole chunk.

pub mod io;
pub mod sparse;

use crate::context::Context;
use crate::dtype::{DType, Element};
use crate::engine::{Origin, Task, Var};
use crate::error::{Error, Result};
use crate::runtime::rt;
use crate::shape::Shape;
use crate::storage::Storage;
use std::borrow::Cow;
use std::cell::UnsafeCell;
use std::sync::Arc;

pub struct Chunk {
    storage: UnsafeCell<Storage>,
    pub var: Var,
    pub ctx: Context,
}

// SAFETY: the bytes behind `storage` are only touched inside engine ops (or before the array
// is shared), and the engine serialises writers against readers of `var`.
unsafe impl Sync for Chunk {}
unsafe impl Send for Chunk {}

impl Chunk {
    fn base(&self) -> *mut u8 {
        // SAFETY: reading the pointer value never races; the storage itself is never replaced.
        unsafe { (*self.storage.get()).as_ptr() }
    }
}

#[derive(Clone)]
pub struct NDArray {
    chunk: Arc<Chunk>,
    offset: usize,
    /// Shared so that cloning a handle (done for every op pushed) never allocates.
    shape: Arc<Shape>,
    dtype: DType,
}

impl std::fmt::Debug for NDArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NDArray({} {} @{})", self.shape, self.dtype, self.ctx())
    }
}

impl NDArray {
    /// Uninitialised array (`mx.nd.empty`).
    pub fn empty(shape: Shape, dtype: DType, ctx: Context) -> Result<NDArray> {
        NDArray::empty_shaped(Arc::new(shape), dtype, ctx)
    }

    /// [`NDArray::empty`] sharing a shape with other arrays.
    pub fn empty_shaped(shape: Arc<Shape>, dtype: DType, ctx: Context) -> Result<NDArray> {
        let bytes = shape
            .0
            .iter()
            .try_fold(dtype.size(), |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::Value(format!("array of shape {shape} is too large")))?;
        let storage = Storage::alloc(ctx, bytes, "empty")?;
        Ok(NDArray {
            chunk: Arc::new(Chunk {
                storage: UnsafeCell::new(storage),
                var: Var::new(),
                ctx,
            }),
            offset: 0,
            shape,
            dtype,
        })
    }

    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn ctx(&self) -> Context {
        self.chunk.ctx
    }

    pub fn size(&self) -> usize {
        self.shape.size()
    }

    pub fn ndim(&self) -> usize {
        self.shape.ndim()
    }

    pub fn nbytes(&self) -> usize {
        self.size() * self.dtype.size()
    }

    pub fn var(&self) -> &Var {
        &self.chunk.var
    }

    /// Byte offset of this view inside its chunk.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// True when both handles share memory (views of one chunk).
    pub fn same_chunk(&self, other: &NDArray) -> bool {
        Arc::ptr_eq(&self.chunk, &other.chunk)
    }

    /// Identifies the memory this handle views: equal for handles where `same_chunk` holds.
    pub fn chunk_id(&self) -> usize {
        Arc::as_ptr(&self.chunk) as usize
    }

    /// True when the byte ranges of the two arrays overlap.
    pub fn overlaps(&self, other: &NDArray) -> bool {
        self.same_chunk(other)
            && self.offset < other.offset + other.nbytes()
            && other.offset < self.offset + self.nbytes()
    }

    /// Raw pointer to the first element.
    ///
    /// # Safety
    /// Dereference only inside an engine op that declared this array's variable (read or
    /// write as used), or before the array has been handed to anyone else.
    pub unsafe fn raw(&self) -> *mut u8 {
        self.chunk.base().add(self.offset)
    }

    /// # Safety
    /// As `raw`, for reading; `T` must match the dtype (u8 for bool).
    pub unsafe fn data<T: Element>(&self) -> &[T] {
        debug_assert_eq!(std::mem::size_of::<T>(), self.dtype.size());
        std::slice::from_raw_parts(self.raw() as *const T, self.size())
    }

    /// # Safety
    /// As `raw`, for writing, and no other slice of this memory may be alive.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn data_mut<T: Element>(&self) -> &mut [T] {
        debug_assert_eq!(std::mem::size_of::<T>(), self.dtype.size());
        std::slice::from_raw_parts_mut(self.raw() as *mut T, self.size())
    }

    /// Same memory, another shape of equal size.
    pub fn reshape_view(&self, shape: Shape) -> Result<NDArray> {
        if shape.size() != self.size() {
            return Err(Error::shape(
                "reshape",
                format!(
                    "cannot reshape array of shape {} into shape {}",
                    self.shape, shape
                ),
            ));
        }
        Ok(NDArray {
            shape: Arc::new(shape),
            ..self.clone()
        })
    }

    /// Rows `begin..end` of the first axis, sharing memory (MXNet `_slice` view).
    pub fn slice_rows(&self, begin: usize, end: usize) -> Result<NDArray> {
        let n = self.shape.0.first().copied().unwrap_or(0);
        if self.ndim() == 0 || begin > end || end > n {
            return Err(Error::Index(format!(
                "slice [{begin}:{end}] is out of bounds for axis 0 with size {n}"
            )));
        }
        let row = self.size() / n.max(1) * self.dtype.size();
        let mut shape = (*self.shape).clone();
        shape.0[0] = end - begin;
        let shape = Arc::new(shape);
        Ok(NDArray {
            chunk: self.chunk.clone(),
            offset: self.offset + begin * row,
            shape,
            dtype: self.dtype,
        })
    }

    /// Blocks until pending writes are done; raises the error they left, once.
    pub fn wait_to_read(&self) -> Result<()> {
        self.wait(false)
    }

    /// True when a host array has no write pending: reading it now would not wait.
    pub fn readable_now(&self) -> bool {
        self.ctx().is_host() && self.var().is_free(false)
    }

    /// Blocks until pending reads and writes are done, so that the memory can be written
    /// outside the engine (DLPack for writing); raises the error they left, once.
    pub fn wait_to_write(&self) -> Result<()> {
        self.wait(true)
    }

    fn wait(&self, write: bool) -> Result<()> {
        if write {
            rt().engine.wait_var_write(self.var())?;
        } else {
            rt().engine.wait_var(self.var())?;
        }
        // GPU ops return once queued: wait for the stream too, so kernel errors surface here.
        #[cfg(feature = "cuda")]
        if !self.ctx().is_host() {
            crate::kernels::cuda::host::device_of(self)?.sync()?;
        }
        Ok(())
    }

    /// Fills a fresh array (no other handle exists yet) from host bytes, synchronously.
    pub fn from_bytes(shape: Shape, dtype: DType, ctx: Context, bytes: &[u8]) -> Result<NDArray> {
        let a = NDArray::empty(shape, dtype, ctx)?;
        if bytes.len() != a.nbytes() {
            return Err(Error::Value(format!(
                "{} bytes given for an array of shape {} and dtype {} ({} bytes)",
                bytes.len(),
                a.shape,
                dtype,
                a.nbytes()
            )));
        }
        #[cfg(feature = "cuda")]
        if !ctx.is_host() {
            crate::kernels::cuda::host::upload(&a, bytes)?;
            return Ok(a);
        }
        // SAFETY: `a` is fresh: no op and no other handle can touch its memory yet.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), a.raw(), bytes.len()) };
        Ok(a)
    }

    pub fn from_vec<T: Element>(shape: Shape, data: &[T], ctx: Context) -> Result<NDArray> {
        NDArray::from_bytes(shape, T::DTYPE, ctx, bytemuck::cast_slice(data))
    }

    /// Copies the contents to host memory after waiting for pending writes.
    pub fn copy_to_host(&self, dst: &mut [u8]) -> Result<()> {
        self.wait_to_read()?;
        if dst.len() != self.nbytes() {
            return Err(Error::Value(format!(
                "destination of {} bytes for an array of {} bytes",
                dst.len(),
                self.nbytes()
            )));
        }
        #[cfg(feature = "cuda")]
        if !self.ctx().is_host() {
            return crate::kernels::cuda::host::download(self, dst);
        }
        // SAFETY: waited for every pending writer; concurrent readers are fine. A writer pushed
        // by another thread after the wait is the caller's race, as in MXNet.
        unsafe { std::ptr::copy_nonoverlapping(self.raw(), dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    /// Calls `f` with the contents, in place, once pending writes are done (no copy).
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        if !self.ctx().is_host() {
            return Ok(f(&self.to_bytes()?));
        }
        self.wait_to_read()?;
        // SAFETY: as in `copy_to_host`: every pending writer has finished.
        let bytes = unsafe { std::slice::from_raw_parts(self.raw(), self.nbytes()) };
        Ok(f(bytes))
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut v = vec![0u8; self.nbytes()];
        self.copy_to_host(&mut v)?;
        Ok(v)
    }

    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype && !(self.dtype == DType::Bool && T::DTYPE == DType::U8) {
            return Err(Error::Type(format!(
                "to_vec::<{}> of a {} array",
                T::DTYPE,
                self.dtype
            )));
        }
        let mut v = vec![T::default(); self.size()];
        self.copy_to_host(bytemuck::cast_slice_mut(&mut v))?;
        Ok(v)
    }

    /// Overwrites the contents from host bytes, ordered after pending ops, and waits
    /// (`SyncCopyFromCPU`). `src` must stay valid until this returns, which it does.
    pub fn sync_copy_from_host(&self, src: &[u8]) -> Result<()> {
        if src.len() != self.nbytes() {
            return Err(Error::Value(format!(
                "cannot copy {} bytes into an array of shape {} ({} bytes)",
                src.len(),
                self.shape,
                self.nbytes()
            )));
        }
        let dst = self.clone();
        let p = SendPtr(src.as_ptr());
        let n = src.len();
        rt().engine.push(Task {
            name: Cow::Borrowed("_sync_copyfrom"),
            reads: vec![],
            writes: vec![self.var().clone()],
            body: Box::new(move || {
                let p = p;
                #[cfg(feature = "cuda")]
                if !dst.ctx().is_host() {
                    // SAFETY: as below.
                    let src = unsafe { std::slice::from_raw_parts(p.0, n) };
                    return crate::kernels::cuda::host::upload(&dst, src);
                }
                // SAFETY: this op holds the write on dst; the caller keeps src alive until
                // the wait below returns.
                unsafe { std::ptr::copy_nonoverlapping(p.0, dst.raw(), n) };
                Ok(())
            }),
            origin: None,
            cost: n / 4,
            priority: 0,
        });
        self.wait_to_read()
    }

    /// Pushes `body` as an op reading `reads` and writing `writes`.
    pub fn push(
        name: impl Into<Cow<'static, str>>,
        reads: &[&NDArray],
        writes: &[&NDArray],
        cost: usize,
        origin: Option<Origin>,
        body: impl FnOnce() -> Result<()> + Send + 'static,
    ) {
        let name = name.into();
        let reads_v = reads.iter().map(|a| a.var());
        let writes_v = writes.iter().map(|a| a.var());
        let Err(body) =
            rt().engine
                .run_small_now(&name, reads_v, writes_v, cost, origin.as_ref(), body)
        else {
            return;
        };
        rt().engine.push(Task {
            name,
            reads: reads.iter().map(|a| a.var().clone()).collect(),
            writes: writes.iter().map(|a| a.var().clone()).collect(),
            body: Box::new(body),
            origin,
            cost,
            priority: 0,
        });
    }
}

struct SendPtr(*const u8);
// SAFETY: used only while the owner of the memory waits for the op that reads it.
unsafe impl Send for SendPtr {}

/// `mx.nd.waitall()`.
pub fn waitall() -> Result<()> {
    rt().engine.wait_all()?;
    #[cfg(feature = "cuda")]
    crate::kernels::cuda::device::sync_all()?;
    Ok(())
}
