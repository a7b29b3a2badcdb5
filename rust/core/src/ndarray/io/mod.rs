//! MXNet's NDArray list file format (`mx.nd.save` / `mx.nd.load`, `.params` files).
//!
//! Writing is byte-identical to MXNet 1.9.1 (V2 records). Reading accepts every record version
//! MXNet ever wrote (V3, V2, V1, pre-V1) and treats the file as hostile: every count, ndim,
//! dim and length is checked against the bytes actually left before anything is allocated,
//! so a corrupt or truncated file gives `Error::Format` naming the problem and its offset,
//! never a panic or an allocation the file's contents do not back.
//!
//! Where oxnet deliberately differs from MXNet on load:
//! * Sparse records (row_sparse, csr) are densified: oxnet keeps sparse arrays in dense memory
//!   and reports each record's storage type beside it (the `*_typed` loaders), so Python
//!   hands back `CSRNDArray`/`RowSparseNDArray`. The dense size is not backed by file bytes,
//!   so it is capped by [`densify_limit`]. Saving a sparse array writes MXNet's sparse record
//!   with the structure derived from its values (see `sparse.rs`).
//! * "None" records (MXNet's storage-less arrays) load as empty float32 arrays of shape
//!   `(0,)`: the closest real array, as shape `()` would have one element.
//! * A 0-d array saved in legacy mode (V2, ndim 0, then data) loads back as shape `()`;
//!   MXNet reads such a record as "none" and then misparses the rest of the file.
//! * V3 (np-shape) records load as ordinary arrays; there is no np-shape mode to enforce.
//! * Arrays always load onto `cpu(0)`, even ones saved from a GPU (`as_in_context` moves them).

mod load;
mod save;

pub use load::{
    load_from_bytes, load_from_bytes_typed, load_from_file, load_from_file_typed, Loaded,
};
pub use save::{
    save_to_bytes, save_to_bytes_typed, save_to_file, save_to_file_typed, save_to_writer,
    write_file_atomic,
};

use crate::error::Error;

const LIST_MAGIC: u64 = 0x112;
const V1_MAGIC: u32 = 0xF993_FAC8;
const V2_MAGIC: u32 = 0xF993_FAC9;
const V3_MAGIC: u32 = 0xF993_FACA;
/// No real network comes near this; anything above is corruption, rejected before the dims
/// are read.
const MAX_NDIM: usize = 32;
/// The smallest possible record is a pre-V1 "none" record: one u32.
const MIN_RECORD_BYTES: usize = 4;

/// Floor of [`densify_limit`], so small sparse files of ordinary size still load.
pub const MIN_DENSIFY_BYTES: usize = 16 << 20;
/// How many times the file's size a densified sparse array may take.
pub const DENSIFY_RATIO: usize = 1024;

/// Most bytes one sparse record of a `file_len`-byte file may expand to when densified.
///
/// Densifying is the one place where loading allocates memory that the file's bytes do not
/// back (a csr of shape (10^6, 10^6) with no entries is a few hundred bytes), so a bound
/// proportional to the file keeps a hostile file from asking for terabytes.
pub fn densify_limit(file_len: usize) -> usize {
    file_len
        .saturating_mul(DENSIFY_RATIO)
        .max(MIN_DENSIFY_BYTES)
}

/// MXNet-style I/O message: the OS text without Rust's " (os error N)" suffix.
fn io_error(path: &str, e: &std::io::Error) -> Error {
    let msg = match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".to_string(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error ") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    };
    Error::Io {
        path: path.to_string(),
        msg,
    }
}
