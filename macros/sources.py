"""Where the catalog's facts come from: every domain by kind of record, and the records on a weak source.

`make sources` prints the report. A source is weak when a reader cannot follow it to a public primary
address: it names a document but no address (`doc` only), a path outside this repository, a domain on the
deny-list below, a Hugging Face repository front page where a file size needs the file listing, or it says
itself why it falls short (`weak:` in the catalog). The deny-list is data with a reason per domain;
tests/test_sources.py fails when any source uses one, or cites a path outside the repository.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from pydantic import BaseModel

from macros.catalog import load_catalog
from macros.catalog.schema import Source

ROOT = Path(__file__).resolve().parents[1]

# Domains that are not sources: each with the reason a reader should not be sent there.
DENY_DOMAINS: dict[str, str] = {
    "goodnewsapodcast.com": "gossip aggregator re-telling Apple spec news",
    "crunchbasenewstoday.com": "content farm re-posting other sites' articles",
    "english.worldmagazine.it": "unattributed copy of a Macworld article (a mirror)",
    "italy24news.com": "news aggregator copying other outlets",
    "alkhaleejtoday.co": "news aggregator copying other outlets",
    "channelnewsbox.com": "news aggregator copying other outlets",
    "somagnews.com": "gossip aggregator",
    "incpak.com": "gossip aggregator",
    "thetechabc.com": "content farm",
    "playeatsleep.fun": "content farm",
    "gizwires.com": "content farm",
    "zirako.com": "content farm re-posting launch news",
    "tellforceblog.com": "blog re-telling Apple press releases",
    "radargit.com": "unsourced spec blog (its M3 Max TFLOPS assume an unstated clock)",
    "zaro.info": "unsourced Q&A content farm",
    "meterpreter.org": "unrelated security blog re-posting hardware news",
    "reddit.perdach.com": "a mirror of Reddit threads",
    "hugflare.com": "a mirror of Hugging Face pages",
    "fast.hugflare.com": "a mirror of Hugging Face pages",
    "maychudoanhnghiep.vn": "server reseller (Vietnam), not the vendor",
    "mullet.se": "retailer (Sweden) used for specs, not a price",
    "omegaco.ae": "retailer (UAE) used for specs, not a price",
    "cputronic.com": "reseller used for specs",
    "store.sourcecode.com": "reseller used for specs",
    "server-parts.eu": "reseller used for specs",
    "itcreations.com": "reseller used for specs",
    "monsterpc-sg.com": "retailer (Singapore) used for specs",
    "manhattanreefs.com": "aquarium forum, not an electrical code",
    "pocketmags.com": "magazine storefront, not the article",
    "mcnolowhardwaregaming.blogspot.com": "personal blog re-telling specs",
    "ferreiradozezere.net": "unrelated site",
    "morgannriu.fr": "unrelated site",
    "cpu-gpu.alldbin.com": "spec aggregator of unknown provenance",
    "sysrqmts.com": "system-requirements aggregator",
    "fred-trends.vercel.app": "unofficial re-host of FRED data",
    "oreateai.com": "content farm",
    "newgearhub.com": "content farm",
    "biggo.com": "price-comparison aggregator used for specs",
    "pangoly.com": "price-comparison aggregator used for specs",
    "chipversus.com": "spec aggregator of unknown provenance",
    "technical.city": "spec aggregator of unknown provenance",
    "topcpu.net": "spec aggregator of unknown provenance",
    "ar.whatpsu.com": "spec aggregator of unknown provenance",
    "foruma.anandtech.com": "a mis-spelled forum mirror",
}

# Domains a reader can open but that are not primary: listed as weak by `make sources`, not refused.
WEAK_DOMAINS: dict[str, str] = {
    "tekspecz.com": "blog re-telling Apple keynote figures",
    "llmperf.net": "benchmark aggregator without its own method",
    "modelfit.io": "sizing blog, not the vendor",
    "ai-infrastructure.net": "sizing blog, not the vendor",
    "zolotukhin.ai": "personal blog re-telling a vendor page",
    "docs.laozhang.ai": "API reseller's price, not the model provider's",
    "developer.puter.com": "API reseller's price, not the model provider's",
    "wavespeed.ai": "API reseller's price, not the model provider's",
    "raw.githubusercontent.com": "a file in a third-party repository standing in for the vendor's page",
}

# The kind of field a source backs, by catalog kind (prices are split out below).
FIELD_KIND = {
    "hardware": "hardware", "models": "models", "artifacts": "artifacts", "measurements": "measurements",
    "api_prices": "prices", "constants": "constants", "rigs": "rigs", "quants": "quants",
    "storage_types": "storage types", "runtimes": "runtimes", "quality": "quality", "downloads": "downloads",
}
KIND_ORDER = ["hardware", "models", "artifacts", "measurements", "prices", "constants", "rigs", "quants",
              "storage types", "runtimes", "quality", "downloads"]

_PATHISH = re.compile(r"^(?:\.\./|/|~|shared/|seeds/)|(?:^|\s)shared/(?:reference|seeds)/")
_HF_FRONT = re.compile(r"^https?://huggingface\.co/[^/]+/[^/?#]+/?$")


@dataclass(frozen=True)
class Cited:
    kind: str  # catalog kind (hardware, artifacts, ...)
    field_kind: str  # what the source backs (see FIELD_KIND; "prices" for a price)
    record: str
    source: Source


def domain(url: str) -> str:
    host = (urlparse(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def denied(url: str) -> str | None:
    """The deny-list reason for this address's domain (or a parent domain), else None."""
    host = domain(url)
    parts = host.split(".")
    for i in range(len(parts) - 1):
        reason = DENY_DOMAINS.get(".".join(parts[i:]))
        if reason:
            return reason
    return None


def weak_domain(url: str) -> str | None:
    host = domain(url)
    parts = host.split(".")
    for i in range(len(parts) - 1):
        reason = WEAK_DOMAINS.get(".".join(parts[i:]))
        if reason:
            return reason
    return None


def outside_repository(doc: str | None) -> bool:
    """A `doc` that points at a file not in this repository (../shared notes, seeds, absolute paths)."""
    if not doc:
        return False
    if _PATHISH.search(doc):
        return True
    head = doc.split()[0]
    if "/" in head and re.search(r"\.(md|ya?ml|txt|json|py|csv)$", head):
        return not (ROOT / head).exists()
    return False


def _in_repository(doc: str | None) -> bool:
    """A `doc` naming a file of this repository (e.g. a catalog record the fact is derived from)."""
    if not doc:
        return False
    head = doc.split()[0]
    return "/" in head and (ROOT / head).exists()


def _sources_in(value) -> list[Source]:
    if isinstance(value, Source):
        return [value]
    if isinstance(value, BaseModel):
        return [s for name in type(value).model_fields for s in _sources_in(getattr(value, name))]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _sources_in(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _sources_in(v)]
    return []


def _is_price_source(record, source: Source) -> bool:
    if getattr(record, "price_usd", None) is None:
        return False
    text = f"{source.quote or ''} {source.note or ''}".lower()
    return "$" in text or "price" in text


def cited(catalog) -> list[Cited]:
    out = []
    for kind, label in FIELD_KIND.items():
        for rid, record in (getattr(catalog, kind, None) or {}).items():
            for s in _sources_in(record):
                field_kind = "prices" if kind == "api_prices" or _is_price_source(record, s) else label
                out.append(Cited(kind, field_kind, rid, s))
    return out


def weaknesses(c: Cited) -> list[str]:
    """Why this one source is weak (empty when a reader can follow it)."""
    s, why = c.source, []
    if s.weak:
        why.append(f"marked weak: {s.weak}")
    if outside_repository(s.doc):
        why.append(f"path outside the repository: {s.doc}")
    if not s.url and not _in_repository(s.doc):
        why.append("no public address (document only)")
    else:
        reason = denied(s.url)
        if reason:
            why.append(f"deny-listed domain {domain(s.url)} ({reason})")
        soft = weak_domain(s.url)
        if soft and not s.weak:
            why.append(f"secondary source {domain(s.url)} ({soft})")
        if c.kind == "artifacts" and _HF_FRONT.match(s.url):
            why.append("repository front page, not the file listing")
    return why


def weak_records(catalog) -> dict[tuple[str, str], list[str]]:
    """(kind, record id) -> reasons, for records whose every source is weak or that carry a marked-weak source."""
    by_record: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    for c in cited(catalog):
        by_record[(c.kind, c.record)].append(weaknesses(c))
    out = {}
    for key, lists in by_record.items():
        marked = [w for ws in lists for w in ws if w.startswith(("marked weak", "path outside", "deny-listed"))]
        if all(lists) or marked:
            out[key] = sorted({w for ws in lists for w in ws})
    return out


def domains_by_kind(catalog) -> dict[str, Counter]:
    table: dict[str, Counter] = defaultdict(Counter)
    for c in cited(catalog):
        table[c.field_kind][domain(c.source.url) if c.source.url else "(no address)"] += 1
    return table


def report(catalog) -> str:
    lines = ["Sources by kind of field (domain: number of sources)", ""]
    table = domains_by_kind(catalog)
    for kind in KIND_ORDER:
        if kind not in table:
            continue
        lines.append(f"{kind} ({sum(table[kind].values())} sources)")
        for dom, n in sorted(table[kind].items(), key=lambda kv: (-kv[1], kv[0])):
            flag = "  DENY-LISTED" if dom != "(no address)" and denied("https://" + dom) else ""
            lines.append(f"  {n:5d}  {dom}{flag}")
        lines.append("")
    weak = weak_records(catalog)
    lines.append(f"Records resting on a weak source: {len(weak)}")
    for (kind, rid), reasons in sorted(weak.items()):
        where = catalog.where(kind, rid) if (kind, rid) in catalog.lines else kind
        lines.append(f"  {where}  {kind}/{rid}")
        lines.extend(f"      - {r}" for r in reasons)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    catalog = load_catalog(ROOT / "catalog")
    print(report(catalog))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
