"""Every page macro, by name: `macros(ctx)` returns {name: callable} for glue.py to register."""

from __future__ import annotations

from typing import Callable

from . import guides, hardware_page, methodology, model_page, overview
from .common import site_for


def macros(ctx) -> dict[str, Callable[..., str]]:
    site = site_for(ctx)
    return {
        "model_page": lambda mid: model_page.model_page(site, mid),
        "hardware_page": lambda mid: hardware_page.hardware_page(site, mid),
        "what_can_i_run": lambda ids, base="": overview.what_can_i_run(site, ids, base),
        "family_table": lambda base="": overview.family_table(site, base),
        "family_memory": lambda base="": overview.family_memory(site, base),
        "family_kv": lambda base="": overview.family_kv(site, base),
        "compare_generations": lambda pairs, base="": overview.compare_generations(site, pairs, base),
        "index_list": lambda kind: overview.index_list(site, kind),
        **methodology.macros(site),
        **guides.macros(site),
    }
