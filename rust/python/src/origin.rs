//! Captures the user's `file:line` that issued an op, skipping oxnet's own Python frames, so a
//! failing kernel can be reported where the user wrote the call.

use oxnet::engine::Origin;
use pyo3::ffi;
use pyo3::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

// Not in the limited API's headers but exported by every CPython >= 3.9.
extern "C" {
    fn PyFrame_GetBack(frame: *mut ffi::PyFrameObject) -> *mut ffi::PyFrameObject;
    fn PyFrame_GetLasti(frame: *mut ffi::PyFrameObject) -> std::os::raw::c_int;
}

/// Direct-mapped cache (code address, instruction offset) -> line: computing line numbers
/// costs more than the rest of an op's dispatch, and a loop hits the same few call sites.
const SLOTS: usize = 256;
static LINES: Mutex<[(usize, i32, u32); SLOTS]> = Mutex::new([(0, 0, 0); SLOTS]);

fn line_of(frame: *mut ffi::PyFrameObject, code: usize) -> u32 {
    // SAFETY: `frame` is a live frame (strong reference held by the caller), GIL held.
    let lasti = unsafe { PyFrame_GetLasti(frame) };
    let slot = ((code >> 4) ^ (lasti as usize).wrapping_mul(0x9E37_79B9)) % SLOTS;
    if let Ok(g) = LINES.lock() {
        let (c, l, line) = g[slot];
        if c == code && l == lasti {
            return line;
        }
    }
    // SAFETY: as above.
    let line = unsafe { ffi::PyFrame_GetLineNumber(frame) }.max(0) as u32;
    if let Ok(mut g) = LINES.lock() {
        g[slot] = (code, lasti, line);
    }
    line
}

/// code object address -> filename, or None for oxnet's own frames.
static FILES: Mutex<Option<HashMap<usize, Option<Arc<str>>>>> = Mutex::new(None);
static PKG_DIR: Mutex<Option<String>> = Mutex::new(None);

pub fn set_package_dir(dir: String) {
    if let Ok(mut g) = PKG_DIR.lock() {
        *g = Some(dir);
    }
}

/// A code object's address and its file (None for oxnet's own).
type CodeFile = (usize, Option<Arc<str>>);

/// The last code objects looked up and their answers: a loop calls from one site, through
/// one of oxnet's generated functions (a frame skipped on the way).
static LAST_FILES: Mutex<([CodeFile; 4], usize)> = Mutex::new(([const { (0, None) }; 4], 0));

fn file_of(py: Python<'_>, code: *mut ffi::PyCodeObject) -> Option<Arc<str>> {
    let key = code as usize;
    if let Ok(g) = LAST_FILES.lock() {
        if let Some((_, v)) = g.0.iter().find(|(k, _)| *k == key) {
            return v.clone();
        }
    }
    let v = file_of_slow(py, code);
    if let Ok(mut g) = LAST_FILES.lock() {
        let next = g.1;
        g.0[next] = (key, v.clone());
        g.1 = (next + 1) % 4;
    }
    v
}

fn file_of_slow(py: Python<'_>, code: *mut ffi::PyCodeObject) -> Option<Arc<str>> {
    let key = code as usize;
    if let Ok(g) = FILES.lock() {
        if let Some(v) = g.as_ref().and_then(|m| m.get(&key)) {
            return v.clone();
        }
    }
    // SAFETY: `code` is a live strong reference held by the caller.
    let obj = unsafe { Bound::from_borrowed_ptr(py, code as *mut ffi::PyObject) };
    let name: String = obj
        .getattr("co_filename")
        .and_then(|f| f.extract())
        .unwrap_or_default();
    let internal = name.starts_with("<oxnet")
        || PKG_DIR
            .lock()
            .ok()
            .and_then(|d| d.clone())
            .is_some_and(|d| name.starts_with(&d));
    let v: Option<Arc<str>> = (!internal).then(|| Arc::from(name.as_str()));
    if let Ok(mut g) = FILES.lock() {
        let m = g.get_or_insert_with(HashMap::new);
        if m.len() > 100_000 {
            m.clear();
        }
        m.insert(key, v.clone());
    }
    v
}

/// The innermost frame outside the oxnet package.
pub fn capture(py: Python<'_>) -> Option<Origin> {
    // SAFETY: GIL held; PyEval_GetFrame returns a borrowed frame (or null); GetBack and GetCode
    // return new references, released below.
    unsafe {
        let mut frame = ffi::PyEval_GetFrame();
        if frame.is_null() {
            return None;
        }
        ffi::Py_INCREF(frame as *mut ffi::PyObject);
        for _ in 0..16 {
            let code = ffi::PyFrame_GetCode(frame);
            let file = file_of(py, code);
            ffi::Py_DECREF(code as *mut ffi::PyObject);
            if let Some(file) = file {
                let line = line_of(frame, code as usize);
                ffi::Py_DECREF(frame as *mut ffi::PyObject);
                return Some(Origin { file, line });
            }
            let back = PyFrame_GetBack(frame);
            ffi::Py_DECREF(frame as *mut ffi::PyObject);
            if back.is_null() {
                return None;
            }
            frame = back;
        }
        ffi::Py_DECREF(frame as *mut ffi::PyObject);
        None
    }
}
