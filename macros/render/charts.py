"""Charts as inline SVG, drawn with matplotlib at build time.

Output is byte-identical across builds: the SVG id salt is the chart's key, the Date metadata
is left out, and text stays text (svg.fonttype none). Each chart renders once per build.
"""

from __future__ import annotations

import io
import re
from typing import Callable

_CACHE: dict[str, str] = {}


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return matplotlib, plt


def svg(key: str, draw: Callable, width: float = 7.0, height: float = 3.6, alt: str = "") -> str:
    """`draw(fig, ax)` rendered once per build as an inline <figure> holding the SVG."""
    if key in _CACHE:
        return _CACHE[key]
    matplotlib, plt = _plt()
    with matplotlib.rc_context({"svg.hashsalt": key, "svg.fonttype": "none", "font.size": 9,
                                "axes.spines.top": False, "axes.spines.right": False}):
        fig, ax = plt.subplots(figsize=(width, height))
        try:
            draw(fig, ax)
            fig.subplots_adjust(left=0.11, right=0.98, bottom=0.14, top=0.9)
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None})
        finally:
            plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = "\n".join(line for line in text.splitlines() if line.strip())
    text = re.sub(r'(<svg[^>]*?) width="[^"]*" height="[^"]*"', r'\1', text, count=1)
    import html
    out = (f'<figure class="chart" role="img" aria-label="{html.escape(alt, quote=True)}">\n{text}\n</figure>\n')
    _CACHE[key] = out
    return out


def context_axis(ax, grid) -> None:
    """A log2 context axis labelled 4K, 32K, ... (plain text: no mathtext, which is slow to lay out)."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(grid), labels=[f"{c // 1024}K" if c >= 1024 else str(c) for c in grid])
    ax.minorticks_off()


def plain_log(ax, axis: str = "both") -> None:
    """Log axes with plain-number tick labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator
    f = FuncFormatter(lambda v, _: f"{v:g}")
    for name in ("x", "y") if axis == "both" else (axis,):
        getattr(ax, f"set_{name}scale")("log")
        a = getattr(ax, f"{name}axis")
        a.set_major_locator(LogLocator(base=10))
        a.set_major_formatter(f)
        a.set_minor_formatter(FuncFormatter(lambda v, _: ""))
