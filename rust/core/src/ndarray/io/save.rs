//! Writing NDArray list files: byte-identical to MXNet 1.9.1, atomic on disk.

use super::{io_error, LIST_MAGIC, V2_MAGIC};
use crate::error::{Error, Result};
use crate::ndarray::sparse::{sparse_record, StorageType};
use crate::ndarray::NDArray;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Serialises `arrays` (a dict when `names` is given) exactly as `mx.nd.save` does.
pub fn save_to_bytes(arrays: &[NDArray], names: Option<&[String]>) -> Result<Vec<u8>> {
    save_to_bytes_typed(arrays, &[], names)
}

/// [`save_to_bytes`] with a storage type per array (`stypes` empty: all dense); sparse ones
/// are written as MXNet's sparse records.
pub fn save_to_bytes_typed(
    arrays: &[NDArray],
    stypes: &[StorageType],
    names: Option<&[String]>,
) -> Result<Vec<u8>> {
    let names = check_names(arrays, names)?;
    check_stypes(arrays, stypes)?;
    let mut out = Vec::with_capacity(saved_size(arrays, names)?);
    out.extend_from_slice(&LIST_MAGIC.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&(arrays.len() as u64).to_le_bytes());
    for (i, a) in arrays.iter().enumerate() {
        let stype = stypes.get(i).copied().unwrap_or(StorageType::Default);
        if stype != StorageType::Default {
            out.extend_from_slice(&sparse_record(a, stype, V2_MAGIC)?);
            continue;
        }
        out.extend_from_slice(&record_header(a)?);
        // Copy straight into the output so no second copy of the array ever exists.
        let start = out.len();
        out.resize(start + a.nbytes(), 0);
        a.copy_to_host(&mut out[start..])?;
    }
    write_names(&mut out, names).map_err(|e| io_error("<memory>", &e))?;
    Ok(out)
}

/// Streams the file to `w`; holds at most one array's bytes in memory at a time.
pub fn save_to_writer(
    w: &mut impl Write,
    arrays: &[NDArray],
    names: Option<&[String]>,
) -> Result<()> {
    write_list(w, arrays, &[], names).map_err(|e| e.into_error("<writer>"))
}

/// Saves to `path` atomically: the data goes to a temporary file in the same directory,
/// which is then renamed over `path` (flushed to disk first with `OXNET_SAVE_FSYNC=1`).
/// A crash or an error mid-write leaves the previous file intact (a half-written checkpoint is worse than an old one).
pub fn save_to_file(
    path: impl AsRef<Path>,
    arrays: &[NDArray],
    names: Option<&[String]>,
) -> Result<()> {
    save_to_file_typed(path, arrays, &[], names)
}

/// [`save_to_file`] with a storage type per array, as [`save_to_bytes_typed`].
pub fn save_to_file_typed(
    path: impl AsRef<Path>,
    arrays: &[NDArray],
    stypes: &[StorageType],
    names: Option<&[String]>,
) -> Result<()> {
    // Fail on bad arguments before touching the file system.
    check_names(arrays, names)?;
    check_stypes(arrays, stypes)?;
    replace_file(path.as_ref(), |w| write_list(w, arrays, stypes, names))
}

/// Writes `data` to `path` as atomically as [`save_to_file`] does (symbol files, optimizer
/// states: whatever a checkpoint holds besides its arrays).
pub fn write_file_atomic(path: impl AsRef<Path>, data: &[u8]) -> Result<()> {
    replace_file(path.as_ref(), |w| w.write_all(data).map_err(WriteError::Io))
}

/// Runs `write` into a temporary file next to `path`'s target and renames it over the target
/// (a device or FIFO is written into; a hard-linked file gets the complete data copied in).
fn replace_file(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::result::Result<(), WriteError>,
) -> Result<()> {
    let shown = path.display().to_string();
    let target = resolve_symlink(path);
    if target.is_dir() {
        return Err(Error::Io {
            path: shown,
            msg: "Is a directory".into(),
        });
    }
    match std::fs::metadata(&target) {
        // A device or FIFO (`/dev/null`) is written into, as MXNet does: a rename would
        // replace the node itself.
        Ok(m) if !m.is_file() => return write_in_place(&target, &shown, write),
        // A rename needs only a writable directory: refuse a file the user may not write, as
        // opening it would (MXNet: Permission denied).
        Ok(_) => {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .map_err(|e| io_error(&shown, &e))?;
        }
        Err(_) => {}
    }
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = target
        .file_name()
        .ok_or_else(|| Error::Io {
            path: shown.clone(),
            msg: "Is a directory".into(),
        })?
        .to_string_lossy()
        .into_owned();
    let (tmp_path, file) = create_temp(&dir, &file_name).map_err(|e| io_error(&shown, &e))?;
    let res = (|| -> std::result::Result<(), WriteError> {
        // Keep the permissions of the file being replaced; rename would otherwise reset them.
        if let Ok(meta) = std::fs::metadata(&target) {
            file.set_permissions(meta.permissions())
                .map_err(WriteError::Io)?;
        }
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        write(&mut w)?;
        w.flush().map_err(WriteError::Io)?;
        let file = w.into_inner().map_err(|e| WriteError::Io(e.into_error()))?;
        if fsync_enabled() {
            file.sync_all().map_err(WriteError::Io)?;
        }
        drop(file);
        // Only a regular file: opening a FIFO for reading would block until a writer came.
        let replaced = std::fs::metadata(&target)
            .is_ok_and(|m| m.is_file())
            .then(|| std::fs::File::open(&target).ok())
            .flatten();
        if hard_linked(&target) {
            // The file's other names must see the new contents too, as after MXNet's
            // in-place write: the complete data is copied in, then the temporary removed.
            drop(replaced);
            let mut src = std::fs::File::open(&tmp_path).map_err(WriteError::Io)?;
            let mut dst = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&target)
                .map_err(WriteError::Io)?;
            std::io::copy(&mut src, &mut dst).map_err(WriteError::Io)?;
            if fsync_enabled() {
                dst.sync_all().map_err(WriteError::Io)?;
            }
            std::fs::remove_file(&tmp_path).map_err(WriteError::Io)?;
            return Ok(());
        }
        std::fs::rename(&tmp_path, &target).map_err(WriteError::Io)?;
        release_in_background(replaced);
        Ok(())
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp_path);
        return Err(e.into_error(&shown));
    }
    if fsync_enabled() {
        sync_dir(&dir);
    }
    Ok(())
}

/// Writes straight into `target` (a device or FIFO: nothing to keep intact there).
fn write_in_place(
    target: &Path,
    shown: &str,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::result::Result<(), WriteError>,
) -> Result<()> {
    let file = open_special(target).map_err(|e| io_error(shown, &e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    write(&mut w)
        .and_then(|()| w.flush().map_err(WriteError::Io))
        .map_err(|e| e.into_error(shown))
}

/// Opens a device or FIFO for writing. A FIFO nobody reads is an error, not a wait that
/// never ends: it is opened without blocking, then written to blocking.
#[cfg(unix)]
fn open_special(target: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    use std::os::unix::io::AsRawFd;
    let fifo = std::fs::metadata(target)?.file_type().is_fifo();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .custom_flags(if fifo { libc::O_NONBLOCK } else { 0 })
        .open(target)
        .map_err(|e| {
            if fifo && e.raw_os_error() == Some(libc::ENXIO) {
                std::io::Error::other("a FIFO no process is reading from")
            } else {
                e
            }
        })?;
    if fifo {
        // SAFETY: fcntl on a descriptor this function owns; only its status flags change.
        let ok = unsafe {
            let fd = file.as_raw_fd();
            let flags = libc::fcntl(fd, libc::F_GETFL);
            flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) == 0
        };
        if !ok {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(file)
}

#[cfg(not(unix))]
fn open_special(target: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).open(target)
}

#[cfg(unix)]
fn hard_linked(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).is_ok_and(|m| m.nlink() > 1)
}

#[cfg(not(unix))]
fn hard_linked(_path: &Path) -> bool {
    false
}

enum WriteError {
    Io(std::io::Error),
    NDArray(Error),
}

impl WriteError {
    fn into_error(self, path: &str) -> Error {
        match self {
            WriteError::Io(e) => io_error(path, &e),
            WriteError::NDArray(e) => e,
        }
    }
}

fn write_list(
    w: &mut impl Write,
    arrays: &[NDArray],
    stypes: &[StorageType],
    names: Option<&[String]>,
) -> std::result::Result<(), WriteError> {
    let names = check_names(arrays, names).map_err(WriteError::NDArray)?;
    let mut head = [0u8; 24];
    head[..8].copy_from_slice(&LIST_MAGIC.to_le_bytes());
    head[16..].copy_from_slice(&(arrays.len() as u64).to_le_bytes());
    w.write_all(&head).map_err(WriteError::Io)?;
    for (i, a) in arrays.iter().enumerate() {
        let stype = stypes.get(i).copied().unwrap_or(StorageType::Default);
        if stype != StorageType::Default {
            let rec = sparse_record(a, stype, V2_MAGIC).map_err(WriteError::NDArray)?;
            w.write_all(&rec).map_err(WriteError::Io)?;
            continue;
        }
        let header = record_header(a).map_err(WriteError::NDArray)?;
        w.write_all(&header).map_err(WriteError::Io)?;
        // Written straight from the array's memory: no host copy at all.
        a.with_bytes(|bytes| w.write_all(bytes))
            .map_err(WriteError::NDArray)?
            .map_err(WriteError::Io)?;
    }
    write_names(w, names).map_err(WriteError::Io)?;
    w.flush().map_err(WriteError::Io)
}

/// `names` as written: an empty dict is saved exactly like an empty list, as MXNet does.
fn check_names<'n>(arrays: &[NDArray], names: Option<&'n [String]>) -> Result<&'n [String]> {
    match names {
        None => Ok(&[]),
        Some(n) if n.len() == arrays.len() => Ok(n),
        Some(n) => Err(Error::Value(format!(
            "save: {} names given for {} arrays; a dict needs one name per array",
            n.len(),
            arrays.len()
        ))),
    }
}

/// `stypes` is empty (all dense) or has one entry per array.
fn check_stypes(arrays: &[NDArray], stypes: &[StorageType]) -> Result<()> {
    if stypes.is_empty() || stypes.len() == arrays.len() {
        return Ok(());
    }
    Err(Error::Value(format!(
        "save: {} storage types given for {} arrays",
        stypes.len(),
        arrays.len()
    )))
}

fn saved_size(arrays: &[NDArray], names: &[String]) -> Result<usize> {
    let mut n = 32usize;
    for a in arrays {
        n = n
            .checked_add(24 + 8 * a.ndim() + a.nbytes())
            .ok_or_else(too_big)?;
    }
    for s in names {
        n = n.checked_add(8 + s.len()).ok_or_else(too_big)?;
    }
    Ok(n)
}

fn too_big() -> Error {
    Error::Value("save: the arrays are too large to serialise into memory".into())
}

/// Everything of a V2 dense record before the data.
fn record_header(a: &NDArray) -> Result<Vec<u8>> {
    let mut h = Vec::with_capacity(24 + 8 * a.ndim());
    h.extend_from_slice(&V2_MAGIC.to_le_bytes());
    h.extend_from_slice(&0i32.to_le_bytes()); // stype: default (dense)
    let ndim = i32::try_from(a.ndim()).map_err(|_| {
        Error::Value(format!(
            "save: array has too many dimensions ({})",
            a.ndim()
        ))
    })?;
    h.extend_from_slice(&ndim.to_le_bytes());
    for &d in a.shape().dims() {
        let d = i64::try_from(d)
            .map_err(|_| Error::Value(format!("save: dimension {d} does not fit the format")))?;
        h.extend_from_slice(&d.to_le_bytes());
    }
    let ctx = a.ctx();
    h.extend_from_slice(&ctx.dev_type.code().to_le_bytes());
    h.extend_from_slice(&ctx.dev_id.to_le_bytes());
    h.extend_from_slice(&a.dtype().flag().to_le_bytes());
    Ok(h)
}

fn write_names(w: &mut impl Write, names: &[String]) -> std::io::Result<()> {
    w.write_all(&(names.len() as u64).to_le_bytes())?;
    for s in names {
        w.write_all(&(s.len() as u64).to_le_bytes())?;
        w.write_all(s.as_bytes())?;
    }
    Ok(())
}

/// Saving through a symlink must replace the file it points to, not the link itself.
fn resolve_symlink(path: &Path) -> PathBuf {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    }
}

fn create_temp(dir: &Path, file_name: &str) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let pid = std::process::id();
    let mut last = None;
    // Names can collide with leftovers of a killed process; a few fresh tries settle it.
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = dir.join(format!(".{file_name}.tmp-{pid}-{n}"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("cannot create a temporary file")))
}

/// Makes the rename itself durable. Best effort: some file systems refuse to sync a
/// directory, and the data is already safe in the renamed file.
/// `OXNET_SAVE_FSYNC=1` also flushes saves to the disk before the rename (survives power loss,
/// at disk speed). By default the temp-file + rename already guarantees that a crash or an
/// error mid-save leaves the previous file intact, at page-cache speed, as MXNet's saves ran.
fn fsync_enabled() -> bool {
    matches!(
        std::env::var("OXNET_SAVE_FSYNC").as_deref(),
        Ok("1") | Ok("true")
    )
}

/// Closes the last handle on a replaced file off the caller's thread. The kernel frees the
/// old file's cached pages when its last handle goes, and for a large checkpoint that takes
/// longer than writing the new one (about 50 ms per 80 MB here).
fn release_in_background(replaced: Option<std::fs::File>) {
    if let Some(f) = replaced {
        // Should the thread not start, the closure is dropped and closes the file here.
        let _ = std::thread::Builder::new()
            .name("oxnet-release".into())
            .spawn(move || drop(f));
    }
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
