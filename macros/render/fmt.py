"""Formatting helpers shared by every page and by the tests (so both print a figure the same way).

Two kinds of memory figure, each in one unit (the methodology page's units note explains both):
- an installed capacity prints as the vendor sells it, `capacity()`: a "24 GB" card holds 24 x 2^30
  bytes and shows as "24 GB";
- a size the engine computes in bytes (weights, KV cache, memory needed, headroom) prints in GB of
  10^9 bytes, `gb()`, as Hugging Face file listings give file sizes.
Bandwidths stay decimal (GB/s = 10^9 bytes/s). Reader pages never print GiB.
"""

from __future__ import annotations

import html
import math
import re

GB = 1e9
GIB = 2**30


# Markdown's markup characters as numeric character references: they display as themselves but
# start no link, image, emphasis, code span, attribute list or footnote. `_` inside a word is not
# markup (and stays readable in ids such as Q4_K_M inside code spans), so only a `_` at a word edge is
# replaced. `<` and `&` are already references after html.escape (which also defeats `--8<--`).
_MD_CHARS = {"\\": "&#92;", "`": "&#96;", "*": "&#42;", "[": "&#91;", "]": "&#93;", "{": "&#123;",
             "}": "&#125;", "|": "&#124;", "!": "&#33;", "$": "&#36;", "~": "&#126;", "^": "&#94;"}
_MD_RE = re.compile(r"[\\`*\[\]{}|!$~^]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def esc(value: object) -> str:
    """A catalog string as literal text: safe for HTML, for Markdown (no markup of any kind) and for a
    Markdown table cell. Every catalog string reaches a page through this function."""
    text = html.escape(" ".join(str(value).splitlines()), quote=True)
    return _MD_RE.sub(lambda m: _MD_CHARS.get(m.group(), "&#95;"), text)


def _num(x: float, digits: int) -> str:
    return f"{x:,.{digits}f}"


def gb(nbytes: float | None) -> str:
    """Bytes as GB (10^9): one decimal from 10 GB, two below."""
    if nbytes is None or (isinstance(nbytes, float) and math.isnan(nbytes)):
        return "n/a"
    v = nbytes / GB
    return f"{_num(v, 1 if abs(v) >= 10 else 2)} GB"


def capacity(nbytes: float | None) -> str:
    """An installed memory capacity as sold: bytes / 2^30 labelled GB ("24 GB" for 24 x 2^30 bytes).

    Whole numbers print without decimals; a fraction keeps up to two ("0.5 GB").
    """
    if nbytes is None or (isinstance(nbytes, float) and math.isnan(nbytes)):
        return "n/a"
    v = nbytes / GIB
    if abs(v - round(v)) < 0.005:
        return f"{round(v):,} GB"
    return f"{v:,.2f}".rstrip("0").rstrip(".") + " GB"


def mb(nbytes: float) -> str:
    """Bytes as MB (10^6)."""
    return f"{_num(nbytes / 1e6, 1 if nbytes < 1e8 else 0)} MB"


def small_bytes(nbytes: float) -> str:
    """Bytes as B, KB, MB or GB (powers of 10), for per-token figures."""
    if nbytes < 1e3:
        return f"{nbytes:,.0f} B"
    if nbytes < 1e6:
        return f"{_num(nbytes / 1e3, 1)} KB"
    if nbytes < 1e9:
        return mb(nbytes)
    return gb(nbytes)


def tok_s(x: float | None) -> str:
    """Tokens per second: two decimals below 1, one below 100, none above."""
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return "n/a"
    if x < 1:
        return f"{x:.2f} tok/s"
    if x < 100:
        return f"{x:.1f} tok/s"
    return f"{x:,.0f} tok/s"


def tok_s_bare(x: float) -> str:
    """A speed's number alone, rounded as tok_s rounds it (for the ends of a band)."""
    return tok_s(x).removesuffix(" tok/s")


def pct(fraction: float | None, digits: int = 0) -> str:
    if fraction is None:
        return "n/a"
    return f"{100 * fraction:.{digits}f}%"


def usd(x: float | None) -> str:
    if x is None:
        return "n/a"
    if abs(x) < 10:
        return f"${x:,.2f}"
    return f"${x:,.0f}"


def watts(w: float | None) -> str:
    return "n/a" if w is None else f"{w:,.0f} W"


def params(n: float) -> str:
    """A parameter count in billions (B = 10^9 parameters)."""
    v = n / 1e9
    return f"{_num(v, 1 if v >= 10 else 2)} B"


def tokens(n: float | None) -> str:
    return "n/a" if n is None else f"{int(round(n)):,}"


def seconds(s: float | None) -> str:
    """A duration: s below two minutes, then min, then h."""
    if s is None or math.isinf(s) or math.isnan(s):
        return "n/a"
    if s < 120:
        return f"{s:,.1f} s"
    if s < 7200:
        return f"{s / 60:,.1f} min"
    return f"{s / 3600:,.1f} h"


def ms(s: float) -> str:
    return f"{s * 1e3:,.2f} ms"


def bpw(x: float) -> str:
    return f"{x:.2f}"


PLACEMENT_LABELS = {
    "gpu": "on the GPU",
    "layer_split": "split across GPUs",
    "unified": "in unified memory",
    "unified_raised_cap": "unified, limit raised",
    "moe_expert_offload": "experts in RAM",
    "layer_offload": "layers in RAM",
    "cpu": "CPU and RAM",
    "does_not_fit": "does not fit",
}


def placement(p: str) -> str:
    return PLACEMENT_LABELS.get(p, p)


def _finite_or_na(fn):
    """A number formatter that prints "n/a" for None, NaN or an infinity: a page never shows nan or inf."""
    def wrapped(x, *args, **kwargs):
        if x is None or (isinstance(x, float) and not math.isfinite(x)):
            return "n/a"
        return fn(x, *args, **kwargs)
    wrapped.__name__, wrapped.__doc__, wrapped.__wrapped__ = fn.__name__, fn.__doc__, fn
    return wrapped


for _name in ("gb", "capacity", "gib", "mb", "small_bytes", "tok_s", "pct", "usd", "watts", "kwh", "params",
              "tokens", "seconds", "ms", "bpw"):
    if _name in globals():
        globals()[_name] = _finite_or_na(globals()[_name])
