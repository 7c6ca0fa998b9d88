"""Formatting helpers shared by every page and by the tests (so both print a figure the same way).

GB is 10^9 bytes, GiB is 2^30 bytes; every memory figure says which.
"""

from __future__ import annotations

import html
import math

GB = 1e9
GIB = 2**30


def esc(value: object) -> str:
    """A catalog string made safe for HTML and for a Markdown table cell."""
    return html.escape(str(value), quote=True).replace("|", "&#124;").replace("\n", " ")


def _num(x: float, digits: int) -> str:
    return f"{x:,.{digits}f}"


def gb(nbytes: float | None) -> str:
    """Bytes as GB (10^9): one decimal from 10 GB, two below."""
    if nbytes is None or (isinstance(nbytes, float) and math.isnan(nbytes)):
        return "n/a"
    v = nbytes / GB
    return f"{_num(v, 1 if abs(v) >= 10 else 2)} GB"


def gib(nbytes: float | None) -> str:
    """Bytes as GiB (2^30)."""
    if nbytes is None:
        return "n/a"
    v = nbytes / GIB
    return f"{_num(v, 1 if abs(v) >= 10 else 2)} GiB"


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


def kwh(x: float) -> str:
    return f"{x:,.1f} kWh"


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
