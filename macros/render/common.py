"""What the page renderers share: memoised estimates, the machine list, links, tables, details blocks."""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Sequence

from ..engine import Machine
from ..engine import search
from .fmt import esc

# The quantizations tables show, most bits first (those the catalog lacks are skipped).
COMMON_QUANTS = ("BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")
CONTEXTS = (4096, 32768, 131072, 262144)
FAMILY = "qwen3.5"


@dataclasses.dataclass(frozen=True)
class Entry:
    """A machine a page can name: a catalog hardware item (one device) or a rig."""

    id: str
    kind: str  # hardware | rig
    machine: Machine
    name: str


class Site:
    """One per build: the catalog, the engine, and a cache of estimates every page shares."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.catalog = ctx.catalog
        self.engine = ctx.engine
        self._cache: dict[tuple, Any] = {}
        self._entries: dict[str, Entry] | None = None
        self._featured_entries: dict[str, Entry] | None = None
        self._featured_models: list[str] | None = None

    # -------------------------------------------------------------- lookups
    def quants(self, ids: Iterable[str] = COMMON_QUANTS) -> list[str]:
        return [q for q in ids if q in self.catalog.quants]

    def family_models(self, family: str = FAMILY) -> list[str]:
        return [m.id for m in self.catalog.models.values() if m.family == family]

    def entries(self) -> dict[str, Entry]:
        if self._entries is None:
            out = {}
            for hid, hw in self.catalog.hardware.items():
                out[hid] = Entry(hid, "hardware", self.engine.machine(hid), hw.name)
            for rid, rig in self.catalog.rigs.items():
                out[rid] = Entry(rid, "rig", self.engine.machine(rid), rig.name)
            self._entries = out
        return self._entries

    def entry(self, machine_id: str) -> Entry:
        return self.entries()[machine_id]

    # The featured set: the one place that picks what other pages cross-list. A model page lists the
    # featured machines and a hardware page the featured models, so each page's work is bounded by the
    # editors' choice, not by the catalog's size (every item still has its own page and index row).
    def featured_entries(self) -> dict[str, Entry]:
        """Featured hardware items and rigs, in catalog order."""
        if self._featured_entries is None:
            self._featured_entries = {
                i: self.entry(i)
                for i, rec in [*self.catalog.hardware.items(), *self.catalog.rigs.items()] if rec.featured}
        return self._featured_entries

    def featured_models(self) -> list[str]:
        """Featured model ids, in catalog order."""
        if self._featured_models is None:
            self._featured_models = [mid for mid, m in self.catalog.models.items() if m.featured]
        return self._featured_models

    def limit(self, model_id: str) -> int:
        return self.catalog.models[model_id].architecture.max_position_embeddings

    def ctx_for(self, model_id: str, context: int) -> int:
        return min(context, self.limit(model_id))

    # -------------------------------------------------------------- memoised engine calls
    def estimate(self, model_id: str, quant: str, context: int = 4096, machine: Machine | None = None,
                 kv_type: str = "f16", mode: str = "layer_split", **kw):
        key = ("e", model_id, quant, context, machine, kv_type, mode, tuple(sorted(kw.items())))
        if key not in self._cache:
            self._cache[key] = self.engine.estimate(model_id, quant, context=context, kv_type=kv_type,
                                                    machine=machine, mode=mode, **kw)
        return self._cache[key]

    def best(self, model_id: str, machine: Machine, context: int = 4096, quants: Sequence[str] = COMMON_QUANTS):
        key = ("best", model_id, machine, context, tuple(quants))
        if key not in self._cache:
            self._cache[key] = search.best_quant(_Memo(self), model_id, machine, self.quants(quants),
                                                  self.ctx_for(model_id, context))
        return self._cache[key]

    def max_context(self, model_id: str, quant: str, machine: Machine, need: str = "fits"):
        key = ("ctx", model_id, quant, machine, need)
        if key not in self._cache:
            self._cache[key] = search.largest_context(_Memo(self), model_id, quant, machine, need=need)
        return self._cache[key]

    # -------------------------------------------------------------- links
    def model_link(self, model_id: str, base: str) -> str:
        return f"[{esc(self.catalog.models[model_id].name)}]({base}models/{model_id}.md)"

    def machine_link(self, machine_id: str, base: str) -> str:
        return f"[{esc(self.entry(machine_id).name)}]({base}hardware/{machine_id}.md)"

    def source_link(self, kind: str, record_id: str) -> str:
        """The first source of a record as a link (escaped), with where it lives in the catalog."""
        rec = getattr(self.catalog, kind)[record_id]
        src = rec.source[0] if getattr(rec, "source", None) else None
        where = esc(self.catalog.where(kind, record_id))
        if src is None:
            return f"`{where}`"
        label = esc(src.url or src.doc)
        if src.url and src.url.startswith(("http://", "https://")):
            return f'<a href="{esc(src.url)}">{label}</a> (`{where}`)'
        return f"{label} (`{where}`)"


class _Memo:
    """An engine look-alike whose estimate() goes through the Site cache (for derived.*)."""

    def __init__(self, site: Site):
        self._site = site
        self.catalog = site.catalog

    def estimate(self, model_id, quant, context=4096, kv_type="f16", machine=None, **kw):
        return self._site.estimate(model_id, quant, context=context, machine=machine, kv_type=kv_type, **kw)

    def bits(self, quant):
        return self._site.engine.bits(quant)


def site_for(ctx) -> Site:
    """The build's shared Site (kept on the context object so every macro reuses its cache)."""
    site = getattr(ctx, "_render_site", None)
    if site is None:
        site = Site(ctx)
        ctx._render_site = site
    return site


# ------------------------------------------------------------------ Markdown pieces

def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: Sequence[str] | None = None) -> str:
    """A Markdown table; cells are already formatted (and escaped where they hold catalog text)."""
    rows = list(rows)
    align = align or ["l"] + ["r"] * (len(headers) - 1)
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def indent(text: str, n: int = 4) -> str:
    pad = " " * n
    return "\n".join(pad + line if line.strip() else "" for line in text.splitlines())


def details(body: str, title: str = "How this is computed", kind: str = "note") -> str:
    """A collapsible block (pymdownx.details)."""
    return f'\n??? {kind} "{title}"\n\n{indent(body)}\n\n'


def admonition(body: str, kind: str = "warning", title: str | None = None) -> str:
    head = f'!!! {kind} "{title}"' if title else f"!!! {kind}"
    return f"\n{head}\n\n{indent(body)}\n\n"


def parts_table(parts, fmt_value, names: dict[str, str] | None = None) -> str:
    """A named breakdown as a table: part, value, formula."""
    rows = []
    for k, v in parts.values.items():
        if not v:
            continue
        rows.append([esc((names or {}).get(k, k.replace("_", " "))), fmt_value(v), esc(parts.formulas.get(k, ""))])
    rows.append(["**total**", f"**{fmt_value(parts.total)}**", ""])
    return table(["part", "value", "formula"], rows, ["l", "r", "l"])


ESTIMATE_NOTE = ("Speeds are estimates from the engine's bandwidth model, fitted to published measurements; "
                 "see the [methodology]({base}methodology.md) for its error.")


def estimate_note(base: str) -> str:
    return admonition(ESTIMATE_NOTE.format(base=base), "info", "Estimates")
