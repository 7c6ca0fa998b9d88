"""Charts as inline SVG, drawn with matplotlib at build time.

Output is byte-identical across builds: the SVG id salt is the chart's key, the Date metadata
is left out, and text stays text (svg.fonttype none). Each chart renders once per build.
"""

from __future__ import annotations

import html
import io
import os
import re
import threading
from typing import Callable

_CACHE: dict[str, str] = {}


_WARM: list[bool] = []


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    if not _WARM:  # load fonts and the SVG backend once, so forked children start warm
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.set_title("warm-up")
        fig.savefig(io.StringIO(), format="svg", metadata={"Date": None})
        plt.close(fig)
        _WARM.append(True)
    return matplotlib, plt


# Drawn for readers: text at least MIN_FONT_PT (10 pt of a 7 in figure rendered at 640 px or wider is
# 12.7 px; site.css never draws a chart narrower than 640 px), every line and the grid at 3:1 contrast
# or better against the white page (WCAG 1.4.11). The palette is colour-blind safe: Okabe-Ito blue and
# vermillion, then Paul Tol's muted set without its light members; series also differ by line style.
MIN_FONT_PT = 10.0
BACKGROUND = "#ffffff"
PALETTE = ("#0072B2", "#D55E00", "#117733", "#AA4499", "#000000", "#882255", "#CC6677", "#332288")
LINESTYLES = ("-", "--", "-.", ":", (0, (6, 1.5)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (8, 2, 2, 2)))
GRID_COLOR = "#8c8c8c"


def _luminance(hex_color: str) -> float:
    """WCAG relative luminance of an sRGB colour given as #rrggbb."""
    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_color.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def contrast(a: str, b: str = BACKGROUND) -> float:
    """WCAG contrast ratio of two #rrggbb colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _for_readers(fig) -> None:
    """Raise small text to MIN_FONT_PT, make lines and markers opaque and the grid solid grey."""
    from matplotlib.text import Text
    for text in fig.findobj(Text):
        if text.get_fontsize() < MIN_FONT_PT:
            text.set_fontsize(MIN_FONT_PT)
    for ax in fig.axes:
        grid = ax.xaxis.get_gridlines() + ax.yaxis.get_gridlines()
        if any(g.get_visible() for g in grid):
            ax.grid(True, which="major", color=GRID_COLOR, alpha=1.0, linewidth=0.6, linestyle="-")
        for line in ax.get_lines():
            line.set_alpha(None)
        for coll in ax.collections:
            coll.set_alpha(None)
        leg = ax.get_legend()
        if leg is not None:
            for handle in getattr(leg, "legend_handles", None) or getattr(leg, "legendHandles", []):
                handle.set_alpha(None)


def _render(key: str, draw: Callable, width: float, height: float) -> str:
    """The chart as SVG text: `draw(fig, ax)` on a fresh figure."""
    matplotlib, plt = _plt()
    from cycler import cycler
    with matplotlib.rc_context({"svg.hashsalt": key, "svg.fonttype": "none", "font.size": MIN_FONT_PT,
                                "axes.titlesize": MIN_FONT_PT + 1, "axes.labelsize": MIN_FONT_PT,
                                "xtick.labelsize": MIN_FONT_PT, "ytick.labelsize": MIN_FONT_PT,
                                "legend.fontsize": MIN_FONT_PT,
                                "axes.prop_cycle": cycler(color=PALETTE) + cycler(linestyle=LINESTYLES),
                                "grid.color": GRID_COLOR, "grid.alpha": 1.0, "grid.linewidth": 0.6,
                                "figure.facecolor": BACKGROUND, "axes.facecolor": BACKGROUND,
                                "text.parse_math": False,  # catalog names are text: `$` is a dollar
                                "axes.spines.top": False, "axes.spines.right": False}):
        fig, ax = plt.subplots(figsize=(width, height))
        try:
            draw(fig, ax)
            _for_readers(fig)
            fig.tight_layout(pad=0.5)
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None})
        finally:
            plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = "\n".join(line for line in text.splitlines() if line.strip())
    return re.sub(r'(<svg[^>]*?) width="[^"]*" height="[^"]*"', r'\1', text, count=1)


# Charts render in forked child processes while the build goes on with other pages; the page
# carries a placeholder that `resolve` (called from the post-page hook) swaps for the SVG.
# GUIDE_CHARTS_INLINE=1, a platform without fork, or other threads running (mkdocs serve) render inline.
_PENDING: dict[str, tuple[int, int]] = {}
_DONE: dict[str, str] = {}
PLACEHOLDER = "<!--guide-chart:{}-->"


def _can_fork() -> bool:
    return hasattr(os, "fork") and not os.environ.get("GUIDE_CHARTS_INLINE") and threading.active_count() == 1


def _start(key: str, draw: Callable, width: float, height: float) -> None:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: render, write, leave without running the parent's clean-up
        status = 1
        try:
            os.close(read_fd)
            data = _render(key, draw, width, height).encode("utf-8")
            with os.fdopen(write_fd, "wb") as out:
                out.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    _PENDING[key] = (pid, read_fd)


def _collect(key: str) -> str:
    if key not in _DONE:
        pid, read_fd = _PENDING.pop(key)
        with os.fdopen(read_fd, "rb") as src:
            data = src.read()
        _, status = os.waitpid(pid, 0)
        if status != 0:
            raise RuntimeError(f"chart {key!r} failed to render (child exit status {status})")
        _DONE[key] = data.decode("utf-8")
    return _DONE[key]


def resolve(page_html: str) -> str:
    """Swap every chart placeholder in a built page for its SVG."""
    for key in re.findall(r"<!--guide-chart:(.*?)-->", page_html):
        page_html = page_html.replace(PLACEHOLDER.format(key), _collect(key))
    return page_html


def svg(key: str, draw: Callable, width: float = 7.0, height: float = 3.6, alt: str = "") -> str:
    """`draw(fig, ax)` rendered once per build as an inline <figure> holding the SVG."""
    if key in _CACHE:
        return _CACHE[key]
    if re.search(r"[^A-Za-z0-9_.:-]", key):
        raise ValueError(f"chart key {key!r}: letters, digits and _.:- only")
    if _can_fork():
        _plt()  # import matplotlib once, here, so each child starts with it loaded
        _start(key, draw, width, height)
    else:
        _DONE[key] = _render(key, draw, width, height)
    # The page always carries the placeholder (so the search index never holds chart text).
    # The figure scrolls sideways on a phone (the SVG is never drawn narrower than 640 px), so it is
    # focusable for keyboard scrolling.
    out = (f'<figure class="chart" role="img" tabindex="0" aria-label="{html.escape(alt, quote=True)}">\n'
           f'{PLACEHOLDER.format(key)}\n</figure>\n')
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
