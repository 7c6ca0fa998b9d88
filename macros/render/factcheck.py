"""The fact-check page: published claims by guide, each row with the verdict first, the reading, the band and
a one-line reason; the summary counts verdicts per guide with each guide's coverage.

Also the `checked` macro: a sentence in our own pages that the engine must keep true.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any, Callable

from ..claims import (CANT_TELL_LIMIT, UNITS, VERDICTS, Verdict, check_all, checked_sentence,
                      claimed_text, coverage)
from .fmt import esc

VERDICT_ORDER = VERDICTS
VERDICT_LABEL = {"holds": "✅ holds", "close": "🟡 close", "can't tell": "🔘 can't tell", "wrong": "❌ wrong",
                 "not checkable": "⚪ not checkable"}


def _ours(v: Verdict) -> str:
    if v.claim.no_such is not None:
        return "no such " + v.claim.no_such.kind
    if v.ours is None:
        return "does not run" if v.verdict == "wrong" else "–"
    if isinstance(v.ours, bool):
        return "yes" if v.ours else "no"
    if isinstance(v.ours, (int, float)):
        unit = UNITS.get(v.claim.query.output, v.claim.unit or "") if v.claim.query else ""
        if v.claim.query and v.claim.query.output.startswith(("speedup_vs", "weights_gb_saved_vs")):
            unit = v.claim.unit or ""
        x = float(v.ours)
        digits = 0 if abs(x) >= 100 else (1 if abs(x) >= 10 else 2)
        return esc(f"{x:,.{digits}f} {unit}".strip())
    return esc(v.ours)


def _error(v: Verdict) -> str:
    if v.error_log is None or math.isinf(v.error_log):
        return ""
    if v.error_log == 0:
        return "(0%)"
    return f"({v.error_pct:+.0f}%)" if abs(v.error_pct) < 100 else f"(x{math.exp(v.error_log):.1f})"


def _links(v: Verdict) -> str:
    q = v.claim.query
    if q is None:
        return ""
    out = []
    if q.model:
        out.append(f"[{esc(q.model)}](models/{q.model}.md)")
    if q.rig:
        out.append(f"[{esc(q.rig)}](hardware/{q.rig}.md)")
    elif q.hardware:
        label = q.hardware if q.count == 1 else f"{q.count}x {q.hardware}"
        out.append(f"[{esc(label)}](hardware/{q.hardware}.md)")
    return ", ".join(out)


def _source_title(published_in: str) -> str:
    return published_in.split("(", 1)[-1].rstrip(")") if "(" in published_in else published_in


def rules() -> str:
    """The verdict rule in words, with its figures from the checker's constants."""
    return (f"A speed is judged against the engine's own error for that kind of setup: the 90th percentile of its "
            f"held-out error, as a ratio (the **band**). Inside the band the claim **holds**; outside it but within "
            f"twice the band (as a ratio) it is **close**; beyond, **wrong**. Where the engine rests on too few "
            f"measurements for that setup the verdict is **can't tell** unless the claim is off by more than a factor "
            f"of {CANT_TELL_LIMIT:g}. The bands are those printed beside every speed on this site (the "
            f"methodology page lists them). Sizes, memory, prices and specifications are judged by the claim's own tolerance (the "
            f"rounding of the guide's figure), since the engine's memory arithmetic is exact up to the file-size "
            f"error. A claim about a model or device that does not exist is **wrong**. A range holds when the band "
            f"around our figure overlaps it. The error is ours against the claim: positive when our figure is above.")


def summary_table(verdicts: list[Verdict], cover: list | None = None) -> str:
    """Counts of verdicts per guide, with each guide's coverage of its numeric claims, and in all."""
    head = ["Guide", "Numeric claims", "Registered", "Coverage"] + [VERDICT_LABEL[k] for k in VERDICT_ORDER]
    rows = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    by_guide: dict[str | None, Counter] = defaultdict(Counter)
    for v in verdicts:
        by_guide[v.claim.guide][v.verdict] += 1
    titles = {v.claim.guide: _source_title(v.claim.published_in) for v in verdicts}
    numeric = registered = 0
    for c in cover or []:
        counts = by_guide.get(c.guide, Counter())
        numeric += c.numeric_claims
        registered += c.registered
        rows.append(f"| {esc(c.title)} | {c.numeric_claims} | {c.registered} | {c.share:.0%} | "
                    + " | ".join(str(counts[k]) for k in VERDICT_ORDER) + " |")
    for guide, counts in by_guide.items():
        if cover and any(c.guide == guide for c in cover):
            continue
        rows.append(f"| {esc(titles[guide])} | – | {sum(counts.values())} | – | "
                    + " | ".join(str(counts[k]) for k in VERDICT_ORDER) + " |")
    total = Counter(v.verdict for v in verdicts)
    share = f"{registered / numeric:.0%}" if numeric else "–"
    rows.append(f"| **All** | **{numeric}** | **{registered}** | **{share}** | "
                + " | ".join(f"**{total[k]}**" for k in VERDICT_ORDER) + " |")
    return "\n".join(rows)


def topic_table(verdicts: list[Verdict]) -> str:
    """Counts of verdicts per topic."""
    rows = ["| Topic | " + " | ".join(VERDICT_LABEL[k] for k in VERDICT_ORDER) + " | Claims |",
            "|---|" + "---:|" * (len(VERDICT_ORDER) + 1)]
    groups: dict[str, Counter] = defaultdict(Counter)
    for v in verdicts:
        groups[v.claim.topic][v.verdict] += 1
    for name in sorted(groups):
        c = groups[name]
        rows.append(f"| {esc(name)} | " + " | ".join(str(c[k]) for k in VERDICT_ORDER) + f" | {sum(c.values())} |")
    return "\n".join(rows)


def _row(v: Verdict) -> str:
    c = v.claim
    claimed = esc(f"{claimed_text(c)} {c.unit or ''}".strip())
    claim = f"<span id=\"{esc(c.id)}\"></span>“{esc(c.quote)}” <br>*{esc(c.place)}*"
    links = _links(v)
    if links:
        claim += f" <br>{links}"
    reading = "; ".join(esc(r) for r in v.reading) or "–"
    band = esc(v.band) if v.band else "–"
    ours = f"{_ours(v)} {_error(v)}".strip()
    return f"| {VERDICT_LABEL[v.verdict]} | {claim} | {claimed} | {ours} | {esc(v.why) or '–'} | {band} | {reading} |"


def claims_by_guide(verdicts: list[Verdict], cover: list | None = None) -> str:
    """One section per guide: one row per claim, verdict first, with its reason, band and reading."""
    by_guide: dict[str, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        by_guide[v.claim.guide or v.claim.published_in].append(v)
    shares = {c.guide: c for c in cover or []}
    order = [c.guide for c in cover or [] if c.guide in by_guide] + [g for g in by_guide if g not in shares]
    out = []
    for guide in order:
        group = by_guide[guide]
        title = shares[guide].title if guide in shares else _source_title(group[0].claim.published_in)
        out.append(f"### {esc(title)}\n")
        counts = Counter(v.verdict for v in group)
        line = ", ".join(f"{counts[k]} {k}" for k in VERDICT_ORDER if counts[k])
        if guide in shares:
            s = shares[guide]
            line = (f"{s.registered} of the guide's {s.numeric_claims} numeric claims registered "
                    f"({s.share:.0%}); " + line)
        out.append(line + ".\n")
        out.append("| Verdict | Claim | Claimed | Ours | Reason | Band | Reading |")
        out.append("|---|---|---:|---:|---|---|---|")
        out.extend(_row(v) for v in group)
        out.append("")
    return "\n".join(out)


def macros(ctx) -> dict[str, Callable[..., str]]:
    cache: dict[str, Any] = {}

    def verdicts() -> list[Verdict]:
        if "v" not in cache:
            cache["v"] = check_all(ctx.engine)
        return cache["v"]

    def cover() -> list:
        if "c" not in cache:
            cache["c"] = coverage(ctx.engine)
        return cache["c"]

    def claims_count(verdict: str | None = None) -> str:
        return str(sum(1 for v in verdicts() if verdict is None or v.verdict == verdict))

    def checked(text: str, expect: Any, **query: Any) -> str:
        """A sentence the engine must keep true; the build fails naming it when it turns false."""
        return esc(checked_sentence(ctx.engine, text, expect, **query))

    return {
        "claims_summary": lambda: summary_table(verdicts(), cover()),
        "claims_topics": lambda: topic_table(verdicts()),
        "claims_by_guide": lambda: claims_by_guide(verdicts(), cover()),
        "claims_rules": rules,
        "claims_count": claims_count,
        "checked": checked,
    }
