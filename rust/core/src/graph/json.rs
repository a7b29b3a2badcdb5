//! MXNet's symbol JSON (`tojson`, `save`, `load_json`): the writer reproduces MXNet 1.9.1's
//! bytes (dmlc `JSONWriter` layout); the reader accepts every MXNet 1.x file, upgrades legacy
//! (0.8-style) graphs like `legacy_json_util.cc`, and turns any malformed input into an error.
//!
//! Reader invariants: a node may only read nodes listed before it (so the graph is acyclic and
//! building it terminates); every entry names an existing output; nesting depth is bounded by
//! serde_json's recursion limit.

use super::node::{topo_order, Entry, Node};
use super::symbol::{
    declared_count, input_names, input_var_init, node_ptr, set_attr, Symbol, HIDDEN_KEYS,
};
use crate::error::{Error, Result};
use crate::op::control_flow::create_with_subgraphs;
use crate::op::{registry, Inputs};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// The version written into `attrs.mxnet_version` (1.9.1).
pub const MXNET_VERSION: i64 = 10901;

// ---------------------------------------------------------------------------------------------
// Writer

/// dmlc's JSONWriter: a scope stack of (multi_line, items written).
struct Writer {
    out: String,
    scopes: Vec<(bool, usize)>,
}

impl Writer {
    fn begin(&mut self, open: char, multi_line: bool) {
        self.out.push(open);
        self.scopes.push((multi_line, 0));
    }

    fn end(&mut self, close: char) {
        if let Some((multi, count)) = self.scopes.pop() {
            if multi && count > 0 {
                self.out.push('\n');
                self.indent(self.scopes.len());
            }
        }
        self.out.push(close);
    }

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth * 2 {
            self.out.push(' ');
        }
    }

    /// Separator before an item: `", "` after the first, then newline + indent when the
    /// container is multi-line (hence MXNet's trailing spaces).
    fn item(&mut self) {
        let depth = self.scopes.len();
        if let Some((multi, count)) = self.scopes.last_mut() {
            if *count > 0 {
                self.out.push_str(", ");
            }
            *count += 1;
            if *multi {
                self.out.push('\n');
                self.indent(depth);
            }
        }
    }

    fn key(&mut self, k: &str) {
        self.item();
        self.string(k);
        self.out.push_str(": ");
    }

    fn string(&mut self, s: &str) {
        self.out.push('"');
        for ch in s.chars() {
            match ch {
                '\r' => self.out.push_str("\\r"),
                '\n' => self.out.push_str("\\n"),
                '\\' => self.out.push_str("\\\\"),
                '\t' => self.out.push_str("\\t"),
                '"' => self.out.push_str("\\\""),
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    /// An array of ints: one line up to 10 items, one item per line beyond.
    fn int_array(&mut self, v: &[usize]) {
        self.begin('[', v.len() > 10);
        for x in v {
            self.item();
            let _ = write!(self.out, "{x}");
        }
        self.end(']');
    }

    /// Entries `[node, index, version]`: each entry on one line; the list multi-line beyond
    /// 10 entries (dmlc treats the entry struct as plain data).
    fn entries(&mut self, v: &[(usize, usize, usize)]) {
        self.begin('[', v.len() > 10);
        for &(n, i, ver) in v {
            self.item();
            let _ = write!(self.out, "[{n}, {i}, {ver}]");
        }
        self.end(']');
    }

    fn str_map(&mut self, kv: &[(String, String)]) {
        self.begin('{', kv.len() > 1);
        for (k, v) in kv {
            self.key(k);
            self.string(v);
        }
        self.end('}');
    }
}

/// `sym.tojson()`: MXNet 1.9.1's exact bytes (no trailing newline).
pub fn to_json(sym: &Symbol) -> String {
    let mut w = Writer {
        out: String::new(),
        scopes: Vec::new(),
    };
    write_graph(&mut w, &sym.outputs, true, true);
    w.out
}

/// One graph object; control-flow nodes nest their subgraphs (without `attrs`) as MXNet does.
/// `bump_versions`: whether ops that mutate a variable bump its version. MXNet's graph
/// partitioner builds the subgraphs of `_sg_mkldnn_*` nodes from fresh entries that never
/// bump, so their BatchNorm statistics stay at version 0 there.
fn write_graph(w: &mut Writer, outputs: &[Entry], top: bool, bump_versions: bool) {
    let order = topo_order(outputs);
    let index: HashMap<usize, usize> = order
        .iter()
        .enumerate()
        .map(|(i, n)| (node_ptr(n), i))
        .collect();
    let id = |n: &Arc<Node>| index.get(&node_ptr(n)).copied().unwrap_or(0);
    // nnvm bumps a variable's version each time an op mutates it; readers see the current one.
    let mut versions: HashMap<usize, usize> = HashMap::new();
    w.begin('{', true);
    w.key("nodes");
    w.begin('[', true);
    for n in &order {
        let mutated: &[usize] = n.op.as_ref().map_or(&[], |o| o.aux_inputs());
        let inputs: Vec<(usize, usize, usize)> = n
            .inputs
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut ver = 0;
                if e.node.is_variable() {
                    let v = versions.entry(node_ptr(&e.node)).or_insert(0);
                    if bump_versions && mutated.contains(&i) {
                        *v += 1;
                    }
                    ver = *v;
                }
                (id(&e.node), e.index, ver)
            })
            .collect();
        w.item();
        w.begin('{', true);
        w.key("op");
        w.string(&n.op_name);
        w.key("name");
        w.string(&n.name);
        let attrs = sorted_attrs(&n.attrs());
        if !attrs.is_empty() {
            w.key("attrs");
            w.str_map(&attrs);
        }
        w.key("inputs");
        w.entries(&inputs);
        let subgraphs = n.op.as_ref().map_or(&[][..], |o| o.subgraphs());
        if !subgraphs.is_empty() {
            w.key("subgraphs");
            w.begin('[', true);
            for g in subgraphs {
                w.item();
                write_graph(w, &g.outputs, false, !n.op_name.starts_with("_sg_mkldnn_"));
            }
            w.end(']');
        }
        w.end('}');
    }
    w.end(']');
    let arg_nodes: Vec<usize> = order
        .iter()
        .enumerate()
        .filter(|(_, n)| n.is_variable())
        .map(|(i, _)| i)
        .collect();
    w.key("arg_nodes");
    w.int_array(&arg_nodes);
    let mut row_ptr = vec![0usize];
    for n in &order {
        let last = row_ptr.last().copied().unwrap_or(0);
        row_ptr.push(last + json_num_outputs(n));
    }
    w.key("node_row_ptr");
    w.int_array(&row_ptr);
    let heads: Vec<(usize, usize, usize)> =
        outputs.iter().map(|e| (id(&e.node), e.index, 0)).collect();
    w.key("heads");
    w.entries(&heads);
    if top {
        w.key("attrs");
        w.begin('{', false);
        w.key("mxnet_version");
        w.out += &format!("[\"int\", {MXNET_VERSION}]");
        w.end('}');
    }
    w.end('}');
}

/// The output count MXNet 1.9.1 writes for a node, hidden outputs included, so that files
/// match MXNet's byte for byte.
fn json_num_outputs(n: &Node) -> usize {
    n.op.as_ref()
        .map_or_else(|| n.num_outputs(), |op| op.mxnet_num_outputs())
}

/// A node's attributes as MXNet's `std::map`: last value per key, sorted by key bytes.
fn sorted_attrs(attrs: &[(String, String)]) -> Vec<(String, String)> {
    let mut m: Vec<(String, String)> = Vec::with_capacity(attrs.len());
    for (k, v) in attrs {
        set_attr(&mut m, k.clone(), v.clone());
    }
    m.sort_by(|a, b| a.0.cmp(&b.0));
    m
}

// ---------------------------------------------------------------------------------------------
// Reader

/// Messages MXNet logs while loading (legacy upgrades, newer versions).
#[derive(Debug, Default, Clone)]
pub struct LoadLog {
    pub info: Vec<String>,
    pub warnings: Vec<String>,
}

fn jerr(msg: impl Into<String>) -> Error {
    Error::Io {
        path: "JSONReader".into(),
        msg: msg.into(),
    }
}

fn unknown_field(key: &str, candidates: &[&str]) -> Error {
    let mut c: Vec<&str> = candidates.to_vec();
    c.sort_unstable();
    let mut msg = format!("Unknown field {key}, candidates are: \n");
    for x in c {
        msg += &format!("\"{x}\"\n");
    }
    jerr(msg)
}

fn check_fields(
    obj: &Map<String, Value>,
    known: &[&str],
    required: &[&str],
    what: &str,
) -> Result<()> {
    for k in obj.keys() {
        if !known.contains(&k.as_str()) {
            return Err(unknown_field(k, known));
        }
    }
    for r in required {
        if !obj.contains_key(*r) {
            return Err(jerr(format!("Missing field \"{r}\" in {what}")));
        }
    }
    Ok(())
}

fn as_index(v: &Value, what: &str) -> Result<usize> {
    v.as_u64()
        .and_then(|x| usize::try_from(x).ok())
        .ok_or_else(|| jerr(format!("{what} must be a non-negative integer, got {v}")))
}

/// `[node, index]` or `[node, index, version]`.
fn parse_entry(v: &Value, what: &str) -> Result<(usize, usize)> {
    let arr = v
        .as_array()
        .filter(|a| a.len() == 2 || a.len() == 3)
        .ok_or_else(|| jerr(format!("{what} must be [node_id, index, version], got {v}")))?;
    let node = as_index(&arr[0], &format!("{what} node id"))?;
    let index = as_index(&arr[1], &format!("{what} output index"))?;
    if let Some(ver) = arr.get(2) {
        as_index(ver, &format!("{what} version"))?;
    }
    Ok((node, index))
}

fn parse_str_map(v: &Value, what: &str, into: &mut Vec<(String, String)>) -> Result<()> {
    let obj = v
        .as_object()
        .ok_or_else(|| jerr(format!("{what} must be an object of strings, got {v}")))?;
    for (k, x) in obj {
        let s = match x {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
            _ => {
                return Err(jerr(format!(
                    "{what}: value of {k} must be a string, got {x}"
                )))
            }
        };
        set_attr(into, k.clone(), s);
    }
    Ok(())
}

/// A node as read, before upgrades and op construction.
struct RawNode {
    op: String,
    name: String,
    attrs: Vec<(String, String)>,
    inputs: Vec<(usize, usize)>,
    /// Graph objects of a control-flow node, loaded when the node is built.
    subgraphs: Vec<Value>,
}

fn parse_node(i: usize, v: &Value) -> Result<RawNode> {
    let what = format!("node {i}");
    let obj = v
        .as_object()
        .ok_or_else(|| jerr(format!("{what} must be an object, got {v}")))?;
    check_fields(
        obj,
        &[
            "op",
            "name",
            "inputs",
            "attrs",
            "attr",
            "param",
            "control_deps",
            "subgraphs",
            "backward_source_id",
        ],
        &["op", "name", "inputs"],
        &what,
    )?;
    let get_str = |k: &str| -> Result<String> {
        obj.get(k)
            .and_then(|x| x.as_str())
            .map(str::to_string)
            .ok_or_else(|| jerr(format!("{what}: \"{k}\" must be a string")))
    };
    let op = get_str("op")?;
    let name = get_str("name")?;
    let what = format!("node {i} ({name})");
    let mut attrs = Vec::new();
    for k in ["param", "attr", "attrs"] {
        if let Some(a) = obj.get(k) {
            parse_str_map(a, &format!("{what} {k}"), &mut attrs)?;
        }
    }
    let inputs = obj
        .get("inputs")
        .and_then(|x| x.as_array())
        .ok_or_else(|| jerr(format!("{what}: \"inputs\" must be an array")))?
        .iter()
        .map(|e| parse_entry(e, &format!("{what} input")))
        .collect::<Result<Vec<_>>>()?;
    if let Some(c) = obj.get("control_deps") {
        let deps = c
            .as_array()
            .ok_or_else(|| jerr(format!("{what}: \"control_deps\" must be an array")))?;
        for d in deps {
            as_index(d, &format!("{what} control dependency"))?;
        }
    }
    let subgraphs = match obj.get("subgraphs") {
        None => Vec::new(),
        Some(s) => s
            .as_array()
            .ok_or_else(|| jerr(format!("{what}: \"subgraphs\" must be an array of graphs")))?
            .clone(),
    };
    if let Some(b) = obj.get("backward_source_id") {
        if !b.is_i64() {
            return Err(jerr(format!(
                "{what}: \"backward_source_id\" must be an integer"
            )));
        }
    }
    Ok(RawNode {
        op,
        name,
        attrs,
        inputs,
        subgraphs,
    })
}

fn version_text(v: i64) -> String {
    format!("v{}.{}.{}", v / 10000, (v / 100) % 100, v % 100)
}

/// `mx.sym.load_json(text)`.
pub fn load_json(text: &str) -> Result<Symbol> {
    load_json_logged(text).map(|(s, _)| s)
}

/// `load_json` plus the messages MXNet would log (upgrades of older files).
pub fn load_json_logged(text: &str) -> Result<(Symbol, LoadLog)> {
    let root: Value = serde_json::from_str(text).map_err(|e| jerr(format!("invalid JSON: {e}")))?;
    let obj = root
        .as_object()
        .ok_or_else(|| jerr("a symbol JSON must be an object with \"nodes\" and \"heads\""))?;
    check_fields(
        obj,
        &["nodes", "arg_nodes", "node_row_ptr", "heads", "attrs"],
        &["nodes", "arg_nodes", "heads"],
        "the graph",
    )?;
    let mut log = LoadLog::default();
    let version = match obj.get("attrs") {
        None => None,
        Some(a) => {
            let a = a
                .as_object()
                .ok_or_else(|| jerr("\"attrs\" must be an object"))?;
            match a.get("mxnet_version") {
                None => None,
                Some(v) => {
                    let pair = v.as_array().filter(|p| p.len() == 2);
                    let n = pair.and_then(|p| p[1].as_i64()).ok_or_else(|| {
                        jerr(format!("attrs.mxnet_version must be [\"int\", N], got {v}"))
                    })?;
                    Some(n)
                }
            }
        }
    };
    let version = version.unwrap_or(800);
    if version > MXNET_VERSION {
        log.warnings.push(format!(
            "Warning: loading symbol saved by MXNet version {version} with lower version of \
             MXNet {}. May cause undefined behavior. Please update MXNet if you encounter any issue",
            version_text(MXNET_VERSION)
        ));
    } else if version < MXNET_VERSION {
        log.info.push(format!(
            "Loading symbol saved by previous version {}. Attempting to upgrade...",
            version_text(version)
        ));
    }
    let sym = load_graph(obj, version)?;
    if version < MXNET_VERSION {
        log.info.push("Symbol successfully upgraded!".into());
    }
    Ok((sym, log))
}

/// The nodes and heads of one graph object (the file's, or a control-flow node's subgraph).
fn load_graph(obj: &Map<String, Value>, version: i64) -> Result<Symbol> {
    let mut nodes: Vec<RawNode> = obj
        .get("nodes")
        .and_then(|n| n.as_array())
        .ok_or_else(|| jerr("\"nodes\" must be an array"))?
        .iter()
        .enumerate()
        .map(|(i, v)| parse_node(i, v))
        .collect::<Result<_>>()?;
    let n_nodes = nodes.len();
    for (k, what) in [("arg_nodes", "arg_nodes"), ("node_row_ptr", "node_row_ptr")] {
        if let Some(v) = obj.get(k) {
            let arr = v
                .as_array()
                .ok_or_else(|| jerr(format!("\"{k}\" must be an array of integers")))?;
            for x in arr {
                as_index(x, what)?;
            }
        }
    }
    let heads: Vec<(usize, usize)> = obj
        .get("heads")
        .and_then(|h| h.as_array())
        .ok_or_else(|| jerr("\"heads\" must be an array"))?
        .iter()
        .map(|e| parse_entry(e, "head"))
        .collect::<Result<_>>()?;
    for (i, n) in nodes.iter().enumerate() {
        for &(src, _) in &n.inputs {
            if src >= i {
                return Err(jerr(format!(
                    "node {i} ({}) reads node {src}, which is not listed before it \
                     (nodes must be in topological order; {n_nodes} nodes)",
                    n.name
                )));
            }
        }
    }
    for &(h, _) in &heads {
        if h >= n_nodes {
            return Err(jerr(format!(
                "head refers to node {h}, but the graph has {n_nodes} nodes"
            )));
        }
    }
    upgrade(&mut nodes, version)?;
    let built = build(&nodes)?;
    let outputs = heads
        .iter()
        .map(|&(h, i)| entry_checked(&built, h, i, "head"))
        .collect::<Result<Vec<_>>>()?;
    Ok(Symbol { outputs })
}

/// A control-flow node's subgraph: a graph object like the file's, without version upgrades
/// (control flow postdates them).
fn load_subgraph(v: &Value, what: &str) -> Result<Symbol> {
    let obj = v.as_object().ok_or_else(|| {
        jerr(format!(
            "{what} must be a graph object with \"nodes\" and \"heads\""
        ))
    })?;
    check_fields(
        obj,
        &["nodes", "arg_nodes", "node_row_ptr", "heads", "attrs"],
        &["nodes", "arg_nodes", "heads"],
        what,
    )
    .and_then(|_| load_graph(obj, MXNET_VERSION))
    .map_err(|e| {
        jerr(format!(
            "{what}: {}",
            e.to_string().trim_start_matches("JSONReader: ")
        ))
    })
}

fn entry_checked(built: &[Arc<Node>], id: usize, index: usize, what: &str) -> Result<Entry> {
    let n = built
        .get(id)
        .ok_or_else(|| jerr(format!("{what} refers to missing node {id}")))?;
    if index >= n.num_outputs() {
        return Err(jerr(format!(
            "{what} reads output {index} of node {id} ({}), which has {} output(s)",
            n.name,
            n.num_outputs()
        )));
    }
    Ok(n.entry(index))
}

/// `legacy_json_util.cc`: hidden keys, missing inputs (< 0.9.0), aux `__init__` (< 0.9.4),
/// argmax/argmin `axis=-1` (< 0.9.5). New nodes are appended (ids beyond the original ones).
fn upgrade(nodes: &mut Vec<RawNode>, version: i64) -> Result<()> {
    let n_orig = nodes.len();
    for i in 0..n_orig {
        if nodes[i].op == "null" {
            let attrs = std::mem::take(&mut nodes[i].attrs);
            nodes[i].attrs = attrs
                .into_iter()
                .map(|(k, v)| {
                    if HIDDEN_KEYS.contains(&k.as_str()) {
                        (format!("__{k}__"), v)
                    } else {
                        (k, v)
                    }
                })
                .collect();
            continue;
        }
        let op_name = nodes[i].op.clone();
        if version < 905 && (op_name == "argmax" || op_name == "argmin") {
            nodes[i].attrs.retain(|(k, v)| !(k == "axis" && v == "-1"));
        }
        let fixed = match registry().get(&op_name) {
            Ok(d) => match d.inputs() {
                Inputs::Fixed(names) => Some(names),
                Inputs::Variadic { .. } | Inputs::Grouped { .. } | Inputs::Dynamic => None,
            },
            Err(_) => {
                return Err(jerr(format!(
                    "Failed loading Op {} of type {op_name}: Operator {op_name} is not registered",
                    nodes[i].name
                )))
            }
        };
        // Move hidden keys: `lr_mult` -> `__lr_mult__`; `weight_lr_mult` onto input `weight`.
        let mut keep = Vec::new();
        let mut to_inputs: Vec<(String, String, String)> = Vec::new();
        for (k, v) in std::mem::take(&mut nodes[i].attrs) {
            if HIDDEN_KEYS.contains(&k.as_str()) {
                keep.push((format!("__{k}__"), v));
                continue;
            }
            let suffix = HIDDEN_KEYS.iter().find(|h| {
                k.len() > h.len() + 1
                    && k.ends_with(*h)
                    && k.as_bytes()[k.len() - h.len() - 1] == b'_'
                    && !k.starts_with("__")
            });
            match suffix {
                Some(h) => {
                    to_inputs.push((k[..k.len() - h.len() - 1].to_string(), h.to_string(), v))
                }
                None => keep.push((k, v)),
            }
        }
        nodes[i].attrs = keep;
        if let (Some(names), false) = (fixed, to_inputs.is_empty()) {
            for (arg, h, v) in to_inputs {
                if let Some(pos) = names.iter().position(|n| *n == arg) {
                    if let Some(&(src, _)) = nodes[i].inputs.get(pos) {
                        if nodes[src].op == "null" {
                            set_attr(&mut nodes[src].attrs, format!("__{h}__"), v);
                        }
                    }
                }
            }
        }
        let Some(_) = fixed else { continue };
        let op = registry()
            .get(&op_name)?
            .create(&nodes[i].attrs)
            .map_err(|e| node_error(i, &nodes[i], e))?;
        let names = input_names(&op_name, op.as_ref(), 0)?;
        if version < 900 && nodes[i].inputs.len() < names.len() {
            for name in &names[nodes[i].inputs.len()..] {
                let var = RawNode {
                    op: "null".into(),
                    name: format!("{}_{}", nodes[i].name, name),
                    attrs: nodes[i].attrs.clone(),
                    inputs: Vec::new(),
                    subgraphs: Vec::new(),
                };
                nodes.push(var);
                let id = nodes.len() - 1;
                nodes[i].inputs.push((id, 0));
            }
        }
        if version < 904 {
            for (m, name) in names.iter().enumerate() {
                let Some(&(src, _)) = nodes[i].inputs.get(m) else {
                    continue;
                };
                let Some(init) = input_var_init(&op_name, name) else {
                    continue;
                };
                let var = &mut nodes[src];
                if var.op == "null" && !var.attrs.iter().any(|(k, _)| k == "__init__") {
                    var.attrs.push(("__init__".into(), init.into()));
                }
            }
        }
    }
    Ok(())
}

fn node_error(i: usize, n: &RawNode, e: Error) -> Error {
    jerr(format!("node {i} ({}, op {}): {e}", n.name, n.op))
}

/// Builds nodes: appended upgrade variables first (they have no inputs), then the listed
/// nodes in order, each reading only earlier ones.
fn build(nodes: &[RawNode]) -> Result<Vec<Arc<Node>>> {
    let mut built: Vec<Option<Arc<Node>>> = vec![None; nodes.len()];
    let mut order: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].inputs.is_empty())
        .collect();
    order.extend((0..nodes.len()).filter(|&i| !nodes[i].inputs.is_empty()));
    for i in order {
        let n = &nodes[i];
        let node = if n.op == "null" {
            if !n.inputs.is_empty() {
                return Err(jerr(format!(
                    "node {i} ({}) is a variable but lists inputs",
                    n.name
                )));
            }
            Node::variable(n.name.clone(), n.attrs.clone())
        } else {
            let def = registry().get(&n.op).map_err(|e| node_error(i, n, e))?;
            let op = if n.subgraphs.is_empty() {
                def.create(&n.attrs).map_err(|e| node_error(i, n, e))?
            } else {
                let subs = n
                    .subgraphs
                    .iter()
                    .enumerate()
                    .map(|(k, v)| load_subgraph(v, &format!("node {i} ({}) subgraph {k}", n.name)))
                    .collect::<Result<Vec<_>>>()?;
                create_with_subgraphs(&n.op, &n.attrs, subs).map_err(|e| node_error(i, n, e))?
            };
            let expected = match def.inputs() {
                Inputs::Fixed(_) | Inputs::Grouped { .. } | Inputs::Dynamic => {
                    Some(input_names(&n.op, op.as_ref(), 0)?.len())
                }
                Inputs::Variadic { .. } if !op.input_names().is_empty() => {
                    Some(op.input_names().len())
                }
                Inputs::Variadic { count_param, .. } => declared_count(&n.attrs, count_param),
            };
            if let Some(e) = expected {
                if e != n.inputs.len() {
                    return Err(jerr(format!(
                        "node {i} ({}, op {}) has {} input(s), the operator takes {e}",
                        n.name,
                        n.op,
                        n.inputs.len()
                    )));
                }
            }
            let mut inputs = Vec::with_capacity(n.inputs.len());
            for &(src, idx) in &n.inputs {
                let Some(Some(s)) = built.get(src) else {
                    return Err(jerr(format!(
                        "node {i} ({}) reads node {src}, which is not defined before it",
                        n.name
                    )));
                };
                if idx >= s.num_outputs() {
                    return Err(jerr(format!(
                        "node {i} ({}) reads output {idx} of node {src} ({}), which has {} output(s)",
                        n.name,
                        s.name,
                        s.num_outputs()
                    )));
                }
                inputs.push(s.entry(idx));
            }
            Arc::new(Node {
                op: Some(op),
                op_name: n.op.clone(),
                name: n.name.clone(),
                attrs: std::sync::Mutex::new(n.attrs.clone()),
                inputs,
                values: std::sync::Mutex::new(None),
                leaf_grad: std::sync::Mutex::new(None),
            })
        };
        built[i] = Some(node);
    }
    built
        .into_iter()
        .enumerate()
        .map(|(i, b)| b.ok_or_else(|| jerr(format!("node {i} could not be built"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(n: &str) -> Symbol {
        Symbol::variable(n, vec![])
    }

    #[test]
    fn group_with_scalar_matches_mxnet_bytes() {
        let b = var("b");
        let m = Symbol::create(
            "_mul_scalar",
            "_mulscalar0",
            &[("scalar".into(), "2".into())],
            std::slice::from_ref(&b),
            &[],
        )
        .unwrap();
        let g = Symbol::group(&[b, m]);
        let expect = "{\n  \"nodes\": [\n    {\n      \"op\": \"null\", \n      \"name\": \"b\", \n      \"inputs\": []\n    }, \n    {\n      \"op\": \"_mul_scalar\", \n      \"name\": \"_mulscalar0\", \n      \"attrs\": {\"scalar\": \"2\"}, \n      \"inputs\": [[0, 0, 0]]\n    }\n  ], \n  \"arg_nodes\": [0], \n  \"node_row_ptr\": [0, 1, 2], \n  \"heads\": [[0, 0, 0], [1, 0, 0]], \n  \"attrs\": {\"mxnet_version\": [\"int\", 10901]}\n}";
        assert_eq!(to_json(&g), expect);
        let back = load_json(expect).unwrap();
        assert_eq!(to_json(&back), expect);
    }

    #[test]
    fn multi_key_attrs_and_escapes() {
        let x = Symbol::variable(
            "x",
            vec![
                ("k".into(), "a\"b\\c\td\ne".into()),
                ("__init__".into(), "zeros".into()),
            ],
        );
        let j = to_json(&x);
        assert!(j.contains(
            "\"attrs\": {\n        \"__init__\": \"zeros\", \n        \"k\": \"a\\\"b\\\\c\\td\\ne\"\n      }, "
        ));
        let back = load_json(&j).unwrap();
        assert_eq!(to_json(&back), j);
    }

    #[test]
    fn errors_are_clear() {
        let e = load_json("{\"nodes\": [{\"op\":\"null\",\"name\":\"a\",\"inputs\":[]}], \"arg_nodes\": [0], \"heads\": [[0,0,0]], \"foo\": 1}").unwrap_err();
        assert_eq!(e.to_string(), "JSONReader: Unknown field foo, candidates are: \n\"arg_nodes\"\n\"attrs\"\n\"heads\"\n\"node_row_ptr\"\n\"nodes\"\n");
        for bad in [
            "",
            "{",
            "[]",
            "{\"nodes\": []}",
            "{\"nodes\": [{\"op\":\"Foo\",\"name\":\"a\",\"inputs\":[]}], \"arg_nodes\": [], \"heads\": [[0,0,0]]}",
            "{\"nodes\": [{\"op\":\"null\",\"name\":\"a\",\"inputs\":[]}], \"arg_nodes\": [0], \"heads\": [[3,0,0]]}",
            "{\"nodes\": [{\"op\":\"null\",\"name\":\"a\",\"inputs\":[[0,0,0]]}], \"arg_nodes\": [0], \"heads\": [[0,0,0]]}",
            "{\"nodes\": [{\"op\":\"null\",\"name\":\"a\",\"inputs\":[]}], \"arg_nodes\": [0], \"heads\": [[0,1,0]]}",
            "{\"nodes\": [{\"op\":\"null\",\"name\":\"a\",\"inputs\":[]}], \"arg_nodes\": [-1], \"heads\": [[0,0,0]]}",
        ] {
            assert!(load_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn legacy_adds_missing_inputs() {
        let j = "{\"nodes\": [{\"op\":\"null\",\"name\":\"a\",\"inputs\":[]},{\"op\":\"elemwise_add\",\"name\":\"p\",\"param\":{},\"attr\":{\"lr_mult\":\"2\"},\"inputs\":[[0,0]],\"backward_source_id\":-1}], \"arg_nodes\": [0], \"heads\": [[1,0]]}";
        let (s, log) = load_json_logged(j).unwrap();
        assert_eq!(
            s.list_arguments(),
            vec!["a".to_string(), "p_rhs".to_string()]
        );
        assert_eq!(s.attr("__lr_mult__").as_deref(), Some("2"));
        assert_eq!(log.info.len(), 2);
    }

    fn mutate(bytes: &mut Vec<u8>, seed: &mut u64) {
        let mut next = || {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed
        };
        let alphabet = b"{}[],:\"0123456789-eE. nulltrue";
        for _ in 0..(next() % 4 + 1) {
            if bytes.is_empty() {
                bytes.push(b'{');
            }
            let pos = (next() as usize) % bytes.len();
            match next() % 4 {
                0 => {
                    bytes.remove(pos);
                }
                1 => bytes.insert(pos, alphabet[(next() as usize) % alphabet.len()]),
                2 => bytes[pos] = alphabet[(next() as usize) % alphabet.len()],
                _ => bytes.truncate(pos),
            }
        }
    }

    /// Truncated and mutated files are errors or valid graphs, never a panic.
    #[test]
    fn fuzzed_json_never_panics() {
        let d = var("data");
        let a = Symbol::create("elemwise_add", "p", &[], &[d.clone(), var("w")], &[]).unwrap();
        let m = Symbol::create(
            "_mul_scalar",
            "m",
            &[("scalar".into(), "2".into())],
            &[a],
            &[],
        )
        .unwrap();
        let base = to_json(&Symbol::group(&[m, d])).into_bytes();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for cut in 0..base.len() {
            let t = String::from_utf8_lossy(&base[..cut]).to_string();
            assert!(load_json(&t).is_err());
        }
        for _ in 0..3000 {
            let mut b = base.clone();
            mutate(&mut b, &mut seed);
            let t = String::from_utf8_lossy(&b).to_string();
            if let Ok(s) = load_json(&t) {
                // Whatever loads must write and load again.
                let again = to_json(&s);
                assert!(load_json(&again).is_ok(), "{again}");
            }
        }
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Random DAGs of variables, elementwise, scalar and multi-output ops write, load and
        /// write again to the same bytes, and keep their argument and output names.
        #[test]
        fn random_graphs_roundtrip(steps in prop::collection::vec((0u8..4, any::<u16>(), any::<u16>()), 1..24)) {
            let mut pool: Vec<Symbol> = vec![var("a"), var("b")];
            for (k, (kind, x, y)) in steps.into_iter().enumerate() {
                let p = pool[x as usize % pool.len()].clone();
                let q = pool[y as usize % pool.len()].clone();
                let name = format!("n{k}");
                let s = match kind {
                    0 => Symbol::create("elemwise_add", &name, &[], &[p, q], &[]).unwrap(),
                    1 => Symbol::create("_mul_scalar", &name, &[("scalar".into(), format!("{}", y % 7))], &[p], &[]).unwrap(),
                    2 => {
                        let sp = Symbol::create("SliceChannel", &name, &[("num_outputs".into(), "2".into())], &[p], &[]).unwrap();
                        sp.output(y as usize % 2).unwrap()
                    }
                    _ => Symbol::variable(&format!("v{k}"), vec![("__k__".into(), format!("{x}\t\"{y}"))]),
                };
                pool.push(s);
            }
            let g = Symbol::group(&pool[pool.len().saturating_sub(12)..]);
            let j = to_json(&g);
            let back = load_json(&j).unwrap();
            prop_assert_eq!(to_json(&back), j);
            prop_assert_eq!(back.list_arguments(), g.list_arguments());
            prop_assert_eq!(back.list_outputs(), g.list_outputs());
        }
    }
}
