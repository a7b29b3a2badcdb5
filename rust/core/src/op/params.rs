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

    /// A number; one declared `float` is single precision as MXNet stores it (a BatchNorm
    /// `momentum` of 0.9 is 0.89999998), `double` ones are doubles. Both are read as MXNet's
    /// parameter parser reads them (`dmlc_decimal`), not always the nearest value.
    pub fn float(&self, name: &str) -> Result<f64> {
        let v = self.str(name)?;
        let x = parse_float(v).ok_or_else(|| self.bad(name, v, "float"))?;
        let single = self.single(name, "float");
        // optional fields (`float or None`) are read by C++ streams, which round to nearest
        let plain = self.spec.iter().any(|s| {
            s.name == name
                && !s.ty.contains("None")
                && (s.ty.starts_with("float") || s.ty.starts_with("double"))
        });
        let x = match plain && x.is_finite() {
            true => dmlc_decimal(v.trim(), single).unwrap_or(x),
            false => x,
        };
        Ok(if single { x as f32 as f64 } else { x })
    }

    /// Whether `name` is declared with a type starting `prefix` (`float`, or a `tuple of
    /// <float>`): single precision, as MXNet's C `float` fields hold it.
    fn single(&self, name: &str, prefix: &str) -> bool {
        self.spec
            .iter()
            .any(|s| s.name == name && s.ty.starts_with(prefix))
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
        // dmlc's parser ignores case: JSON written by other tools may say TRUE
        match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
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
        // tuples are read by C++ streams, which round to nearest
        let single = self.single(name, "tuple of <float>");
        let round = |x: f64| if single { x as f32 as f64 } else { x };
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

macro_rules! dmlc_parse {
    ($name:ident, $t:ty, $max_exp:expr, $max_sig:expr, $min_sig:expr) => {
        /// dmlc's `ParseFloat` into this type, or None outside what it reads exactly like
        /// this (more than 19 integer digits, an exponent past the type's range).
        fn $name(t: &str) -> Option<f64> {
            let (neg, body) = match t.as_bytes().first()? {
                b'-' => (true, &t[1..]),
                b'+' => (false, &t[1..]),
                _ => (false, t),
            };
            let (mant, exp) = match body.find(['e', 'E']) {
                Some(i) => (&body[..i], Some(&body[i + 1..])),
                None => (body, None),
            };
            let (ip, fp) = match mant.find('.') {
                Some(i) => (&mant[..i], &mant[i + 1..]),
                None => (mant, ""),
            };
            let digits = |d: &str| d.bytes().all(|c| c.is_ascii_digit());
            if !digits(ip) || !digits(fp) || ip.len() > 19 || (ip.is_empty() && fp.is_empty()) {
                return None;
            }
            let mut value = ip.bytes().fold(0u64, |a, c| a * 10 + u64::from(c - b'0')) as $t;
            if mant.contains('.') {
                let (mut val2, mut pow10) = (0u64, 1u64);
                for c in fp.bytes().take(19) {
                    val2 = val2 * 10 + u64::from(c - b'0');
                    pow10 *= 10;
                }
                value += (val2 as f64 / pow10 as f64) as $t;
            }
            if let Some(e) = exp {
                let (frac, e) = match e.as_bytes().first() {
                    Some(b'-') => (true, &e[1..]),
                    Some(b'+') => (false, &e[1..]),
                    _ => (false, e),
                };
                if e.is_empty() || !digits(e) || e.len() > 4 {
                    return None;
                }
                let mut expon: u32 = e.bytes().fold(0, |a, c| a * 10 + u32::from(c - b'0'));
                let edge = expon == $max_exp
                    && ((!frac && value > $max_sig) || (frac && value < $min_sig));
                if expon > $max_exp || edge {
                    return None;
                }
                let mut scale: $t = 1.0;
                while expon >= 8 {
                    scale *= 1e8;
                    expon -= 8;
                }
                while expon > 0 {
                    scale *= 10.0;
                    expon -= 1;
                }
                value = if frac { value / scale } else { value * scale };
            }
            Some(f64::from(if neg { -value } else { value }))
        }
    };
}
dmlc_parse!(dmlc_f32, f32, 38, 3.402_823_5_f32, 1.175_494_4_f32);
dmlc_parse!(
    dmlc_f64,
    f64,
    308,
    1.797_693_134_862_315_7_f64,
    2.225_073_858_507_201_4_f64
);

/// The value MXNet 1.9.1 gives a decimal parameter: dmlc's parser converts the integer and
/// fraction digits apart and adds them in the field's type, and applies an exponent by
/// repeated multiplication, so about one string in twenty is an ulp from the nearest value
/// (`2.265` as a float field is 2.2649998, `1.64` as a double 1.6400000000000001).
pub fn dmlc_decimal(t: &str, single: bool) -> Option<f64> {
    if single {
        dmlc_f32(t)
    } else {
        dmlc_f64(t)
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

#[cfg(test)]
mod tests {
    use super::dmlc_decimal;

    #[test]
    fn decimals_read_as_mxnet_reads_them() {
        // (string, float field, double field), as MXNet 1.9.1 gave them back (clip bounds and
        // _plus_scalar on float64 zeros)
        let cases = [
            ("2.265", 2.2649998664855957, 2.265),
            ("0.1", 0.10000000149011612, 0.1),
            ("1e-05", 9.999999747378752e-06, 1e-05),
            ("1.64", 1.6399999856948853, 1.6400000000000001),
            ("3.5563", 3.556299924850464, 3.5563000000000002),
            ("123.456e-3", 0.12345600128173828, 0.123456),
            ("7.1e3", 7100.0, 7100.0),
            ("-0.7", -0.699999988079071, -0.7),
        ];
        for (s, f, d) in cases {
            assert_eq!(dmlc_decimal(s, true), Some(f), "{s} as a float");
            assert_eq!(dmlc_decimal(s, false), Some(d), "{s} as a double");
        }
        assert_eq!(dmlc_decimal("1e300", false), Some(9.999999999999998e+299));
        for odd in [
            "",
            ".",
            "e5",
            "1e",
            "1.5.2",
            "abc",
            "1e99999",
            "12345678901234567890123",
        ] {
            assert_eq!(dmlc_decimal(odd, false), None, "{odd}");
        }
    }
}
