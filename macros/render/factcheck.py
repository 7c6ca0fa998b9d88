"""The fact-check page: published claims, grouped by guide and by topic, each with our figure and its working.

Also the `checked` macro: a sentence in our own pages that the engine must keep true.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Callable

from ..claims import UNITS, Verdict, check_all, checked_sentence, claimed_text
from .fmt import esc

VERDICT_ORDER = ("holds", "close", "can't tell", "wrong", "not checkable")
VERDICT_LABEL = {"holds": "✅ holds", "close": "🟡 close", "can't tell": "🔘 can't tell", "wrong": "❌ wrong", "not checkable": "⚪ not checkable"}


def _ours(v: Verdict) -> str:
    if v.ours is None:
        return "does not run" if v.verdict == "wrong" else "–"
    if isinstance(v.ours, bool):
        return "yes" if v.ours else "no"
    if isinstance(v.ours, (int, float)):
        unit = UNITS.get(v.claim.query.output, v.claim.unit or "") if v.claim.query else ""
        digits = 0 if abs(v.ours) >= 100 else (1 if abs(v.ours) >= 10 else 2)
        return esc(f"{v.ours:,.{digits}f} {unit}".strip())
    return esc(v.ours)


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


def _error(v: Verdict) -> str:
    return "" if v.error_pct is None else f"{v.error_pct:+.0f}"


def _source_title(published_in: str) -> str:
    return published_in.split("(", 1)[-1].rstrip(")") if "(" in published_in else published_in


def summary_table(verdicts: list[Verdict]) -> str:
    """Counts of verdicts by guide and by topic."""
    rows = ["| | " + " | ".join(VERDICT_LABEL[k] for k in VERDICT_ORDER) + " | claims |",
            "|---|" + "---:|" * (len(VERDICT_ORDER) + 1)]
    groups: dict[str, Counter] = defaultdict(Counter)
    for v in verdicts:
        groups[f"Guide: {_source_title(v.claim.published_in)}"][v.verdict] += 1
    for v in verdicts:
        groups[f"Topic: {v.claim.topic}"][v.verdict] += 1
    for name in sorted(groups, key=lambda n: (not n.startswith("Guide"), n)):
        c = groups[name]
        rows.append(f"| {esc(name)} | " + " | ".join(str(c[k]) for k in VERDICT_ORDER) + f" | {sum(c.values())} |")
    total = Counter(v.verdict for v in verdicts)
    rows.append("| **All** | " + " | ".join(f"**{total[k]}**" for k in VERDICT_ORDER) + f" | **{len(verdicts)}** |")
    return "\n".join(rows)


def claims_by_guide(verdicts: list[Verdict]) -> str:
    """One section per guide: a sortable table of its claims."""
    by_guide: dict[str, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        by_guide[v.claim.published_in].append(v)
    out = []
    for published_in, group in by_guide.items():
        out.append(f"### {esc(_source_title(published_in))}\n")
        out.append(f"Source: `{esc(published_in)}`\n")
        out.append("| Claim | Where | Topic | Claimed | Ours | Error % | Verdict | How we got ours | Pages |")
        out.append("|---|---|---|---:|---:|---:|---|---|---|")
        for v in group:
            c = v.claim
            claimed = esc(f"{claimed_text(c)} {c.unit or ''}".strip())
            out.append(f"| <span id=\"{esc(c.id)}\"></span>“{esc(c.quote)}” | {esc(c.place)} | {esc(c.topic)} | "
                       f"{claimed} | {_ours(v)} | {_error(v)} | {VERDICT_LABEL[v.verdict]} | {esc(v.why)} | {_links(v)} |")
        out.append("")
    return "\n".join(out)


def macros(ctx) -> dict[str, Callable[..., str]]:
    cache: dict[str, Any] = {}

    def verdicts() -> list[Verdict]:
        if "v" not in cache:
            cache["v"] = check_all(ctx.engine)
        return cache["v"]

    def claims_count(verdict: str | None = None) -> str:
        return str(sum(1 for v in verdicts() if verdict is None or v.verdict == verdict))

    def checked(text: str, expect: Any, **query: Any) -> str:
        """A sentence the engine must keep true; the build fails naming it when it turns false."""
        return esc(checked_sentence(ctx.engine, text, expect, **query))

    return {
        "claims_summary": lambda: summary_table(verdicts()),
        "claims_by_guide": lambda: claims_by_guide(verdicts()),
        "claims_count": claims_count,
        "checked": checked,
    }
