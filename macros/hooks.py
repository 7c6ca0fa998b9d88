"""MkDocs hook: one generated page per catalog model (models/<id>.md) and per hardware item and rig
(hardware/<id>.md), each a single macro call, listed in the nav under their section index."""

from __future__ import annotations

import html as html_lib
import os
import sys
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]


def _catalog(config):
    """The catalog the macros plugin loaded for this build (glue.py leaves it in the config)."""
    ctx = config.get("guide_build_ctx")
    if ctx is not None:
        return ctx.catalog
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from macros.catalog import load_catalog
    return load_catalog(Path(os.environ.get("GUIDE_CATALOG") or ROOT / "catalog"))


def on_files(files, config):
    catalog = _catalog(config)
    pages = {"models": [(mid, m.name) for mid, m in catalog.models.items()],
             "hardware": [(hid, h.name) for hid, h in catalog.hardware.items()] +
                         [(rid, r.name) for rid, r in catalog.rigs.items()]}
    macro = {"models": "model_page", "hardware": "hardware_page"}
    # The generated pages are reached from their section's index page, not listed in the nav:
    # a nav entry per page would put every page's link into every page (quadratic site size).
    for section, items in pages.items():
        for item_id, name in items:
            path = f"{section}/{item_id}.md"
            if files.get_file_from_path(path) is None:
                files.append(File.generated(config, path, content=f"{{{{ {macro[section]}('{item_id}') }}}}\n"))
    _optional_pages(files, config.get("nav"))
    return files


OPTIONAL_PAGES = (("Calculator", "calculator.md"), ("Fact-check", "fact-check.md"))


def _optional_pages(files, nav) -> None:
    """Put the calculator and fact-check pages in the nav, before Methodology, when they exist."""
    if nav is None:
        return
    listed = {v for item in nav if isinstance(item, dict) for v in item.values() if isinstance(v, str)}
    at = next((i for i, item in enumerate(nav) if isinstance(item, dict) and "methodology.md" in item.values()),
              len(nav))
    for title, path in OPTIONAL_PAGES:
        if files.get_file_from_path(path) is not None and path not in listed:
            nav.insert(at, {title: path})
            at += 1


def on_page_content(html, page, config, files):
    """Page titles reach the theme's <title> through a filter that decodes entities, so a catalog
    name holding markup would come out live there: titles lose their angle brackets instead."""
    if page.title:
        text = html_lib.unescape(page.title)
        if "<" in text or ">" in text:
            page.title = html_lib.escape(text.replace("<", "‹").replace(">", "›"), quote=False)
    common = sys.modules.get("macros.render.common")  # every content table gets a caption
    return common.table_captions(html) if common and "<table>" in html else html


def on_post_page(output, page, config):
    """Put each chart, rendered beside the build in a child process, where its placeholder stands."""
    charts = sys.modules.get("macros.render.charts")
    return charts.resolve(output) if charts and "<!--guide-chart:" in output else output
