"""The fact-checker: each published claim's query run through the engine, and a verdict.

Verdicts: holds (within tolerance_pct, or inside a claimed range), close (within close_pct),
wrong (with our value and the error), not checkable (and why). Our own checked sentences
(`checked_sentence`) use the same evaluation and raise when they turn false.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from .catalog.schema import Claim, ClaimQuery
from .engine import Engine, EngineInputError
from .engine import money, search

DEFAULT_CONTEXT = 4096
UNITS = {
    "params_total_b": "B params", "params_active_b": "B params", "weights_gb": "GB", "weights_gib": "GiB",
    "memory_total_gb": "GB", "kv_cache_gb": "GB", "decode_tok_s": "tok/s", "prefill_tok_s": "tok/s",
    "max_context": "tokens", "power_w": "W", "hardware_price_usd": "USD", "electricity_usd_per_month": "USD/month",
}


@dataclasses.dataclass(frozen=True)
class Verdict:
    claim: Claim
    verdict: str  # holds | close | wrong | not checkable
    ours: Any  # our value (float, bool, str) or None
    error_pct: float | None  # (claimed - ours) / ours, for numbers
    why: str  # one line: how we got our value, or why it cannot be checked

    def to_json(self) -> dict[str, Any]:
        c = self.claim
        return {"id": c.id, "verdict": self.verdict, "ours": self.ours, "error_pct": self.error_pct,
                "why": self.why, "quote": c.quote, "published_in": c.published_in, "place": c.place,
                "topic": c.topic, "claimed": claimed_text(c), "unit": c.unit,
                "query": c.query.model_dump() if c.query else None}


def claimed_text(c: Claim) -> str:
    if c.claimed_value is not None:
        return f"{c.claimed_value:g}"
    if c.claimed_bool is not None:
        return "yes" if c.claimed_bool else "no"
    if c.claimed_text is not None:
        return c.claimed_text
    if c.claimed_low is not None or c.claimed_high is not None:
        lo = "" if c.claimed_low is None else f"{c.claimed_low:g}"
        hi = "" if c.claimed_high is None else f"{c.claimed_high:g}"
        return f"{lo}–{hi}" if lo and hi else (f"at least {lo}" if lo else f"at most {hi}")
    return "-"


class NotCheckable(Exception):
    pass


def _machine(engine: Engine, q: ClaimQuery):
    if q.rig:
        return engine.machine(q.rig)
    if q.hardware:
        return engine.machine(q.hardware, q.count)
    return None


def query_value(engine: Engine, q: ClaimQuery) -> tuple[Any, str]:
    """Our value for a claim's query, and a one-line account of how it was computed."""
    if q.output.startswith("fact:"):
        return _fact(engine, q)
    if q.output in ("params_total_b", "params_active_b"):
        counts = engine.params(q.model)
        parts = counts.total if q.output == "params_total_b" else counts.active
        return parts.total / 1e9, "computed from the architecture in the catalog"
    context = q.context if q.context is not None else DEFAULT_CONTEXT
    machine = _machine(engine, q)
    if q.output in ("power_w", "hardware_price_usd", "electricity_usd_per_month"):
        if machine is None:
            raise NotCheckable("the claim names no hardware")
        power = money.power_draw_w(machine)
        if q.output == "hardware_price_usd":
            if machine.price_usd is None:
                raise NotCheckable(f"the catalog has no price for {machine.name}")
            return machine.price_usd, f"catalog price of {machine.name}"
        if power is None:
            raise NotCheckable(f"the catalog has no power figure for {machine.name}")
        if q.output == "power_w":
            return power, f"sum of rated board power (TDP) of {machine.name}"
        hours = engine.catalog.constant("hours_per_month_default")
        price = engine.catalog.constant("electricity_usd_per_kwh")
        return (money.electricity_usd_per_month(power, hours, price),
                f"{power:.0f} W x {hours:g} h/month x ${price}/kWh")
    if not q.model or not q.quant:
        raise NotCheckable("the claim names no model or no quantization")
    if q.output == "max_context":
        if machine is None:
            raise NotCheckable("the claim names no hardware")
        value = search.largest_context(engine, q.model, q.quant, machine, q.kv_type, need="fits")
        if value is None:
            value = search.largest_context(engine, q.model, q.quant, machine, q.kv_type, need="runs") or 0
        return value, f"largest context that fits on {machine.name} (powers of two up to the native limit)"
    e = engine.estimate(q.model, q.quant, context=context, kv_type=q.kv_type, machine=machine)
    setting = f"{q.model} {q.quant}, {context:,} tokens {q.kv_type} KV"
    if q.output == "weights_gb":
        return e.memory["weights"] / 1e9, f"weights of {q.model} at {q.quant}"
    if q.output == "weights_gib":
        return e.memory["weights"] / 2**30, f"weights of {q.model} at {q.quant}"
    if q.output == "memory_total_gb":
        return e.memory.total / 1e9, f"weights + KV cache + state + buffers, {setting}"
    if q.output == "kv_cache_gb":
        return e.memory["kv_cache"] / 1e9, f"KV cache, {setting}"
    if machine is None:
        raise NotCheckable("the claim names no hardware")
    on = f"{setting} on {machine.name}"
    if q.output == "fits":
        return e.placement.fits, f"{e.placement.placement.replace('_', ' ')}: {on}"
    if q.output == "runs":
        return e.placement.runs, f"{e.placement.placement.replace('_', ' ')}: {on}"
    if q.output in ("decode_tok_s", "prefill_tok_s"):
        if not e.placement.runs:
            return None, f"does not run: {on} (short by {e.placement.shortfall_bytes / 1e9:,.0f} GB)"
        value = e.decode_tok_s if q.output == "decode_tok_s" else e.prefill_tok_s
        if value is None:
            raise NotCheckable(f"the catalog lacks the compute figure for {machine.name}")
        return value, f"estimate, {e.placement.placement.replace('_', ' ')}: {on}"
    raise NotCheckable(f"unknown output {q.output!r}")


def _fact(engine: Engine, q: ClaimQuery) -> tuple[Any, str]:
    kind, _, path = q.output[len("fact:"):].partition(".")
    ids = {"model": q.model, "hardware": q.hardware, "rig": q.rig}
    tables = {"model": engine.catalog.models, "hardware": engine.catalog.hardware, "rig": engine.catalog.rigs}
    if kind not in tables or not ids[kind]:
        raise NotCheckable(f"fact {q.output!r} needs a {kind} id")
    value: Any = tables[kind][ids[kind]]
    for part in path.split("."):
        if not hasattr(value, part):
            raise NotCheckable(f"no field {path!r} on {kind} records")
        value = getattr(value, part)
    if value is None:
        raise NotCheckable(f"the catalog has no {path} for {ids[kind]}")
    where = engine.catalog.where({"model": "models", "hardware": "hardware", "rig": "rigs"}[kind], ids[kind])
    return value, f"catalog fact {kind} {ids[kind]} {path} ({where})"


def judge(claim: Claim, ours: Any) -> tuple[str, float | None]:
    if claim.claimed_bool is not None:
        return ("holds" if bool(ours) == claim.claimed_bool else "wrong"), None
    if claim.claimed_text is not None:
        return ("holds" if str(ours).strip().lower() == claim.claimed_text.strip().lower() else "wrong"), None
    ours = float(ours)
    if claim.claimed_value is not None:
        err = 100 * (claim.claimed_value - ours) / ours if ours else float("inf")
        size = abs(err)
        return ("holds" if size <= claim.tolerance_pct else "close" if size <= claim.close_pct else "wrong"), err
    lo, hi = claim.claimed_low, claim.claimed_high
    if (lo is None or ours >= lo) and (hi is None or ours <= hi):
        return "holds", 0.0
    bound = lo if lo is not None and ours < lo else hi
    err = 100 * (bound - ours) / ours if ours else float("inf")
    return ("close" if abs(err) <= claim.close_pct else "wrong"), err


def check_claim(engine: Engine, claim: Claim) -> Verdict:
    if claim.query is None:
        return Verdict(claim, "not checkable", None, None, claim.not_checkable_why or "")
    try:
        ours, why = query_value(engine, claim.query)
    except NotCheckable as err:
        return Verdict(claim, "not checkable", None, None, str(err))
    except EngineInputError as err:
        return Verdict(claim, "not checkable", None, None, f"the query is outside the engine's range: {err}")
    if ours is None:  # a speed claimed for a setup that does not run
        return Verdict(claim, "wrong", None, None, why)
    verdict, err = judge(claim, ours)
    return Verdict(claim, verdict, ours, err, why)


def check_all(engine: Engine) -> list[Verdict]:
    return [check_claim(engine, c) for c in engine.catalog.claims.values()]


def print_claims(engine: Engine, as_json: bool = False) -> int:
    verdicts = check_all(engine)
    if as_json:
        print(json.dumps([v.to_json() for v in verdicts], indent=2, sort_keys=True, default=str))
        return 0
    for v in verdicts:
        ours = "-" if v.ours is None else (f"{v.ours:,.4g}" if isinstance(v.ours, float) else str(v.ours))
        err = "" if v.error_pct is None else f" ({v.error_pct:+.0f}%)"
        print(f"{v.claim.id:8} {v.verdict:13} claimed {claimed_text(v.claim)} {v.claim.unit or ''}; ours {ours}{err}"
              f" — {v.claim.quote[:70]!r}")
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    print("\n" + ", ".join(f"{k}: {n}" for k, n in sorted(counts.items())))
    return 0


def check_registry(engine: Engine) -> int:
    """`make check`: the catalog loaded (else we never get here); every claim evaluates without error."""
    verdicts = check_all(engine)
    print(f"catalog ok: {len(engine.catalog.models)} models, {len(engine.catalog.hardware)} hardware, "
          f"{len(engine.catalog.rigs)} rigs, {len(engine.catalog.measurements)} measurements; "
          f"{len(verdicts)} claims checked")
    return 0


# --------------------------------------------------------------------------- our own sentences


class FalseSentence(AssertionError):
    pass


def checked_sentence(engine: Engine, text: str, expect: Any, **query: Any) -> str:
    """Return `text` if the engine agrees with `expect` for the query; raise naming the sentence if not.
    Example: checked_sentence(e, "fits on a single 24 GB card", True, output="fits", model=..., ...)."""
    other = query.pop("other_model", None)
    if query.get("output") == "faster":  # "model decodes faster than other_model on the same machine"
        q = ClaimQuery.model_validate({**query, "output": "decode_tok_s"})
        mine, why = query_value(engine, q)
        theirs, _ = query_value(engine, q.model_copy(update={"model": other}))
        ours = mine is not None and (theirs is None or mine > theirs)
        why = f"{q.model} {mine} tok/s against {other} {theirs} tok/s ({why})"
    else:
        ours, why = query_value(engine, ClaimQuery.model_validate(query))
    ok = (ours == expect) if isinstance(expect, (bool, str)) or ours is None else _compare(ours, expect)
    if not ok:
        raise FalseSentence(f"the sentence {text!r} is no longer true: the engine says {ours!r} ({why})")
    return text


def _compare(ours: float, expect: Any) -> bool:
    if isinstance(expect, (tuple, list)):
        lo, hi = expect
        return (lo is None or ours >= lo) and (hi is None or ours <= hi)
    return abs(ours - float(expect)) <= 0.05 * abs(float(expect))
