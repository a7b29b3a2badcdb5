//! The MXNet NDArray file format against files written by real MXNet 1.9.1
//! (tests/data/golden), plus round trips and a mutation fuzz of the loader.
//!
//! Expected values come from tests/data/golden/expected.json, produced from the golden
//! *.npz files by tests/data/npz_to_json.py (no zip reader needed here).

use oxnet::ndarray::io::{
    densify_limit, load_from_bytes, load_from_bytes_typed, load_from_file, save_to_bytes,
    save_to_bytes_typed, save_to_file, save_to_file_typed, save_to_writer,
};
use oxnet::ndarray::sparse::StorageType;
use oxnet::{Context, DType, Error, NDArray, Shape};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------
// Allocation tracking: the largest single request made by this thread while armed, so the
// fuzz test can prove a claimed huge size is rejected before anything is allocated.
// ---------------------------------------------------------------------------------------

struct Tracking;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// Runs `f` and returns its result with the largest single allocation it made.
fn largest_alloc<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    ARMED.with(|a| a.set(true));
    let out = f();
    ARMED.with(|a| a.set(false));
    (out, LARGEST.with(|l| l.get()))
}

// ---------------------------------------------------------------------------------------
// A minimal JSON reader for manifest.json / expected.json (no serde in dev-dependencies).
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn parse(s: &str) -> Json {
        let mut p = JsonParser {
            s: s.as_bytes(),
            i: 0,
        };
        let v = p.value();
        p.ws();
        assert_eq!(p.i, p.s.len(), "trailing characters in JSON");
        v
    }
    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(kv) => {
                &kv.iter()
                    .find(|(k, _)| k == key)
                    .unwrap_or_else(|| panic!("no key {key}"))
                    .1
            }
            _ => panic!("not an object looking up {key}"),
        }
    }
    fn opt(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(kv) => kv.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn entries(&self) -> &[(String, Json)] {
        match self {
            Json::Obj(kv) => kv,
            _ => panic!("not an object"),
        }
    }
    fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(v) => v,
            _ => panic!("not an array: {self:?}"),
        }
    }
    fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            _ => panic!("not a string: {self:?}"),
        }
    }
    fn num(&self) -> f64 {
        match self {
            Json::Num(n) => *n,
            _ => panic!("not a number: {self:?}"),
        }
    }
    fn bool(&self) -> bool {
        match self {
            Json::Bool(b) => *b,
            _ => panic!("not a bool: {self:?}"),
        }
    }
    fn strs(&self) -> Vec<String> {
        self.arr().iter().map(|v| v.str().to_string()).collect()
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) {
        self.ws();
        assert_eq!(
            self.s[self.i], c,
            "JSON: expected '{}' at {}",
            c as char, self.i
        );
        self.i += 1;
    }
    fn lit(&mut self, word: &str, v: Json) -> Json {
        assert!(
            self.s[self.i..].starts_with(word.as_bytes()),
            "JSON: bad literal at {}",
            self.i
        );
        self.i += word.len();
        v
    }
    fn value(&mut self) -> Json {
        self.ws();
        match self.s[self.i] {
            b'{' => {
                self.i += 1;
                let mut kv = Vec::new();
                self.ws();
                if self.s[self.i] == b'}' {
                    self.i += 1;
                    return Json::Obj(kv);
                }
                loop {
                    self.ws();
                    let k = self.string();
                    self.eat(b':');
                    kv.push((k, self.value()));
                    self.ws();
                    self.i += 1;
                    if self.s[self.i - 1] == b'}' {
                        return Json::Obj(kv);
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.s[self.i] == b']' {
                    self.i += 1;
                    return Json::Arr(v);
                }
                loop {
                    v.push(self.value());
                    self.ws();
                    self.i += 1;
                    if self.s[self.i - 1] == b']' {
                        return Json::Arr(v);
                    }
                }
            }
            b'"' => Json::Str(self.string()),
            b't' => self.lit("true", Json::Bool(true)),
            b'f' => self.lit("false", Json::Bool(false)),
            b'n' => self.lit("null", Json::Null),
            _ => {
                let start = self.i;
                while self.i < self.s.len() && b"+-.eE0123456789".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).unwrap();
                Json::Num(t.parse().unwrap_or_else(|_| panic!("JSON: bad number {t}")))
            }
        }
    }
    fn hex4(&mut self) -> u32 {
        let t = std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
        self.i += 4;
        u32::from_str_radix(t, 16).unwrap()
    }
    fn string(&mut self) -> String {
        self.eat(b'"');
        let mut out = Vec::new();
        loop {
            let c = self.s[self.i];
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).unwrap(),
                b'\\' => {
                    let e = self.s[self.i];
                    self.i += 1;
                    let ch = match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let mut u = self.hex4();
                            if (0xD800..0xDC00).contains(&u) {
                                self.i += 2; // the "\u" of the low surrogate
                                let lo = self.hex4();
                                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            char::from_u32(u).unwrap()
                        }
                        other => other as char,
                    };
                    let mut b = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                }
                _ => out.push(c),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden")
}

fn read_json(name: &str) -> Json {
    Json::parse(&std::fs::read_to_string(golden_dir().join(name)).unwrap())
}

fn golden_files() -> Vec<(String, Json)> {
    read_json("manifest.json").get("files").entries().to_vec()
}

fn golden_bytes(info: &Json) -> Vec<u8> {
    std::fs::read(golden_dir().join(info.get("file").str())).unwrap()
}

fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(0xCBF2_9CE4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01B3)
    })
}

fn as_f64(a: &NDArray) -> Vec<f64> {
    let b = a.to_bytes().unwrap();
    let es = a.dtype().size();
    b.chunks_exact(es)
        .map(|c| match a.dtype() {
            DType::F32 => f32::from_le_bytes(c.try_into().unwrap()) as f64,
            DType::F64 => f64::from_le_bytes(c.try_into().unwrap()),
            DType::F16 => half::f16::from_le_bytes(c.try_into().unwrap()).to_f64(),
            DType::BF16 => half::bf16::from_le_bytes(c.try_into().unwrap()).to_f64(),
            DType::U8 | DType::Bool => c[0] as f64,
            DType::I8 => c[0] as i8 as f64,
            DType::I32 => i32::from_le_bytes(c.try_into().unwrap()) as f64,
            DType::I64 => i64::from_le_bytes(c.try_into().unwrap()) as f64,
        })
        .collect()
}

fn format_err(r: oxnet::Result<(Vec<NDArray>, Option<Vec<String>>)>) -> String {
    match r {
        Err(Error::Format(m)) => m,
        Err(e) => panic!("expected a format error, got {e:?}"),
        Ok((a, n)) => panic!("expected a format error, loaded {a:?} {n:?}"),
    }
}

/// Little-endian byte builder for hand-crafted records.
#[derive(Default)]
struct B(Vec<u8>);

impl B {
    fn header(n: u64) -> B {
        let mut b = B::default();
        b.u64(0x112).u64(0).u64(n);
        b
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn i32(&mut self, v: i32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn shape(&mut self, dims: &[i64]) -> &mut Self {
        self.i32(dims.len() as i32);
        for &d in dims {
            self.i64(d);
        }
        self
    }
    fn f32s(&mut self, v: &[f32]) -> &mut Self {
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
        self
    }
    fn i64s(&mut self, v: &[i64]) -> &mut Self {
        for &x in v {
            self.i64(x);
        }
        self
    }
    fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.0.extend_from_slice(v);
        self
    }
    fn names(&mut self, names: &[&str]) -> &mut Self {
        self.u64(names.len() as u64);
        for n in names {
            self.u64(n.len() as u64).bytes(n.as_bytes());
        }
        self
    }
    /// V2 dense float32 record on cpu(0).
    fn v2_f32(&mut self, dims: &[i64], data: &[f32]) -> &mut Self {
        self.u32(0xF993_FAC9)
            .i32(0)
            .shape(dims)
            .i32(1)
            .i32(0)
            .i32(0)
            .f32s(data)
    }
}

fn f32_array(shape: &[usize], data: &[f32]) -> NDArray {
    NDArray::from_vec(Shape::new(shape.to_vec()), data, Context::cpu(0)).unwrap()
}

// ---------------------------------------------------------------------------------------
// Golden files
// ---------------------------------------------------------------------------------------

#[test]
fn golden_files_load_as_mxnet_loads_them() {
    let expected = read_json("expected.json");
    let files = golden_files();
    assert_eq!(files.len(), 14);
    for (name, info) in &files {
        let (arrays, names) = load_from_file(golden_dir().join(info.get("file").str()))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let kind = info.get("kind").str();
        match kind {
            "list" => assert!(names.is_none(), "{name}: loaded names {names:?} for a list"),
            _ => assert_eq!(names.as_ref().unwrap(), &info.get("keys").strs(), "{name}"),
        }
        let dtypes = info.get("dtypes").strs();
        let shapes: Vec<Vec<usize>> = info
            .get("shapes")
            .arr()
            .iter()
            .map(|s| s.arr().iter().map(|d| d.num() as usize).collect())
            .collect();
        let contexts = info.get("loaded_contexts").strs();
        let exp = expected.get(name).arr();
        assert_eq!(arrays.len(), dtypes.len(), "{name}");
        assert_eq!(arrays.len(), exp.len(), "{name}");
        for (i, a) in arrays.iter().enumerate() {
            assert_eq!(a.dtype().name(), dtypes[i], "{name}[{i}]");
            assert_eq!(a.shape().dims(), &shapes[i][..], "{name}[{i}]");
            assert_eq!(a.ctx().to_string(), contexts[i], "{name}[{i}]");
            let e = &exp[i];
            assert_eq!(a.dtype().name(), e.get("dtype").str(), "{name}[{i}]");
            let hash = format!("{:016x}", fnv1a64(&a.to_bytes().unwrap()));
            assert_eq!(
                hash,
                e.get("fnv1a64").str(),
                "{name}[{i}] data differs from MXNet's"
            );
            if let Some(v) = e.opt("values") {
                let want: Vec<f64> = v.arr().iter().map(Json::num).collect();
                assert_eq!(as_f64(a), want, "{name}[{i}]");
            }
        }
    }
}

/// Offsets of the 8-byte context field of each V2 dense record in an MXNet-written file.
fn ctx_offsets(buf: &[u8]) -> Vec<usize> {
    let rd = |at: usize| u64::from_le_bytes(buf[at..at + 8].try_into().unwrap());
    let rd4 = |at: usize| i32::from_le_bytes(buf[at..at + 4].try_into().unwrap());
    let n = rd(16) as usize;
    let mut at = 24;
    let mut out = Vec::new();
    for _ in 0..n {
        assert_eq!(rd4(at) as u32, 0xF993_FAC9);
        let ndim = rd4(at + 8) as usize;
        let dims: Vec<usize> = (0..ndim).map(|k| rd(at + 12 + 8 * k) as usize).collect();
        let ctx = at + 12 + 8 * ndim;
        out.push(ctx);
        let flag = rd4(ctx + 8);
        let es = [4, 8, 2, 1, 4, 1, 8, 1][flag as usize];
        at = ctx + 12 + es * dims.iter().product::<usize>();
    }
    out
}

#[test]
fn golden_dense_files_resave_like_mxnet() {
    let mut checked = 0;
    for (name, info) in golden_files() {
        let legacy = info.get("legacy").bool();
        let dense = info.get("stypes").strs().iter().all(|s| s == "default");
        if legacy || !dense {
            continue;
        }
        let orig = golden_bytes(&info);
        let (arrays, names) = load_from_bytes(&orig).unwrap();
        let saved = save_to_bytes(&arrays, names.as_deref()).unwrap();
        let identical = info.get("resave_identical").bool();
        assert_eq!(
            saved == orig,
            identical,
            "{name}: re-save identical should be {identical}"
        );
        if !identical {
            // Only the saved contexts may differ: both MXNet and oxnet load onto cpu(0).
            assert_eq!(saved.len(), orig.len(), "{name}");
            let ctx = ctx_offsets(&orig);
            for (k, (a, b)) in saved.iter().zip(&orig).enumerate() {
                if a != b {
                    assert!(
                        ctx.iter().any(|&c| (c..c + 8).contains(&k)),
                        "{name}: byte {k}"
                    );
                }
            }
            assert_eq!(load_from_bytes(&saved).unwrap().0.len(), arrays.len());
        }
        // The streaming writer produces the same bytes.
        let mut streamed = Vec::new();
        save_to_writer(&mut streamed, &arrays, names.as_deref()).unwrap();
        assert_eq!(streamed, saved, "{name}");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} golden files re-saved");
}

#[test]
fn spec_examples_are_byte_exact() {
    let m23 = f32_array(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
    let list1 = save_to_bytes(std::slice::from_ref(&m23), None).unwrap();
    let mut want = B::header(1);
    want.v2_f32(&[2, 3], &[1., 2., 3., 4., 5., 6.]).u64(0);
    assert_eq!(list1, want.0);
    assert_eq!(list1.len(), 96);

    let b = NDArray::from_vec(Shape::new(vec![1]), &[7i32], Context::cpu(0)).unwrap();
    let names = vec!["arg:w".to_string(), "b".to_string()];
    let dict2 = save_to_bytes(&[m23, b], Some(&names)).unwrap();
    assert_eq!(
        dict2,
        std::fs::read(golden_dir().join("dict2.params")).unwrap()
    );
    assert_eq!(dict2.len(), 154);

    // Empty list and empty dict: the same 32 bytes, loading back as a list.
    let empty = save_to_bytes(&[], Some(&[])).unwrap();
    assert_eq!(empty, save_to_bytes(&[], None).unwrap());
    assert_eq!(empty.len(), 32);
    let (a, n) = load_from_bytes(&empty).unwrap();
    assert!(a.is_empty() && n.is_none());
}

#[test]
fn zero_dim_arrays_round_trip() {
    // Written as MXNet 1.9.1 writes `mx.nd.array(3.0)` (§1.8: 60 bytes)...
    let s = NDArray::from_vec(Shape::scalar(), &[3.0f32], Context::cpu(0)).unwrap();
    let buf = save_to_bytes(std::slice::from_ref(&s), None).unwrap();
    let mut want = B::header(1);
    want.u32(0xF993_FAC9)
        .i32(0)
        .i32(0)
        .i32(1)
        .i32(0)
        .i32(0)
        .f32s(&[3.0])
        .u64(0);
    assert_eq!(buf, want.0);
    assert_eq!(buf.len(), 60);
    // ...and, unlike MXNet, read back as a scalar.
    let (a, _) = load_from_bytes(&buf).unwrap();
    assert_eq!(a[0].shape().ndim(), 0);
    assert_eq!(a[0].to_vec::<f32>().unwrap(), vec![3.0]);

    // Scalars among other arrays and as the last entry of dicts of every small size.
    for n in 1..=6usize {
        let mut arrays = Vec::new();
        for i in 0..n {
            arrays.push(if i % 2 == 1 {
                f32_array(&[2], &[i as f32, 1.0])
            } else {
                NDArray::from_vec(Shape::scalar(), &[i as i8], Context::cpu(0)).unwrap()
            });
        }
        for names in [
            None,
            Some((0..n).map(|i| "k".repeat(i + 1)).collect::<Vec<_>>()),
        ] {
            let buf = save_to_bytes(&arrays, names.as_deref()).unwrap();
            let (back, back_names) = load_from_bytes(&buf).unwrap();
            assert_eq!(back_names, names);
            for (x, y) in arrays.iter().zip(&back) {
                assert_eq!(x.shape(), y.shape());
                assert_eq!(x.dtype(), y.dtype());
                assert_eq!(x.to_bytes().unwrap(), y.to_bytes().unwrap());
            }
        }
    }
}

#[test]
fn none_records_load_as_empty_float32() {
    let none = |b: &[u8]| -> Vec<NDArray> {
        let (a, _) = load_from_bytes(b).unwrap();
        for x in &a {
            if x.size() == 0 {
                assert_eq!(x.shape().dims(), &[0]);
                assert_eq!(x.dtype(), DType::F32);
            }
        }
        a
    };
    // V2 "none" (ndim 0, record ends) between real arrays.
    let mut b = B::header(3);
    b.u32(0xF993_FAC9).i32(0).i32(0);
    b.v2_f32(&[1], &[5.0]);
    b.u32(0xF993_FAC9).i32(0).i32(0);
    b.u64(0);
    let a = none(&b.0);
    assert_eq!(a.len(), 3);
    assert_eq!(a[1].to_vec::<f32>().unwrap(), vec![5.0]);
    assert_eq!((a[0].size(), a[2].size()), (0, 0));

    // A trailing "none" in a 2-entry dict whose name count reads like a gpu context
    // (dev_type 2, dev_id 0) and first name length like an int8 flag.
    let mut b = B::header(2);
    b.v2_f32(&[1], &[5.0]);
    b.u32(0xF993_FAC9).i32(0).i32(0);
    b.names(&["abcde", "f"]);
    let (a, n) = load_from_bytes(&b.0).unwrap();
    assert_eq!(n.unwrap(), vec!["abcde", "f"]);
    assert_eq!(a[1].shape().dims(), &[0]);

    // V1 and pre-V1 none records, and V3 unknown shapes (ndim -1, or a dim of -1).
    let mut b = B::header(4);
    b.u32(0xF993_FAC8).i32(0);
    b.u32(0);
    b.u32(0xF993_FACA).i32(0).i32(-1);
    b.u32(0xF993_FACA).i32(0).shape(&[2, -1]);
    b.u64(0);
    let a = none(&b.0);
    assert_eq!(a.len(), 4);
    assert!(a.iter().all(|x| x.size() == 0));
}

#[test]
fn v3_and_legacy_records() {
    let mut b = B::header(4);
    // V3 scalar and V3 zero-size (0,3) as np-shape MXNet writes them (§1.8).
    b.u32(0xF993_FACA)
        .i32(0)
        .i32(0)
        .i32(1)
        .i32(0)
        .i32(0)
        .f32s(&[3.0]);
    b.u32(0xF993_FACA)
        .i32(0)
        .shape(&[0, 3])
        .i32(1)
        .i32(0)
        .i32(0);
    // V1 and pre-V1, the latter with a gpu(1) context.
    b.u32(0xF993_FAC8)
        .shape(&[2])
        .i32(1)
        .i32(0)
        .i32(4)
        .bytes(&[1, 0, 0, 0, 2, 0, 0, 0]);
    b.u32(2)
        .u32(1)
        .u32(2)
        .i32(2)
        .i32(1)
        .i32(0)
        .f32s(&[0.5, 1.5]);
    b.names(&["s", "z", "v1", "old"]);
    let (a, n) = load_from_bytes(&b.0).unwrap();
    assert_eq!(n.unwrap(), vec!["s", "z", "v1", "old"]);
    assert_eq!(a[0].shape().ndim(), 0);
    assert_eq!(a[0].to_vec::<f32>().unwrap(), vec![3.0]);
    assert_eq!(a[1].shape().dims(), &[0, 3]);
    assert_eq!(a[2].to_vec::<i32>().unwrap(), vec![1, 2]);
    assert_eq!(a[3].shape().dims(), &[1, 2]);
    assert_eq!(a[3].to_vec::<f32>().unwrap(), vec![0.5, 1.5]);
    assert!(a.iter().all(|x| x.ctx() == Context::cpu(0)));
}

#[test]
fn sparse_records_densify() {
    // All-zero csr as MXNet stores an uninitialised one: empty indptr, no values.
    let mut b = B::header(2);
    b.u32(0xF993_FAC9)
        .i32(2)
        .shape(&[0])
        .shape(&[2, 3])
        .i32(1)
        .i32(0)
        .i32(0);
    b.i32(6).shape(&[0]).i32(6).shape(&[0]);
    // row_sparse (4,2) with rows {3, 0} (unsorted) and int32 indices.
    b.u32(0xF993_FAC9)
        .i32(1)
        .shape(&[2, 2])
        .shape(&[4, 2])
        .i32(1)
        .i32(0)
        .i32(0);
    b.i32(4).shape(&[2]).f32s(&[1., 2., 3., 4.]).i32(3).i32(0);
    b.u64(0);
    let (a, _) = load_from_bytes(&b.0).unwrap();
    assert_eq!(a[0].to_vec::<f32>().unwrap(), vec![0.0; 6]);
    assert_eq!(
        a[1].to_vec::<f32>().unwrap(),
        vec![3., 4., 0., 0., 0., 0., 1., 2.]
    );

    // Rows out of range, bad indptr, and a huge densified size are errors.
    let rsp = |row: i64| {
        let mut b = B::header(1);
        b.u32(0xF993_FAC9)
            .i32(1)
            .shape(&[1, 2])
            .shape(&[4, 2])
            .i32(1)
            .i32(0)
            .i32(0);
        b.i32(6).shape(&[1]).f32s(&[1., 2.]).i64(row).u64(0);
        b.0
    };
    assert!(load_from_bytes(&rsp(3)).is_ok());
    assert!(format_err(load_from_bytes(&rsp(4))).contains("row index 4"));
    assert!(format_err(load_from_bytes(&rsp(-1))).contains("row index -1"));
    let csr = |indptr: &[i64], cols: &[i64], rows: i64| {
        let mut b = B::header(1);
        b.u32(0xF993_FAC9)
            .i32(2)
            .shape(&[cols.len() as i64])
            .shape(&[rows, 3]);
        b.i32(1).i32(0).i32(0).i32(6).shape(&[indptr.len() as i64]);
        b.i32(6).shape(&[cols.len() as i64]);
        b.f32s(&vec![1.0; cols.len()])
            .i64s(indptr)
            .i64s(cols)
            .u64(0);
        b.0
    };
    let (ok, _) = load_from_bytes(&csr(&[0, 1, 1, 2], &[0, 2], 3)).unwrap();
    assert_eq!(
        ok[0].to_vec::<f32>().unwrap(),
        vec![1., 0., 0., 0., 0., 0., 0., 0., 1.]
    );
    assert!(format_err(load_from_bytes(&csr(&[0, 2, 1, 2], &[0, 2], 3))).contains("indptr"));
    assert!(format_err(load_from_bytes(&csr(&[0, 1, 1, 2], &[0, 3], 3))).contains("column"));
    assert!(format_err(load_from_bytes(&csr(&[0, 1, 2], &[0, 2], 3))).contains("indptr"));
    let huge = csr(&[], &[], 1 << 40);
    let (err, largest) = largest_alloc(|| load_from_bytes(&huge));
    assert!(format_err(err).contains("densify"));
    assert!(largest < 1 << 20);
    assert!(densify_limit(huge.len()) >= 16 << 20);
}

#[test]
fn sparse_records_save_as_mxnet_and_report_their_stype() {
    let golden = |name: &str| std::fs::read(golden_dir().join(name)).unwrap();
    // reference §1.8: row_sparse (5,2) rows {1,3} = [[1,2],[3,4]]; csr (3,3) [1,0,0;0,0,0;0,0,2].
    let rsp = f32_array(&[5, 2], &[0., 0., 1., 2., 0., 0., 3., 4., 0., 0.]);
    let csr = f32_array(&[3, 3], &[1., 0., 0., 0., 0., 0., 0., 0., 2.]);
    let rsp_bytes =
        save_to_bytes_typed(std::slice::from_ref(&rsp), &[StorageType::RowSparse], None).unwrap();
    assert_eq!(rsp_bytes, golden("row_sparse.params"));
    let csr_bytes =
        save_to_bytes_typed(std::slice::from_ref(&csr), &[StorageType::Csr], None).unwrap();
    assert_eq!(csr_bytes, golden("csr.params"));
    let dir = std::env::temp_dir().join(format!("oxnet-sparse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.params");
    let names = ["r".to_string(), "c".to_string()];
    let both = [rsp.clone(), csr.clone()];
    let stypes = [StorageType::RowSparse, StorageType::Csr];
    save_to_file_typed(&path, &both, &stypes, Some(&names)).unwrap();
    let loaded = load_from_bytes_typed(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(loaded.stypes, stypes);
    assert_eq!(loaded.names.as_deref(), Some(&names[..]));
    assert_eq!(
        loaded.arrays[1].to_vec::<f32>().unwrap(),
        csr.to_vec::<f32>().unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
    // A csr must be 2-D; the stype list must match the arrays.
    let three_d = f32_array(&[1, 1, 1], &[1.]);
    assert!(save_to_bytes_typed(&[three_d], &[StorageType::Csr], None).is_err());
    assert!(save_to_bytes_typed(&both, &[StorageType::Csr], None).is_err());
    let dense = load_from_bytes_typed(&save_to_bytes(&both, None).unwrap()).unwrap();
    assert_eq!(dense.stypes, vec![StorageType::Default; 2]);
}

#[test]
fn corrupt_files_give_clear_errors() {
    let good = {
        let mut b = B::header(1);
        b.v2_f32(&[2], &[1.0, 2.0]).names(&["w"]);
        b.0
    };
    assert!(load_from_bytes(&good).is_ok());

    let m = format_err(load_from_bytes(&good[..10]));
    assert!(m.contains("24-byte header"), "{m}");
    let mut bad = good.clone();
    bad[0] = 0x13;
    assert!(format_err(load_from_bytes(&bad)).contains("header magic"));

    // A claimed 10^12-byte array: rejected with the offset, before allocating.
    let mut b = B::header(1);
    b.v2_f32(&[1_000_000, 1_000_000], &[]).u64(0);
    let (r, largest) = largest_alloc(|| load_from_bytes(&b.0));
    let m = format_err(r);
    assert!(largest < 4096, "allocated {largest} bytes");
    assert_eq!(
        m,
        "array 0 claims 4000000000000 bytes of data at offset 64 but only 8 remain"
    );
    let shown = Error::Format(m).to_string();
    assert!(
        shown.starts_with("Invalid NDArray file format: array 0 claims"),
        "{shown}"
    );

    let mut b = B::header(u64::MAX);
    b.u64(0);
    assert!(format_err(load_from_bytes(&b.0)).contains("arrays claimed"));

    let mut b = B::header(1);
    b.u32(0xF993_FAC9).i32(0).i32(33);
    assert!(format_err(load_from_bytes(&b.0)).contains("33 dimensions"));
    let mut b = B::header(1);
    b.u32(0xF993_FAC9)
        .i32(0)
        .shape(&[i64::MAX, i64::MAX])
        .i32(1)
        .i32(0)
        .i32(0)
        .u64(0);
    assert!(format_err(load_from_bytes(&b.0)).contains("too large"));
    let mut b = B::header(1);
    b.u32(0xF993_FAC9)
        .i32(0)
        .shape(&[-3])
        .i32(1)
        .i32(0)
        .i32(0)
        .u64(0);
    assert!(format_err(load_from_bytes(&b.0)).contains("invalid dimension -3"));
    let mut b = B::header(1);
    b.u32(0xDEAD_BEEF);
    assert!(format_err(load_from_bytes(&b.0)).contains("record magic 0xdeadbeef"));

    for (flag, text) in [
        (8, "flag 8 (int16)"),
        (11, "flag 11 (uint64)"),
        (99, "flag 99"),
    ] {
        let mut b = B::header(1);
        b.u32(0xF993_FAC9)
            .i32(0)
            .shape(&[1])
            .i32(1)
            .i32(0)
            .i32(flag)
            .u32(0)
            .u64(0);
        let m = format_err(load_from_bytes(&b.0));
        assert!(m.contains(text), "{m}");
    }
    let mut b = B::header(1);
    b.u32(0xF993_FAC9)
        .i32(0)
        .shape(&[1])
        .i32(7)
        .i32(0)
        .i32(0)
        .u32(0)
        .u64(0);
    assert!(format_err(load_from_bytes(&b.0)).contains("device type 7"));

    // Names: wrong count, bad UTF-8, overlong, trailing garbage.
    let with_names = |f: &dyn Fn(&mut B)| {
        let mut b = B::header(2);
        b.v2_f32(&[1], &[1.0]).v2_f32(&[1], &[2.0]);
        f(&mut b);
        load_from_bytes(&b.0)
    };
    assert!(format_err(with_names(&|b| {
        b.names(&["a"]);
    }))
    .contains("1 names for 2 arrays"));
    assert!(format_err(with_names(&|b| {
        b.u64(2).u64(1).bytes(b"a").u64(1).bytes(&[0xFF]);
    }))
    .contains("name 1 is not valid UTF-8"));
    assert!(format_err(with_names(&|b| {
        b.u64(2).u64(1).bytes(b"a").u64(1 << 50);
    }))
    .contains("name 1 claims"));
    assert!(format_err(with_names(&|b| {
        b.names(&["a", "b"]).bytes(b"x");
    }))
    .contains("1 unexpected bytes"));
    assert!(format_err(with_names(&|b| {
        b.u64(0).bytes(b"junk");
    }))
    .contains("4 unexpected bytes"));
    assert!(with_names(&|b| {
        b.names(&["a", "b"]);
    })
    .is_ok());
}

#[test]
fn files_save_atomically_and_missing_files_are_io_errors() {
    let dir = std::env::temp_dir().join(format!("oxnet_io_test_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("w.params");
    let a = f32_array(&[3], &[1.0, 2.0, 3.0]);
    let names = vec!["arg:w".to_string()];
    save_to_file(&path, std::slice::from_ref(&a), Some(&names)).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        bytes,
        save_to_bytes(std::slice::from_ref(&a), Some(&names)).unwrap()
    );
    let (back, n) = load_from_file(&path).unwrap();
    assert_eq!(n.unwrap(), names);
    assert_eq!(back[0].to_vec::<f32>().unwrap(), vec![1.0, 2.0, 3.0]);

    // A failed save (bad names) leaves the old file and no temporary behind.
    let two = vec!["a".to_string(), "b".to_string()];
    assert!(save_to_file(&path, std::slice::from_ref(&a), Some(&two)).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    // Overwriting works and leaves only the one file.
    save_to_file(&path, &[a.clone(), a.clone()], None).unwrap();
    assert_eq!(load_from_file(&path).unwrap().0.len(), 2);
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(left.len(), 1, "temporary files left behind");

    match load_from_file(dir.join("missing.params")) {
        Err(Error::Io { path, msg }) => {
            assert_eq!(msg, "No such file or directory");
            assert!(path.ends_with("missing.params"));
        }
        other => panic!("{other:?}"),
    }
    match save_to_file(dir.join("no/such/dir/x.params"), &[a], None) {
        Err(Error::Io { msg, .. }) => assert_eq!(msg, "No such file or directory"),
        other => panic!("{other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------
// Random round trips
// ---------------------------------------------------------------------------------------

mod roundtrip {
    use super::*;
    use proptest::prelude::*;

    fn array_strategy() -> impl Strategy<Value = (usize, Vec<usize>, Vec<u8>)> {
        (
            0..DType::ALL.len(),
            proptest::collection::vec(0usize..5, 0..5),
        )
            .prop_flat_map(|(d, dims)| {
                let dtype = DType::ALL[d];
                let n = dims.iter().product::<usize>() * dtype.size();
                // Bool arrays hold 0/1 bytes; others any bit pattern (NaNs included).
                let byte = if dtype == DType::Bool {
                    (0u8..2).boxed()
                } else {
                    any::<u8>().boxed()
                };
                (Just(d), Just(dims), proptest::collection::vec(byte, n))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        #[test]
        fn save_load_round_trip(
            specs in proptest::collection::vec(array_strategy(), 0..6),
            as_dict in any::<bool>(),
        ) {
            let arrays: Vec<NDArray> = specs
                .iter()
                .map(|(d, dims, bytes)| {
                    NDArray::from_bytes(Shape::new(dims.clone()), DType::ALL[*d], Context::cpu(0), bytes)
                        .unwrap()
                })
                .collect();
            let names: Option<Vec<String>> =
                as_dict.then(|| (0..arrays.len()).map(|i| format!("p{i}:é")).collect());
            let buf = save_to_bytes(&arrays, names.as_deref()).unwrap();
            let (back, back_names) = load_from_bytes(&buf).unwrap();
            // An empty dict is an empty list on disk, as in MXNet.
            let want_names = names.filter(|n| !n.is_empty());
            prop_assert_eq!(&back_names, &want_names);
            prop_assert_eq!(back.len(), arrays.len());
            for (x, y) in arrays.iter().zip(&back) {
                prop_assert_eq!(x.shape(), y.shape());
                prop_assert_eq!(x.dtype(), y.dtype());
                prop_assert_eq!(x.to_bytes().unwrap(), y.to_bytes().unwrap());
            }
            prop_assert_eq!(save_to_bytes(&back, back_names.as_deref()).unwrap(), buf);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Mutation fuzz
// ---------------------------------------------------------------------------------------

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Loads `buf`, which must neither panic nor allocate beyond what the file's bytes back
/// (plus the densify allowance for sparse records).
fn load_safely(buf: &[u8], what: &str) -> bool {
    let (res, largest) = largest_alloc(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load_from_bytes(buf)))
    });
    let res = res.unwrap_or_else(|_| panic!("load panicked on {what}: {buf:02x?}"));
    let bound = densify_limit(buf.len()) + (1 << 20);
    assert!(
        largest <= bound,
        "{what}: allocated {largest} bytes from a {}-byte file",
        buf.len()
    );
    if let Err(e) = &res {
        assert!(
            matches!(e, Error::Format(_)),
            "{what}: unexpected error kind {e:?}"
        );
        assert!(
            e.to_string().contains("offset") || e.to_string().contains("header"),
            "{e}"
        );
    }
    res.is_ok()
}

#[test]
fn fuzz_truncations_and_byte_flips_never_panic() {
    // Warm the runtime so its one-time allocations are not blamed on the loader.
    let _ = f32_array(&[1], &[0.0]);
    // The tracker itself must see allocations, or every bound below holds vacuously.
    let (v, seen) = largest_alloc(|| vec![0u8; 1 << 20]);
    assert!(seen >= v.len());
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut loaded_ok = 0usize;
    let mut cases = 0usize;
    for (name, info) in golden_files() {
        let orig = golden_bytes(&info);
        for cut in 0..orig.len() {
            // Every proper prefix is missing bytes the format requires.
            assert!(
                !load_safely(&orig[..cut], &format!("{name} cut at {cut}")),
                "{name}@{cut}"
            );
            cases += 1;
        }
        for m in 0..600 {
            let mut buf = orig.clone();
            let flips = 1 + rng.below(4);
            for _ in 0..flips {
                let at = rng.below(buf.len());
                match rng.below(3) {
                    0 => buf[at] ^= 1 << rng.below(8),
                    1 => buf[at] = rng.next() as u8,
                    // Large values land in counts and dims.
                    _ => buf[at] = [0x00, 0x7F, 0x80, 0xFF][rng.below(4)],
                }
            }
            loaded_ok += load_safely(&buf, &format!("{name} mutation {m}")) as usize;
            cases += 1;
        }
    }
    println!("fuzz: {cases} inputs, {loaded_ok} loaded");
    assert!(cases > 4000, "{cases}");
    // Flipping data bytes still yields loadable files: the fuzz reaches deep into records.
    assert!(loaded_ok > 100, "{loaded_ok}");
}

// ---------------------------------------------------------------------------------------
// Throughput (release mode): cargo test --release --test ndarray_io -- --ignored --nocapture
// ---------------------------------------------------------------------------------------

#[test]
#[ignore]
fn throughput_dict_of_20_1m_f32() {
    let n = 1 << 20;
    let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
    let arrays: Vec<NDArray> = (0..20).map(|_| f32_array(&[1024, 1024], &data)).collect();
    let names: Vec<String> = (0..20).map(|i| format!("arg:layer{i}_weight")).collect();
    let mb = (20 * n * 4) as f64 / 1e6;
    let path = std::env::temp_dir().join(format!("oxnet_tp_{}.params", std::process::id()));
    let time = |f: &mut dyn FnMut()| {
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = std::time::Instant::now();
            f();
            best = best.min(t.elapsed().as_secs_f64());
        }
        best
    };
    let mut buf = Vec::new();
    let t_save_mem = time(&mut || buf = save_to_bytes(&arrays, Some(&names)).unwrap());
    let t_load_mem = time(&mut || {
        load_from_bytes(&buf).unwrap();
    });
    let t_save_file = time(&mut || save_to_file(&path, &arrays, Some(&names)).unwrap());
    let t_load_file = time(&mut || {
        load_from_file(&path).unwrap();
    });
    std::fs::remove_file(&path).unwrap();
    println!("20 x 1M float32 ({mb:.0} MB):");
    println!("  save_to_bytes  {:8.0} MB/s", mb / t_save_mem);
    println!("  load_from_bytes{:8.0} MB/s", mb / t_load_mem);
    println!(
        "  save_to_file   {:8.0} MB/s (incl. fsync)",
        mb / t_save_file
    );
    println!("  load_from_file {:8.0} MB/s", mb / t_load_file);
}
