"""Nested lists of arrays or symbols, as the control-flow functions take and return them."""


def flatten(args, what, kind, kind_name):
    """Nested lists of `kind` -> (flat list, format to rebuild the nesting with `regroup`)."""
    if isinstance(args, kind):
        return [args], 0
    if not isinstance(args, (list, tuple)):
        raise TypeError("%s must be %s or a (nested) list of them, got %s"
                        % (what, kind_name, type(args).__name__))
    flat, fmts = [], []
    for a in args:
        f, fmt = flatten(a, what, kind, kind_name)
        flat.extend(f)
        fmts.append(fmt)
    return flat, fmts


def regroup(flat, fmt):
    """Inverse of `flatten`: (nested items, remaining flat items)."""
    if isinstance(fmt, int):
        return (flat[0], flat[1:]) if fmt == 0 else (flat[:fmt], flat[fmt:])
    out = []
    for f in fmt:
        item, flat = regroup(flat, f)
        out.append(item)
    return out, flat
