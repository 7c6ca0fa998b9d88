"""What the page renderers share: memoised estimates, the machine list, links, tables, details blocks."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Iterable, Sequence

from ..engine import Machine
from ..engine import advice, search
from . import fmt
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

    def speed_text(self, e, kind: str = "decode") -> str:
        """A speed with its error band: "38.5 tok/s (likely 26.6-55.8)", the band being the held-out error
        of the estimate's class of setup (see the methodology page); a class resting on too few
        measurements says so."""
        value = e.decode_tok_s if kind == "decode" else e.prefill_tok_s
        if not value or e.machine is None:
            return fmt.tok_s(value)
        band = self.engine.speed_band(kind, e)
        lo, hi = band.range(value)
        few = ", few measurements" if not band.enough else ""
        return f"{fmt.tok_s(value)} (likely {fmt.tok_s_bare(lo)}–{fmt.tok_s_bare(hi)}{few})"

    def recommend(self, model_id: str, machine: Machine, use: str = "chat", quants: Sequence[str] = COMMON_QUANTS):
        """The one recommendation policy (engine/advice.py), memoised: every page asks this."""
        key = ("rec", model_id, machine, use, tuple(quants))
        if key not in self._cache:
            self._cache[key] = advice.recommend(self.engine, model_id, machine, use, self.quants(quants))
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
        """The record's public sources as links with title and date read ("-" when it has none).

        A source without a public https address (a document, a local file) is left out: a reader
        can open neither, and a page never names a path.
        """
        rec = getattr(self.catalog, kind)[record_id]
        links = [s for s in (source_html(src) for src in getattr(rec, "source", None) or ()) if s]
        return "; ".join(dict.fromkeys(links)) or "-"


_GITHUB_KINDS = {"issues": "issue", "pull": "pull request", "discussions": "discussion"}


def _url_title(url: str) -> str:
    """A title for an address whose source gives none: the GitHub thread or Hugging Face repository
    it names, else the site and the last part of its path in words."""
    from urllib.parse import unquote, urlparse
    u = urlparse(url)
    host = u.netloc.lower().removeprefix("www.")
    parts = [unquote(p) for p in u.path.split("/") if p]
    if host == "github.com" and len(parts) >= 2:
        repo = f"{parts[0]}/{parts[1]}"
        if len(parts) >= 4 and parts[2] in _GITHUB_KINDS:
            return f"{repo} {_GITHUB_KINDS[parts[2]]} #{parts[3]}"
        if len(parts) >= 5 and parts[2] in ("blob", "tree"):
            return f"{repo}: {parts[-1]}"
        return f"{repo} on GitHub"
    if host == "raw.githubusercontent.com" and len(parts) >= 3:
        return f"{parts[0]}/{parts[1]}: {parts[-1]}"
    if host == "huggingface.co" and len(parts) >= 2:
        repo = f"{parts[0]}/{parts[1]}" if parts[0] not in ("datasets", "spaces") or len(parts) < 3 else \
            f"{parts[1]}/{parts[2]}"
        rest = parts[2:] if parts[0] not in ("datasets", "spaces") else parts[3:]
        if rest and rest[0] in ("blob", "resolve", "raw") and len(rest) >= 3:
            return f"{rest[-1]} of {repo} (Hugging Face)"
        if rest and rest[0] == "tree":
            return f"{repo} files (Hugging Face)"
        if rest and rest[0] == "discussions":
            return f"{repo} discussion{' #' + rest[1] if len(rest) > 1 else 's'} (Hugging Face)"
        return f"{repo} (Hugging Face)"
    if not parts:
        return host
    words = parts[-1].rsplit(".", 1)[0] if re.search(r"\.(html?|php|aspx?|pdf)$", parts[-1]) else parts[-1]
    words = re.sub(r"[-_]+", " ", words).strip()
    if words.isdigit() and len(parts) > 1:
        words = re.sub(r"[-_]+", " ", parts[-2]).strip() or words
    if len(words) > 60:
        words = words[:57].rsplit(" ", 1)[0] + "..."
    return f"{host}: {words}"


def source_html(src) -> str:
    """One source as `<a href>title</a>, read DATE`; "" for a source with no public https address."""
    url = getattr(src, "url", None)
    if not url or not url.startswith("https://"):  # links only from a source, only https
        return ""
    title = getattr(src, "title", None) or _url_title(url)
    return f'<a href="{esc(url)}">{esc(title)}</a>, read {esc(src.read.isoformat())}'


class _Memo:
    """An engine look-alike whose estimate() goes through the Site cache (for engine.search)."""

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

def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: Sequence[str] | None = None,
          caption: str | None = None) -> str:
    """A Markdown table; cells are already formatted (and escaped where they hold catalog text).

    `caption` (plain text, escaped here) becomes the table's visible <caption>; without one the table
    is captioned, for screen readers only, by the heading above it (see `table_captions`).
    """
    rows = list(rows)
    align = align or ["l"] + ["r"] * (len(headers) - 1)
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    head = ""
    if caption:
        head = CAPTION_MARK.format(esc(caption).replace("-", "&#45;")) + "\n\n"
    return head + "\n".join(lines) + "\n"


CAPTION_MARK = "<!--table-caption:{}-->"
_CAPTION_RE = re.compile(r"<!--table-caption:(.*?)-->\s*(?:</p>\s*)?<table>", re.S)
_TABLE_OR_HEADING = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1>|<table>", re.S)


def _heading_text(inner: str) -> str:
    inner = re.sub(r'<a class="headerlink".*?</a>', "", inner, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", inner)).strip()


def table_captions(page_html: str) -> str:
    """Give every content table a <caption>: the renderer's own (visible), else the text of the heading
    above it (for screen readers; the heading already shows it). Deterministic, so builds stay
    byte-identical."""
    page_html = _CAPTION_RE.sub(
        lambda m: f'<table>\n<caption class="table-caption">{m.group(1).replace("&#45;", "-")}</caption>', page_html)
    out, last, heading = [], 0, ""
    for m in _TABLE_OR_HEADING.finditer(page_html):
        if m.group(1):
            heading = _heading_text(m.group(2))
            continue
        out.append(page_html[last:m.end()])
        last = m.end()
        if heading and not page_html.startswith("\n<caption", m.end()):
            out.append(f'\n<caption class="table-caption table-caption--heading">{heading}</caption>')
    out.append(page_html[last:])
    return "".join(out)


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


ESTIMATE_NOTE = ("Speeds are estimates from the engine's model of bandwidth, compute and fixed costs, fitted to "
                 "published measurements. The range after each speed (\"likely ...\") is where 90% of measurements "
                 "of the same kind of setup lay when the engine had not seen them; see the "
                 "[methodology]({base}methodology.md#error-bands) for the table.")


def estimate_note(base: str) -> str:
    return admonition(ESTIMATE_NOTE.format(base=base), "info", "Estimates")
