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
            fig.tight_layout()
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
