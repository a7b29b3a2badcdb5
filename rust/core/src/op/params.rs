//! Typed operator parameters parsed from MXNet's string attributes (`"(2, 2)"`, `"True"`,
//! `"None"`), validated against each op's declared list so unknown names are refused.

use crate::context::Context;
use crate::dtype::DType;
use crate::error::{Error, Result};

/// One declared parameter: its name, MXNet's type text, default (None = required), doc.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub name: &'static str,
    pub ty: &'static str,
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

impl ParamSpec {
    /// The type alone: some tables carry MXNet's ", required" / ", optional, default=..."
    /// suffix, which the messages and docs add themselves.
    pub fn type_name(&self) -> &'static str {
        let cut = [", required", ", optional", ",optional"]
            .iter()
            .filter_map(|m| self.ty.find(m))
            .min()
            .unwrap_or(self.ty.len());
        &self.ty[..cut]
    }
}

/// Shorthand for declaring parameter tables.
pub const fn param(
    name: &'static str,
    ty: &'static str,
    default: Option<&'static str>,
    doc: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        ty,
        default,
        doc,
    }
}

/// Attributes given to one op instance, checked against its spec.
pub struct Params<'a> {
    pub op: &'a str,
    spec: &'a [ParamSpec],
    attrs: &'a [(String, String)],
}

fn describe(op: &str, attrs: &[(String, String)]) -> String {
    let kv: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{op}({})", kv.join(", "))
}

impl<'a> Params<'a> {
    /// Validates names: every attribute must be declared, every required one present. An op
    /// without parameters ignores whatever it is given, as MXNet's do (their JSON files may
    /// carry such attributes).
    pub fn new(op: &'a str, spec: &'a [ParamSpec], attrs: &'a [(String, String)]) -> Result<Self> {
        for (k, _) in attrs {
            if (k.starts_with("__") && k.ends_with("__")) || spec.is_empty() {
                continue; // hidden symbol attributes (__lr_mult__ ...) are not op params
            }
            if !spec.iter().any(|s| s.name == k) {
                let mut msg =
                    format!("Cannot find argument '{k}', Possible Arguments:\n----------------\n");
                for s in spec {
                    match s.default {
                        Some(d) => {
                            msg += &format!(
                                "{} : {}, optional, default={}\n",
                                s.name,
                                s.type_name(),
                                d
                            )
                        }
                        None => msg += &format!("{} : {}, required\n", s.name, s.type_name()),
                    }
                }
                return Err(Error::Param {
                    op: describe(op, attrs),
                    msg,
                });
            }
        }
        for s in spec {
            if s.default.is_none() && !attrs.iter().any(|(k, _)| k == s.name) {
                return Err(Error::Param {
                    op: describe(op, attrs),
                    msg: format!(
                        "Required parameter {} of {} is not presented",
                        s.name,
                        s.type_name()
                    ),
                });
            }
        }
        Ok(Params { op, spec, attrs })
    }

    fn raw(&self, name: &str) -> Option<&'a str> {
        if let Some((_, v)) = self.attrs.iter().rev().find(|(k, _)| k == name) {
            return Some(v.as_str());
        }
        self.spec
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.default)
    }

    fn bad(&self, name: &str, v: &str, what: &str) -> Error {
        Error::Param {
            op: describe(self.op, self.attrs),
            msg: format!("Invalid Parameter format for {name} expect {what} but value='{v}'"),
        }
    }

    pub fn is_set(&self, name: &str) -> bool {
        matches!(self.raw(name), Some(v) if v != "None")
    }

    pub fn str(&self, name: &str) -> Result<&'a str> {
        self.raw(name).ok_or_else(|| self.bad(name, "", "a value"))
    }

    /// A number; one declared `float` is rounded to single precision as MXNet stores it (a
    /// BatchNorm `momentum` of 0.9 is 0.89999998), `double` ones are kept.
    pub fn float(&self, name: &str) -> Result<f64> {
        let v = self.str(name)?;
        let x = parse_float(v).ok_or_else(|| self.bad(name, v, "float"))?;
        Ok(self.precision(name, "float")(x))
    }

    /// Rounds to single precision when `name` is declared with a type starting `prefix`
    /// (`float`, or a `tuple of <float>`), as MXNet's C `float` fields hold them.
    fn precision(&self, name: &str, prefix: &str) -> fn(f64) -> f64 {
        if self
            .spec
            .iter()
            .any(|s| s.name == name && s.ty.starts_with(prefix))
        {
            |x| x as f32 as f64
        } else {
            |x| x
        }
    }

    pub fn int(&self, name: &str) -> Result<i64> {
        let v = self.str(name)?;
        parse_int(v).ok_or_else(|| self.bad(name, v, "int"))
    }

    /// A count of inputs (`num_args`): at least 1, as MXNet's parameter bounds require.
    pub fn count(&self, name: &str) -> Result<usize> {
        let n = self.int(name)?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| Error::param(self.op, format!("{name} must be at least 1, got {n}")))
    }

    pub fn opt_int(&self, name: &str) -> Result<Option<i64>> {
        match self.raw(name) {
            None | Some("None") => Ok(None),
            Some(v) => parse_int(v)
                .map(Some)
                .ok_or_else(|| self.bad(name, v, "int or None")),
        }
    }

    pub fn bool(&self, name: &str) -> Result<bool> {
        let v = self.str(name)?;
        match v.trim() {
            "True" | "true" | "1" => Ok(true),
            "False" | "false" | "0" => Ok(false),
            _ => Err(self.bad(name, v, "boolean")),
        }
    }

    /// A tuple of ints: `(2, 3)`, `[2,3]`, `2` or `()`.
    pub fn ints(&self, name: &str) -> Result<Vec<i64>> {
        let v = self.str(name)?;
        parse_ints(v).ok_or_else(|| self.bad(name, v, "tuple of ints"))
    }

    /// A tuple of floats: `(0.1, 0.2)`, `[0.1]`, `0.1` or `()`.
    pub fn floats(&self, name: &str) -> Result<Vec<f64>> {
        let v = self.str(name)?;
        let round = self.precision(name, "tuple of <float>");
        strip_brackets(v)
            .ok_or_else(|| self.bad(name, v, "tuple of floats"))?
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| parse_float(t).map(round))
            .collect::<Option<Vec<f64>>>()
            .ok_or_else(|| self.bad(name, v, "tuple of floats"))
    }

    /// Tuple of ints, or None.
    pub fn opt_ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        match self.raw(name) {
            None | Some("None") => Ok(None),
            Some(v) => parse_ints(v)
                .map(Some)
                .ok_or_else(|| self.bad(name, v, "tuple of ints")),
        }
    }

    /// Tuple entries that may be None (slice begin/end/step).
    pub fn opt_int_list(&self, name: &str) -> Result<Vec<Option<i64>>> {
        let v = self.str(name)?;
        let inner = strip_brackets(v).ok_or_else(|| self.bad(name, v, "tuple of ints or None"))?;
        // A bare None (`step=None`) is no list at all, as in MXNet.
        if inner.trim().is_empty() || v.trim() == "None" {
            return Ok(vec![]);
        }
        inner
            .split(',')
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .map(|t| {
                if t == "None" {
                    Ok(None)
                } else {
                    parse_int(t).map(Some).ok_or(())
                }
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| self.bad(name, v, "tuple of ints or None"))
    }

    pub fn shape(&self, name: &str) -> Result<Vec<usize>> {
        let v = self.str(name)?;
        let dims = self.ints(name)?;
        dims.iter()
            .map(|&d| usize::try_from(d).map_err(|_| self.bad(name, v, "non-negative dims")))
            .collect()
    }

    pub fn dtype(&self, name: &str) -> Result<Option<DType>> {
        match self.raw(name) {
            None => Ok(None),
            Some(v) => {
                let t = v.trim().trim_matches('\'');
                // MXNet's dtype enums list 'None' (the op's default type).
                if t == "None" {
                    return Ok(None);
                }
                let t = t
                    .strip_prefix("<class 'numpy.")
                    .map(|r| r.trim_end_matches("'>"))
                    .unwrap_or(t);
                DType::from_name(t)
                    .or_else(|| t.parse::<i32>().ok().and_then(DType::from_flag))
                    .map(Some)
                    .ok_or_else(|| self.bad(name, v, "a dtype name"))
            }
        }
    }

    pub fn ctx(&self, name: &str) -> Result<Option<Context>> {
        match self.raw(name) {
            None | Some("None") | Some("") | Some("''") => Ok(None),
            Some(v) => Context::parse(v)
                .map(Some)
                .map_err(|_| self.bad(name, v, "a context such as cpu(0)")),
        }
    }

    /// One of `choices` (MXNet enum parameters).
    pub fn choice(&self, name: &str, choices: &[&str]) -> Result<&'a str> {
        let v = self.str(name)?.trim().trim_matches('\'');
        choices
            .iter()
            .find(|c| **c == v)
            .map(|_| v)
            .ok_or_else(|| self.bad(name, v, &format!("one of {choices:?}")))
    }
}

/// The inside of `(..)` or `[..]`, or a bare value; `None` for an unclosed bracket (`(6, 4`),
/// which MXNet refuses as a malformed tuple.
fn strip_brackets(v: &str) -> Option<&str> {
    let v = v.trim();
    // MXNet does not pair the kinds: `[6, 4)` is a tuple too.
    match (v.strip_prefix(['(', '[']), v.ends_with([')', ']'])) {
        (Some(r), true) => r.strip_suffix([')', ']']),
        (None, false) => Some(v),
        _ => None,
    }
}

pub fn parse_float(v: &str) -> Option<f64> {
    let t = v.trim();
    match t {
        "inf" | "+inf" | "Infinity" => Some(f64::INFINITY),
        "-inf" | "-Infinity" => Some(f64::NEG_INFINITY),
        "nan" | "NaN" => Some(f64::NAN),
        "True" => Some(1.0),
        "False" => Some(0.0),
        _ => t.parse::<f64>().ok(),
    }
}

pub fn parse_int(v: &str) -> Option<i64> {
    let t = v.trim().trim_end_matches('L');
    t.parse::<i64>().ok().or_else(|| {
        let f = t.parse::<f64>().ok()?;
        (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
    })
}

pub fn parse_ints(v: &str) -> Option<Vec<i64>> {
    strip_brackets(v)?
        .split(',')
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .map(parse_int)
        .collect()
}
