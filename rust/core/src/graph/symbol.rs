//! Symbols (`mx.sym.Symbol`): a list of output entries into a DAG of immutable nodes.
//!
//! Invariants: nodes are never mutated once built, so symbols share subgraphs freely;
//! operations that MXNet performs in place (composition, `_set_attr`) build new nodes for the
//! changed part and return a new symbol. Names, implicit variables, hidden attribute keys and
//! composition errors follow MXNet 1.9.1 (nnvm `Symbol`, `c_api_symbolic.cc`).

use super::node::{topo_order, Entry, Node};
use crate::error::{Error, Result};
use crate::op::params::{parse_int, parse_ints, ParamSpec};
use crate::op::{registry, Inputs, Operator};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Attribute names MXNet stores as `__name__` (`lr_mult` → `__lr_mult__`).
pub const HIDDEN_KEYS: [&str; 5] = [
    "ctx_group",
    "lr_mult",
    "wd_mult",
    "force_mirroring",
    "mirror_stage",
];

/// `lr_mult` → `__lr_mult__`; other keys unchanged (`_set_attr`, `attr()` lookups).
pub fn hidden_key(key: &str) -> String {
    if HIDDEN_KEYS.contains(&key) {
        format!("__{key}__")
    } else {
        key.to_string()
    }
}

fn is_dunder(key: &str) -> bool {
    key.len() >= 4 && key.starts_with("__") && key.ends_with("__")
}

/// Sets `key` in an attribute list, replacing an earlier value (a map with insertion order).
pub fn set_attr(attrs: &mut Vec<(String, String)>, key: String, value: String) {
    match attrs.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => attrs.push((key, value)),
    }
}

/// Op keyword arguments as MXNet stores them: hidden keys become `__key__`; a key ending in a
/// hidden key (`weight_lr_mult`) is refused as MXNet does.
pub fn normalize_op_attrs(attrs: &[(String, String)]) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(attrs.len());
    for (k, v) in attrs {
        let mut key = k.clone();
        for h in HIDDEN_KEYS {
            if k == h {
                key = format!("__{h}__");
                break;
            }
            if k.len() > h.len() + 1
                && k.ends_with(h)
                && k.as_bytes()[k.len() - h.len() - 1] == b'_'
            {
                let arg = &k[..k.len() - h.len() - 1];
                return Err(Error::Value(format!(
                    "setting variable attributes with {k} is deprecated. please instead use\n\
                     w = Variable({h}={v})\nsym = YourSymbolName({arg}=w)"
                )));
            }
        }
        set_attr(&mut out, key, v.clone());
    }
    Ok(out)
}

/// An integer parameter given as an integral float (`num_hidden=3.0`, `kernel=(2.0, 2.0)`)
/// is stored as the integer: MXNet's parser reads no other form, so the saved graph stays
/// loadable there.
fn canonical_ints(params: &[ParamSpec], attrs: &mut [(String, String)]) {
    for (k, v) in attrs.iter_mut() {
        let Some(p) = params.iter().find(|p| p.name == k.as_str()) else {
            continue;
        };
        let ty = p.type_name();
        if (ty.starts_with("int") || ty.starts_with("long")) && v.trim().parse::<i64>().is_err() {
            if let Some(n) = parse_int(v) {
                *v = n.to_string();
            }
        } else if ty.starts_with("Shape(tuple)")
            || ty.starts_with("tuple of <int")
            || ty.starts_with("tuple of <long")
        {
            let plain = v
                .trim_matches(|c: char| "()[] ".contains(c))
                .split(',')
                .all(|t| t.trim().is_empty() || t.trim().parse::<i64>().is_ok());
            if let (false, Some(ns)) = (plain, parse_ints(v)) {
                let items: Vec<String> = ns.iter().map(i64::to_string).collect();
                *v = match items.len() {
                    1 => format!("({},)", items[0]),
                    _ => format!("({})", items.join(", ")),
                };
            }
        }
    }
}

/// Input names of a configured op (`data`, `weight`, `bias`; `arg0..` for variadic ops).
pub fn input_names(op_name: &str, op: &dyn Operator, n_given: usize) -> Result<Vec<String>> {
    let def = registry().get(op_name)?;
    Ok(match def.inputs() {
        // A configuration may take a subset that is not a prefix (CTCLoss: data, label,
        // label_lengths; RNN: state_cell only for LSTM).
        Inputs::Fixed(_) if !op.input_names().is_empty() => op.input_names(),
        Inputs::Fixed(names) => {
            let n = op.num_inputs().unwrap_or(names.len()).min(names.len());
            names[..n].iter().map(|s| s.to_string()).collect()
        }
        // A configuration may name its own inputs (bilinear UpSampling: data, weight).
        Inputs::Variadic { .. } => match op.input_names() {
            n if n.is_empty() => (0..n_given).map(|i| format!("arg{i}")).collect(),
            n => n,
        },
        Inputs::Dynamic => op.input_names(),
        Inputs::Grouped { names, .. } => {
            let groups = op.num_inputs().unwrap_or(n_given) / names.len();
            (0..groups)
                .flat_map(|i| names.iter().map(move |n| format!("{n}_{i}")))
                .collect()
        }
    })
}

/// The input count a variadic op's attributes declare (`num_args`).
pub(crate) fn declared_count(attrs: &[(String, String)], count_param: &str) -> Option<usize> {
    attrs
        .iter()
        .rev()
        .find(|(k, _)| k == count_param)
        .and_then(|(_, v)| v.parse::<usize>().ok())
}

/// The `__init__` MXNet's ops give their input variables on composition
/// (`FSetInputVarAttrOnCompose`): BatchNorm's statistics start at zero and one, PReLU's slope
/// at 0.25.
pub fn input_var_init(op_name: &str, input: &str) -> Option<&'static str> {
    let batch_norm = matches!(
        op_name,
        "BatchNorm"
            | "BatchNorm_v1"
            | "SyncBatchNorm"
            | "_contrib_SyncBatchNorm"
            | "CuDNNBatchNorm"
    );
    match input {
        "moving_mean" if batch_norm => Some("[\"zero\", {}]"),
        "moving_var" if batch_norm => Some("[\"one\", {}]"),
        "gamma" if op_name == "LeakyReLU" => Some("[\"Constant\", {\"value\": 0.25}]"),
        "moving_avg" if op_name == "IdentityAttachKLSparseReg" => Some("[\"zero\", {}]"),
        _ => None,
    }
}

/// A node like `n` with other inputs and/or name (ops and attributes shared).
fn rebuild(n: &Node, name: String, attrs: Vec<(String, String)>, inputs: Vec<Entry>) -> Arc<Node> {
    Arc::new(Node {
        op: n.op.clone(),
        op_name: n.op_name.clone(),
        name,
        attrs: Mutex::new(attrs),
        inputs,
        values: Mutex::new(None),
        leaf_grad: Mutex::new(None),
    })
}

/// `mx.sym.Symbol`: the outputs of a graph.
#[derive(Clone)]
pub struct Symbol {
    pub outputs: Vec<Entry>,
}

impl std::fmt::Debug for Symbol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Symbol{:?}", self.outputs)
    }
}

impl Symbol {
    /// `mx.sym.Variable(name)` with attributes already in stored form (`__shape__` ...).
    pub fn variable(name: &str, attrs: Vec<(String, String)>) -> Symbol {
        Symbol {
            outputs: vec![Node::variable(name, attrs).entry(0)],
        }
    }

    /// Creates op `op_name` named `name` and composes it with `args` (positional, in input
    /// order) and `kwargs` (by input name); missing inputs become variables
    /// `<name>_<input>` carrying the op's attributes (MXNet's atomic symbol + `_compose`).
    pub fn create(
        op_name: &str,
        name: &str,
        attrs: &[(String, String)],
        args: &[Symbol],
        kwargs: &[(String, Symbol)],
    ) -> Result<Symbol> {
        let mut attrs = normalize_op_attrs(attrs)?;
        let def = registry().get(op_name)?;
        canonical_ints(def.params(), &mut attrs);
        let op = def.create(&attrs)?;
        let variadic = matches!(def.inputs(), Inputs::Variadic { .. });
        if variadic && !kwargs.is_empty() {
            return Err(Error::Value(format!(
                "operator {op_name} ({name}) takes a variable number of positional inputs; \
                 keyword inputs ({}) are not accepted",
                kwargs
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        // `Concat(num_args=2)` without inputs gets variables `arg0`, `arg1` as in MXNet.
        let n_given = match def.inputs() {
            Inputs::Variadic { count_param, .. } if args.is_empty() => {
                declared_count(&attrs, count_param).unwrap_or(0)
            }
            _ => args.len(),
        };
        let names = input_names(op_name, op.as_ref(), n_given)?;
        if args.len() > names.len() {
            return Err(Error::Value(format!(
                "operator {op_name} ({name}) takes at most {} input(s) ({}), {} positional given",
                names.len(),
                names.join(", "),
                args.len()
            )));
        }
        let mut slots: Vec<Option<Entry>> = vec![None; names.len()];
        for (i, s) in args.iter().enumerate() {
            slots[i] = Some(s.single(&format!("{op_name} ({name}) input {}", names[i]))?);
        }
        for (k, s) in kwargs {
            let Some(i) = names.iter().position(|n| n == k) else {
                return Err(keyword_error("Symbol.Compose", k, &names));
            };
            if slots[i].is_some() {
                return Err(Error::Type(format!(
                    "operator {op_name} ({name}) got multiple values for input '{k}'"
                )));
            }
            slots[i] = Some(s.single(&format!("{op_name} ({name}) input {k}"))?);
        }
        let inputs: Vec<Entry> = slots
            .into_iter()
            .enumerate()
            .map(|(i, e)| match e {
                Some(e) => {
                    // as MXNet, a variable the user made gets the op's initializer too
                    // (unless it has one): a PReLU gamma passed in starts at 0.25
                    if let Some(init) = input_var_init(op_name, &names[i]) {
                        if e.node.is_variable() && e.node.attr("__init__").is_none() {
                            e.node
                                .update_attrs(|a| a.push(("__init__".into(), init.into())));
                        }
                    }
                    e
                }
                None => {
                    let mut va = attrs.clone();
                    if let Some(init) = input_var_init(op_name, &names[i]) {
                        set_attr(&mut va, "__init__".into(), init.into());
                    }
                    Node::variable(format!("{name}_{}", names[i]), va).entry(0)
                }
            })
            .collect();
        let node = Arc::new(Node {
            op: Some(op),
            op_name: op_name.to_string(),
            name: name.to_string(),
            attrs: Mutex::new(attrs),
            inputs,
            values: Mutex::new(None),
            leaf_grad: Mutex::new(None),
        });
        Ok(Symbol {
            outputs: (0..node.num_visible_outputs())
                .map(|i| node.entry(i))
                .collect(),
        })
    }

    /// The one output of a symbol used as an op input (a group is refused).
    fn single(&self, what: &str) -> Result<Entry> {
        match self.outputs.as_slice() {
            [e] => Ok(e.clone()),
            _ => Err(Error::Graph(format!(
                "{what}: expected a symbol with one output, got {} outputs {:?}",
                self.outputs.len(),
                self.list_outputs()
            ))),
        }
    }

    /// `sym(**kwargs, name=...)`: a copy with each variable named in `kwargs` replaced, the
    /// head node renamed when `name` is given (inner nodes keep their names).
    pub fn compose(&self, kwargs: &[(String, Symbol)], name: Option<&str>) -> Result<Symbol> {
        let inputs = self.list_inputs();
        let mut repl: HashMap<&str, Entry> = HashMap::new();
        for (k, s) in kwargs {
            if !inputs.iter().any(|n| n == k) {
                return Err(keyword_error("Symbol.Compose", k, &inputs));
            }
            repl.insert(k.as_str(), s.single(&format!("compose argument {k}"))?);
        }
        let new_name = name.filter(|n| !n.is_empty());
        let head_key = self.outputs.first().map(|e| node_ptr(&e.node));
        // Old node -> the entry that replaces it (a replaced variable) or its rebuilt copy.
        let mut var_map: HashMap<usize, Entry> = HashMap::new();
        let mut node_map: HashMap<usize, Arc<Node>> = HashMap::new();
        for n in topo_order(&self.outputs) {
            let key = node_ptr(&n);
            if n.is_variable() {
                if let Some(e) = repl.get(n.name.as_str()) {
                    var_map.insert(key, e.clone());
                    continue;
                }
            }
            let mut changed = false;
            let new_inputs: Vec<Entry> = n
                .inputs
                .iter()
                .map(|e| {
                    let k = node_ptr(&e.node);
                    if let Some(r) = var_map.get(&k) {
                        changed = true;
                        r.clone()
                    } else if let Some(m) = node_map.get(&k) {
                        changed = true;
                        m.entry(e.index)
                    } else {
                        e.clone()
                    }
                })
                .collect();
            // MXNet renames the head node in place, so every use of it sees the new name.
            let rename = new_name.filter(|_| Some(key) == head_key);
            if changed || rename.is_some() {
                let nm = rename.map_or_else(|| n.name.clone(), str::to_string);
                node_map.insert(key, rebuild(&n, nm, n.attrs(), new_inputs));
            }
        }
        let mut outputs: Vec<Entry> = self
            .outputs
            .iter()
            .map(|e| {
                let k = node_ptr(&e.node);
                if let Some(r) = var_map.get(&k) {
                    r.clone()
                } else if let Some(m) = node_map.get(&k) {
                    m.entry(e.index)
                } else {
                    e.clone()
                }
            })
            .collect();
        // The head itself was a replaced variable: rename (a copy of) its replacement.
        if let (Some(nm), Some(k)) = (new_name, head_key) {
            if var_map.contains_key(&k) {
                if let Some(first) = outputs.first().cloned() {
                    let n = &first.node;
                    let renamed = rebuild(n, nm.to_string(), n.attrs(), n.inputs.clone());
                    for o in outputs.iter_mut() {
                        if Arc::ptr_eq(&o.node, n) {
                            *o = renamed.entry(o.index);
                        }
                    }
                }
            }
        }
        Ok(Symbol { outputs })
    }

    /// `mx.sym.Group`: the outputs of all symbols, in order.
    pub fn group(symbols: &[Symbol]) -> Symbol {
        Symbol {
            outputs: symbols.iter().flat_map(|s| s.outputs.clone()).collect(),
        }
    }

    /// `sym[i]`.
    pub fn output(&self, i: usize) -> Result<Symbol> {
        let e = self.outputs.get(i).ok_or_else(|| {
            Error::Index(format!(
                "output index {i} is out of range for a symbol with {} outputs",
                self.outputs.len()
            ))
        })?;
        Ok(Symbol {
            outputs: vec![e.clone()],
        })
    }

    /// The node all outputs come from, if there is exactly one.
    fn head_node(&self) -> Option<&Arc<Node>> {
        let first = &self.outputs.first()?.node;
        self.outputs
            .iter()
            .all(|e| Arc::ptr_eq(&e.node, first))
            .then_some(first)
    }

    /// `sym.name`: the head node's name; `None` for a group of several nodes.
    pub fn name(&self) -> Option<String> {
        self.head_node().map(|n| n.name.clone())
    }

    pub fn list_outputs(&self) -> Vec<String> {
        self.outputs.iter().map(output_name).collect()
    }

    /// `(arguments, auxiliary states)` as variable nodes in DFS order.
    pub fn inputs_split(&self) -> (Vec<Arc<Node>>, Vec<Arc<Node>>) {
        super::list_inputs(&self.outputs)
    }

    pub fn list_arguments(&self) -> Vec<String> {
        self.inputs_split()
            .0
            .iter()
            .map(|n| n.name.clone())
            .collect()
    }

    pub fn list_auxiliary_states(&self) -> Vec<String> {
        self.inputs_split()
            .1
            .iter()
            .map(|n| n.name.clone())
            .collect()
    }

    /// Every variable (arguments and aux) in DFS order.
    pub fn list_inputs(&self) -> Vec<String> {
        topo_order(&self.outputs)
            .iter()
            .filter(|n| n.is_variable())
            .map(|n| n.name.clone())
            .collect()
    }

    /// `get_internals()`: every variable and every visible output of every op node.
    pub fn internals(&self) -> Symbol {
        let mut outputs = Vec::new();
        for n in topo_order(&self.outputs) {
            for i in 0..n.num_visible_outputs() {
                outputs.push(n.entry(i));
            }
        }
        Symbol { outputs }
    }

    /// `get_children()`: the inputs of the head nodes; `None` when there are none.
    pub fn children(&self) -> Option<Symbol> {
        let mut seen = HashSet::new();
        let mut outputs = Vec::new();
        for h in &self.outputs {
            if !seen.insert(node_ptr(&h.node)) {
                continue;
            }
            outputs.extend(h.node.inputs.iter().cloned());
        }
        (!outputs.is_empty()).then_some(Symbol { outputs })
    }

    /// `attr(key)` of the head node (`lr_mult` finds `__lr_mult__`); `None` for groups.
    pub fn attr(&self, key: &str) -> Option<String> {
        let n = self.head_node()?;
        n.attr(&hidden_key(key))
    }

    /// `list_attr()`: the first head node's attributes, hidden keys also without underscores.
    pub fn list_attr(&self) -> Vec<(String, String)> {
        match self.outputs.first() {
            Some(e) => with_plain_hidden(&dedup(&e.node.attrs())),
            None => Vec::new(),
        }
    }

    /// `attr_dict()`: `(node name, attributes)` for every node with attributes, DFS order.
    pub fn attr_dict(&self) -> Vec<(String, Vec<(String, String)>)> {
        topo_order(&self.outputs)
            .iter()
            .filter(|n| n.has_attrs())
            .map(|n| (n.name.clone(), with_plain_hidden(&dedup(&n.attrs()))))
            .collect()
    }

    /// The graph with new nodes (`copy.copy`/`copy.deepcopy`, MXNet's `MXSymbolCopy`):
    /// attributes later set on one graph do not reach the other. Ops are shared (immutable).
    pub fn deep_copy(&self) -> Symbol {
        let mut map: HashMap<usize, Arc<Node>> = HashMap::new();
        let copied = |map: &HashMap<usize, Arc<Node>>, e: &Entry| match map.get(&node_ptr(&e.node))
        {
            Some(n) => n.entry(e.index),
            None => e.clone(),
        };
        for n in topo_order(&self.outputs) {
            let inputs = n.inputs.iter().map(|e| copied(&map, e)).collect();
            let new = rebuild(&n, n.name.clone(), n.attrs(), inputs);
            map.insert(node_ptr(&n), new);
        }
        Symbol {
            outputs: self.outputs.iter().map(|e| copied(&map, e)).collect(),
        }
    }

    /// `_set_attr(**attrs)`: sets attributes of the head node in place, so every symbol that
    /// uses the node sees them, as in MXNet. Op parameters cannot be changed this way (the
    /// configured op would disagree with them).
    pub fn set_attrs(&self, attrs: &[(String, String)]) -> Result<()> {
        let Some(n) = self.head_node() else {
            return Err(Error::Value(
                "cannot set attributes on a group of several symbols".into(),
            ));
        };
        let mut keys = Vec::with_capacity(attrs.len());
        for (k, _) in attrs {
            let key = hidden_key(k);
            if !n.is_variable() && !is_dunder(&key) {
                let def = registry().get(&n.op_name)?;
                if def.params().iter().any(|p| p.name == key) {
                    return Err(Error::Value(format!(
                        "cannot change parameter {key} of operator {} ({}) with _set_attr",
                        n.op_name, n.name
                    )));
                }
            }
            keys.push(key);
        }
        n.update_attrs(|list| {
            for (key, (_, v)) in keys.into_iter().zip(attrs) {
                set_attr(list, key, v.clone());
            }
        });
        Ok(())
    }
}

pub(crate) fn node_ptr(n: &Arc<Node>) -> usize {
    Arc::as_ptr(n) as usize
}

/// `fc1_output`, `sl_output1`, or a variable's own name.
pub fn output_name(e: &Entry) -> String {
    let n = &e.node;
    match &n.op {
        None => n.name.clone(),
        Some(op) => {
            let names = op.output_names();
            match names.get(e.index) {
                Some(o) => format!("{}_{}", n.name, o),
                None => format!("{}_output{}", n.name, e.index),
            }
        }
    }
}

/// Last value wins for repeated keys, first position kept.
fn dedup(attrs: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(attrs.len());
    for (k, v) in attrs {
        set_attr(&mut out, k.clone(), v.clone());
    }
    out
}

/// MXNet lists `__lr_mult__` also as `lr_mult`.
fn with_plain_hidden(attrs: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = attrs.to_vec();
    for (k, v) in attrs {
        if let Some(h) = HIDDEN_KEYS
            .iter()
            .find(|h| k.len() == h.len() + 4 && is_dunder(k) && &k[2..k.len() - 2] == **h)
        {
            set_attr(&mut out, h.to_string(), v.clone());
        }
    }
    out
}

/// MXNet's keyword mismatch message (`Symbol.ComposeKeyword argument name foo not found.`).
pub fn keyword_error(site: &str, key: &str, candidates: &[String]) -> Error {
    let mut msg = format!("{site}Keyword argument name {key} not found.\nCandidate arguments:\n");
    for (i, c) in candidates.iter().enumerate() {
        msg += &format!("\t[{i}]{c}\n");
    }
    Error::Graph(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn var(n: &str) -> Symbol {
        Symbol::variable(n, vec![])
    }

    #[test]
    fn plus_names_and_lists() {
        let a = var("a");
        let b = var("b");
        let c = Symbol::create("elemwise_add", "_plus0", &[], &[a, b], &[]).unwrap();
        assert_eq!(c.list_arguments(), s(&["a", "b"]));
        assert_eq!(c.list_outputs(), s(&["_plus0_output"]));
        assert_eq!(c.name().as_deref(), Some("_plus0"));
        assert_eq!(
            c.internals().list_outputs(),
            s(&["a", "b", "_plus0_output"])
        );
        assert_eq!(c.children().unwrap().list_outputs(), s(&["a", "b"]));
        assert!(var("v").children().is_none());
    }

    #[test]
    fn implicit_inputs_copy_attrs() {
        let x = var("x");
        let attrs = vec![("lr_mult".to_string(), "0.1".to_string())];
        let c = Symbol::create("elemwise_mul", "m", &attrs, &[x], &[]).unwrap();
        assert_eq!(c.list_arguments(), s(&["x", "m_rhs"]));
        let dict = c.attr_dict();
        let rhs = dict.iter().find(|(n, _)| n == "m_rhs").unwrap();
        assert!(rhs.1.contains(&("__lr_mult__".into(), "0.1".into())));
        assert!(rhs.1.contains(&("lr_mult".into(), "0.1".into())));
        assert_eq!(c.attr("lr_mult").as_deref(), Some("0.1"));
    }

    #[test]
    fn compose_replaces_and_renames_head_only() {
        let d = var("data");
        let inner = Symbol::create("elemwise_add", "p", &[], &[d.clone(), var("w")], &[]).unwrap();
        let outer = Symbol::create(
            "_mul_scalar",
            "q",
            &[("scalar".into(), "2".into())],
            &[inner],
            &[],
        )
        .unwrap();
        let c = outer
            .compose(&[("data".into(), var("x"))], Some("compose"))
            .unwrap();
        assert_eq!(c.list_arguments(), s(&["x", "w"]));
        assert_eq!(c.list_outputs(), s(&["compose_output"]));
        assert_eq!(outer.list_arguments(), s(&["data", "w"]));
        let err = outer
            .compose(&[("foo".into(), var("x"))], None)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Symbol.ComposeKeyword argument name foo not found.\nCandidate arguments:\n\t[0]data\n\t[1]w\n"
        );
    }

    #[test]
    fn create_errors() {
        let e =
            Symbol::create("elemwise_add", "p", &[], &[], &[("foo".into(), var("x"))]).unwrap_err();
        assert!(e.to_string().contains("[0]lhs\n\t[1]rhs"));
        let g = Symbol::group(&[var("a"), var("b")]);
        assert!(Symbol::create("elemwise_add", "p", &[], &[g], &[]).is_err());
        let e = Symbol::create(
            "elemwise_add",
            "p",
            &[("weight_lr_mult".into(), "1".into())],
            &[],
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("is deprecated"));
        assert!(Symbol::create(
            "elemwise_add",
            "p",
            &[],
            &[var("a"), var("b"), var("c")],
            &[]
        )
        .is_err());
    }

    #[test]
    fn group_and_index() {
        let g = Symbol::group(&[var("a"), var("b")]);
        assert_eq!(g.name(), None);
        assert_eq!(g.output(1).unwrap().name().as_deref(), Some("b"));
        assert!(g.output(2).is_err());
        let w = g.output(0).unwrap();
        w.set_attrs(&[("lr_mult".into(), "2".into())]).unwrap();
        // In place: the group's node is the same one.
        assert_eq!(g.attr_dict().len(), 1);
        assert_eq!(
            w.list_attr(),
            vec![
                ("__lr_mult__".into(), "2".into()),
                ("lr_mult".into(), "2".into())
            ]
        );
    }
}
