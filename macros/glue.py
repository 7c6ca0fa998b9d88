"""The MkDocs glue: mkdocs-macros calls define_env once per build; this wires names to the layers.

Nothing is computed here. The catalog is loaded once per build (a broken catalog raises and
the build stops), one Engine is shared by every page, and each page module contributes its
macros through a `macros(ctx)` function returning {name: callable}. `make serve` (macros/serve.py)
calls define_env again after a catalog edit, on the same plugin, to register the macros anew.
"""

import importlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE_MODULES = ("macros.render.pages", "macros.render.factcheck", "macros.calculator")


def _fresh_modules() -> None:
    """Drop cached project modules, so a process that builds twice (plain `mkdocs serve`) runs
    the code as it is now."""
    for name in list(sys.modules):
        if name == "macros" or name.startswith("macros."):
            del sys.modules[name]


def define_env(env):
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if not os.environ.get("GUIDE_KEEP_MODULES"):  # set by `make serve`, which reloads code itself
        _fresh_modules()
    from macros.context import BuildContext

    charts = sys.modules.get("macros.render.charts")
    if charts is not None:  # a kept module: forget the charts drawn from the previous catalog
        for cache in (charts._CACHE, charts._DONE):
            cache.clear()

    ctx = BuildContext.load(ROOT / "catalog")
    env.variables["build_ctx"] = ctx
    env.conf["guide_build_ctx"] = ctx  # the hook that generates pages reads the same catalog
    for module_name in PAGE_MODULES:
        for name, fn in importlib.import_module(module_name).macros(ctx).items():
            env.macro(fn, name)


def on_post_page_macros(env):
    """For `make bench` only: with GUIDE_DUMP_MARKDOWN set, keep each page's Markdown after the
    macros ran, so the same pages can be built again with their figures as plain text."""
    dump = os.environ.get("GUIDE_DUMP_MARKDOWN")
    if dump:
        path = Path(dump) / env.page.file.src_uri
        path.parent.mkdir(parents=True, exist_ok=True)
        charts = sys.modules.get("macros.render.charts")
        text = charts.resolve(env.markdown) if charts else env.markdown  # the plain copy carries the SVG
        path.write_text(text, encoding="utf-8")
