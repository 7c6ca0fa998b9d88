"""The fact-checker: each published claim's query run through the engine, and a verdict.

One error measure everywhere: the log ratio ln(ours / claimed), positive when the engine is above
the claim (the sign `make accuracy` uses). A range claim's error is the log ratio to its nearest
bound (zero inside the range).

Speeds (decode, prefill) are judged against the engine's own held-out error for the class of
setup (`speed_band`): inside the band the claim holds; outside it but within twice the band
(|ln r| <= 2 ln factor) it is close; beyond, wrong. A class resting on too few measurements says
"can't tell" instead of "wrong" unless the claim is off by more than a factor of two. Other numbers
(sizes, memory, prices, specs) use the claim's own tolerance, read as a symmetric ratio: a memory
figure the engine computes is exact up to the file-size error (median 0.5%), so the tolerance is
the rounding of the guide's figure. Claims about a model or device that does not exist are wrong.
Our own checked sentences (`checked_sentence`) use the same evaluation and raise when they turn false.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from typing import Any

from .jsonout import strict_json

from .catalog.schema import Claim, ClaimQuery
from .engine import Engine, EngineInputError, Estimate
from .engine import money, search
from .engine.bands import SpeedBand
from .engine.memory import VISION_BYTES_PER_PARAM, kv_cache_bytes, recurrent_state_bytes

DEFAULT_CONTEXT = 4096
UNITS = {
    "params_total_b": "B params", "params_active_b": "B params", "params_routed_experts_b": "B params", "weights_gb": "GB", "weights_gib": "GiB",
    "file_size_gb": "GB", "bits_per_weight": "bits", "offloaded_pct": "%", "offloaded_gb": "GB", "hours_per_month_max": "hours", "headroom_gb": "GB", "family_sizes": "models", "memory_total_gb": "GB", "kv_cache_gb": "GB", "recurrent_state_gb": "GB",
    "vision_gb": "GB", "decode_tok_s": "tok/s", "prefill_tok_s": "tok/s", "max_context": "tokens",
    "power_w": "W", "hardware_price_usd": "USD", "electricity_usd_per_month": "USD/month",
}
VERDICTS = ("holds", "close", "can't tell", "wrong", "not checkable")
SPEED_OUTPUTS = {"decode_tok_s": "decode", "prefill_tok_s": "prefill"}
CANT_TELL_LIMIT = 2.0  # a class with too few measurements: wrong only beyond a factor of two
# "Nearest quant that fits": a lower-bit variant of the claimed quant, at most this many bits per weight below.
NEAREST_QUANT_BITS = 1.0
# Sizes a guide may state in GiB while writing GB (a claim whose own arithmetic fixes decimal GB says so in its
# unit, "GB (10^9 bytes)", and is read in decimal only).
GIB_AMBIGUOUS = ("weights_gb", "file_size_gb", "memory_total_gb", "kv_cache_gb")
# Outputs that depend on the architecture only (no weight quant).
NO_QUANT_OUTPUTS = ("kv_cache_gb", "recurrent_state_gb", "vision_gb")


@dataclasses.dataclass(frozen=True)
class Verdict:
    claim: Claim
    verdict: str  # holds | close | can't tell | wrong | not checkable
    ours: Any  # our value (float, bool, str) or None
    error_pct: float | None  # 100 x (ours / claimed - 1): positive when the engine is above the claim
    why: str  # one line: the reason for the verdict
    reading: tuple[str, ...] = ()  # how the claim was read: the setting and the assumptions
    band: str = ""  # the tolerance the verdict used, in words
    error_log: float | None = None  # ln(ours / claimed), or to the nearest bound of a range
    speed_band: SpeedBand | None = None

    def to_json(self) -> dict[str, Any]:
        c = self.claim
        return {"id": c.id, "verdict": self.verdict, "ours": self.ours, "error_pct": self.error_pct,
                "error_log": self.error_log, "why": self.why, "reading": list(self.reading), "band": self.band,
                "speed_band": self.speed_band.to_json() if self.speed_band else None,
                "quote": c.quote, "published_in": c.published_in, "guide": c.guide, "place": c.place,
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


@dataclasses.dataclass
class Result:
    """Our value for a query, how it was computed, and what a verdict needs beside it."""

    value: Any
    why: str
    reading: list[str] = dataclasses.field(default_factory=list)
    estimate: Estimate | None = None
    reserve_bytes: float = 0.0  # accelerator memory the fit policy keeps free (driver, buffers, OS share)


# --------------------------------------------------------------------------- the speed band


def speed_band(engine: Engine, kind: str, estimate: Estimate) -> SpeedBand:
    """The engine's held-out error band for this class of setup."""
    return engine.speed_band(kind, estimate)


def log_error(claim: Claim, ours: float) -> float:
    """ln(ours / claimed) for a point; for a range, to the nearest bound (0 inside)."""
    if claim.claimed_value is not None:
        return _ln_ratio(ours, claim.claimed_value)
    lo, hi = claim.claimed_low, claim.claimed_high
    if lo is not None and ours < lo:
        return _ln_ratio(ours, lo)
    if hi is not None and ours > hi:
        return _ln_ratio(ours, hi)
    return 0.0


def _ln_ratio(ours: float, claimed: float) -> float:
    if ours <= 0 or claimed <= 0:
        return 0.0 if ours == claimed else math.inf
    return math.log(ours / claimed)


def judge_speed(claim: Claim, ours: float, band: SpeedBand) -> tuple[str, float]:
    """The band rule. Returns (verdict, ln(ours / claimed))."""
    err = log_error(claim, ours)
    size, width = abs(err), math.log(band.factor)
    if size <= width:
        return "holds", err
    if size <= 2 * width:
        return "close", err
    if not band.enough and size <= math.log(CANT_TELL_LIMIT):
        return "can't tell", err
    return "wrong", err


def judge(claim: Claim, ours: Any) -> tuple[str, float | None]:
    """Non-speed claims: booleans and text exactly; numbers within the claim's tolerance as a ratio.
    Returns (verdict, ln(ours / claimed)) (None for booleans and text)."""
    if claim.claimed_bool is not None:
        return ("holds" if bool(ours) == claim.claimed_bool else "wrong"), None
    if claim.claimed_text is not None:
        return ("holds" if str(ours).strip().lower() == claim.claimed_text.strip().lower() else "wrong"), None
    err = log_error(claim, float(ours))
    size = abs(err)
    if size <= math.log1p(claim.tolerance_pct / 100):
        return "holds", err
    return ("close" if size <= math.log1p(claim.close_pct / 100) else "wrong"), err


def _pct(err: float | None) -> float | None:
    return None if err is None or math.isinf(err) else 100 * math.expm1(err)


# --------------------------------------------------------------------------- our value for a query


def _machine(engine: Engine, q: ClaimQuery):
    if q.rig:
        return engine.machine(q.rig)
    if q.hardware:
        return engine.machine(q.hardware, q.count)
    return None


def query_value(engine: Engine, q: ClaimQuery) -> tuple[Any, str]:
    """Our value for a claim's query, and a one-line account of how it was computed."""
    r = evaluate(engine, q)
    return r.value, r.why


def _setting(engine: Engine, q: ClaimQuery, context: int, quant: str | None = None) -> str:
    model = engine.catalog.models[q.model].name if q.model else ""
    parts = [model]
    if quant or q.quant:
        parts.append(f"at {quant or q.quant}")
    return " ".join(p for p in parts if p) + f", {context:,}-token context, {q.kv_type} KV cache"


def evaluate(engine: Engine, q: ClaimQuery) -> Result:
    if q.output.startswith("fact:"):
        return _fact(engine, q)
    if q.output == "params_routed_experts_b":
        experts = engine.params(q.model).total["routed_experts"]
        return Result(experts / 1e9, "the routed experts' weights of every MoE layer, counted from the config",
                      [f"{engine.catalog.models[q.model].name}: the expert bank (routed experts) alone"])
    if q.output in ("params_total_b", "params_active_b"):
        counts = engine.params(q.model)
        parts = counts.total if q.output == "params_total_b" else counts.active
        return Result(parts.total / 1e9, "counted from the architecture in the model's config",
                      [f"{engine.catalog.models[q.model].name}: {'total' if 'total' in q.output else 'active'} "
                       f"parameters per token"])
    context = q.context if q.context is not None else DEFAULT_CONTEXT
    machine = _machine(engine, q)
    reading = [f"on {machine.name}"] if machine is not None else []
    if q.output == "family_sizes":
        family = engine.catalog.models[q.model].family
        names = [m.name for m in engine.catalog.models.values() if m.family == family]
        return Result(float(len(names)), f"the catalog's {family} models: {', '.join(names)}",
                      [f"sizes of the {family} family as released"])
    if q.output == "hours_per_month_max":
        return Result(31 * 24.0, "the longest month: 31 days x 24 hours", ["hours in a month, at most"])
    if q.output in ("power_w", "hardware_price_usd", "electricity_usd_per_month"):
        return _money(engine, q, machine, reading)
    if q.output in NO_QUANT_OUTPUTS:
        return _architecture_only(engine, q, context)
    if not q.model or not q.quant:
        raise NotCheckable("the claim names no model or no quantization")
    if q.output in ("weights_gb", "weights_gib", "file_size_gb"):
        published = _published_file(engine, q.model, q.quant)
        if published is not None:
            a = published
            scale = 2**30 if q.output == "weights_gib" else 1e9
            return Result(a.size_bytes / scale, f"the published file: {a.publisher} {a.quant}, "
                          f"{a.size_as_published} in its file listing",
                          [f"{engine.catalog.models[q.model].name} at {q.quant}: a published file wins over "
                           f"an estimate"])
    if q.output == "bits_per_weight":
        e = engine.estimate(q.model, q.quant)
        return Result(e.memory["weights"] * 8 / e.params.total.total,
                      f"the weights' bytes x 8 / all parameters (body {e.bits.body_bpw:.2f} bits per weight, "
                      f"embeddings and output at their own types)",
                      [f"{engine.catalog.models[q.model].name} at {q.quant}: bits per weight over the whole file"])
    if q.output.startswith("weights_gb_saved_vs:"):
        other = q.output.split(":", 1)[1]
        if other not in engine.catalog.quants:
            raise NotCheckable(f"unknown quant {other!r}")
        mine = engine.estimate(q.model, q.quant).memory["weights"]
        theirs = engine.estimate(q.model, other).memory["weights"]
        return Result((theirs - mine) / 1e9, f"weights at {other} minus weights at {q.quant}",
                      [f"{engine.catalog.models[q.model].name}: {q.quant} against {other}"])
    if q.output == "max_context":
        if machine is None:
            raise NotCheckable("the claim names no hardware")
        value = search.largest_context(engine, q.model, q.quant, machine, q.kv_type, need="fits")
        if value is None:
            value = search.largest_context(engine, q.model, q.quant, machine, q.kv_type, need="runs") or 0
        return Result(value, f"largest context that fits on {machine.name} (powers of two up to the native limit)",
                      reading + [f"{engine.catalog.models[q.model].name} at {q.quant}, {q.kv_type} KV cache"])
    e = engine.estimate(q.model, q.quant, context=context, kv_type=q.kv_type, machine=machine)
    reading = [_setting(engine, q, context)] + reading
    if q.output in ("weights_gb", "weights_gib", "file_size_gb"):
        scale = 2**30 if q.output == "weights_gib" else 1e9
        return Result(e.memory["weights"] / scale, f"estimate: parameters x {e.bits.body_bpw:.2f} bits per weight "
                      f"(no published file of this quant in the catalog)", reading[:1], e)
    if q.output == "memory_total_gb":
        return Result(e.memory.total / 1e9, "weights + KV cache + recurrent state + compute buffers", reading, e)
    if q.output == "kv_cache_gb":  # pragma: no cover - handled above
        return Result(e.memory["kv_cache"] / 1e9, "KV cache", reading, e)
    if machine is None:
        raise NotCheckable("the claim names no hardware")
    if q.output.startswith("speedup_vs"):
        return _speedup(engine, q, e, context, machine, reading)
    p = e.placement
    if q.output == "headroom_gb":
        return Result(p.headroom_bytes / 1e9, f"{_placement_words(p.placement)}: accelerator memory left after "
                      f"weights, cache, buffers and the driver's share", reading, e)
    reserve = _reserve_bytes(machine, p)
    if q.output in ("fits", "runs"):
        value = p.fits if q.output == "fits" else p.runs
        free = p.headroom_bytes / 1e9
        why = (f"{_placement_words(p.placement)}; {free:,.1f} GB to spare" if free >= 0
               else f"{_placement_words(p.placement)}; short by {-free:,.1f} GB of accelerator memory")
        if q.output == "runs" and not p.runs:
            why = f"does not run: short by {p.shortfall_bytes / 1e9:,.0f} GB even with system RAM"
        return Result(value, why, reading, e, reserve)
    if q.output in ("offloaded_pct", "offloaded_gb"):
        share = p.offloaded_fraction
        value = 100 * share if q.output == "offloaded_pct" else share * e.memory["weights"] / 1e9
        return Result(value, f"{_placement_words(p.placement)}: {share:.0%} of the weights "
                      f"({share * e.memory['weights'] / 1e9:,.0f} GB) in system RAM", reading, e)
    if q.output in SPEED_OUTPUTS:
        e, note = _nearest_fitting_quant(engine, q, e, context, machine)
        if note:
            reading = [_setting(engine, q, context, e.quant_id)] + reading[1:] + [note]
        p = e.placement
        if not p.runs:
            return Result(None, f"does not run: short by {p.shortfall_bytes / 1e9:,.0f} GB even with system RAM",
                          reading, e)
        value = e.decode_tok_s if q.output == "decode_tok_s" else e.prefill_tok_s
        if value is None:
            raise NotCheckable(f"the catalog lacks the compute figure for {machine.name}")
        where = _placement_words(p.placement)
        if p.offloaded_fraction:
            where += f", {p.offloaded_fraction:.0%} of the weights in system RAM"
        return Result(value, f"estimate ({where})", reading, e)
    raise NotCheckable(f"unknown output {q.output!r}")


def _placement_words(placement: str) -> str:
    return {"gpu": "fits on the GPU", "layer_split": "fits, layers split across the GPUs",
            "unified": "fits in the GPU's share of unified memory",
            "unified_raised_cap": "fits only after raising the GPU memory limit",
            "moe_expert_offload": "runs with routed experts in system RAM",
            "layer_offload": "runs with layers in system RAM", "cpu": "runs on the CPU",
            "does_not_fit": "does not fit"}.get(placement, placement.replace("_", " "))


def _reserve_bytes(machine, placement) -> float:
    """Accelerator memory the fit policy keeps free: driver context and compute buffers on a GPU, the
    operating system's share of unified memory."""
    total = sum(d.memory_bytes for d in machine.accelerators)
    return max(total - placement.budget_bytes, 0.0)


def _published_file(engine: Engine, model: str, quant: str):
    files = [a for a in engine.catalog.artifacts.values() if a.model == model and a.quant == quant]
    plain = [a for a in files if not a.includes_vision and not a.includes_mtp]
    return (plain or files or [None])[0]


def _nearest_fitting_quant(engine: Engine, q: ClaimQuery, e: Estimate, context: int, machine):
    """A speed claimed at a quant that does not fit: judged at the nearest lower-bit variant that does."""
    if e.placement.fits:
        return e, ""
    claimed = engine.catalog.quants[q.quant]
    mine = e.bits.body_bpw
    candidates = []
    for qid, quant in engine.catalog.quants.items():
        if qid == q.quant or qid.startswith("UD-") != q.quant.startswith("UD-"):
            continue
        if not set(quant.runtimes) & set(claimed.runtimes):
            continue
        bpw = engine.bits(qid).body_bpw
        if mine - NEAREST_QUANT_BITS <= bpw < mine:
            candidates.append((bpw, qid))
    for _, qid in sorted(candidates, reverse=True):
        other = engine.estimate(q.model, qid, context=context, kv_type=q.kv_type, machine=machine)
        if other.placement.fits:
            return other, (f"{q.quant} does not fit on {machine.name}; judged at {qid}, the nearest quant "
                           f"that does ({other.bits.body_bpw:.2f} against {mine:.2f} bits per weight)")
    return e, ""


def _speedup(engine: Engine, q: ClaimQuery, e: Estimate, context: int, machine, reading: list[str]) -> Result:
    """Ratio of two decode estimates: this setup against another device, rig or model."""
    kind, _, other = q.output.partition(":")
    model, other_machine = q.model, machine
    if kind == "speedup_vs":
        other_machine = engine.machine(other, q.count)
    elif kind == "speedup_vs_rig":
        other_machine = engine.machine(other)
    elif kind == "speedup_vs_model":
        model = other
    else:
        raise NotCheckable(f"unknown output {q.output!r}")
    theirs = engine.estimate(model, q.quant, context=context, kv_type=q.kv_type, machine=other_machine)
    if not e.decode_tok_s or not theirs.decode_tok_s:
        raise NotCheckable("one of the two setups does not run")
    label = engine.catalog.models[model].name if kind == "speedup_vs_model" else other_machine.name
    return Result(e.decode_tok_s / theirs.decode_tok_s,
                  f"{e.decode_tok_s:.1f} against {theirs.decode_tok_s:.1f} tok/s ({label}), both estimates",
                  reading + [f"compared with {label}, same quant and context"], e)


def _architecture_only(engine: Engine, q: ClaimQuery, context: int) -> Result:
    """KV cache, recurrent state and the vision encoder: they depend on the architecture, not on the weights' quant."""
    if not q.model:
        raise NotCheckable("the claim names no model")
    m = engine.catalog.models[q.model]
    a = m.architecture
    if q.output == "kv_cache_gb":
        return Result(kv_cache_bytes(a, context, q.kv_type) / 1e9,
                      "K and V of every full-attention layer x context (the linear-attention layers keep no KV)",
                      [f"{m.name}, {context:,} tokens, {q.kv_type} KV cache, one sequence; "
                       f"the weights' quant does not matter"])
    if q.output == "recurrent_state_gb":
        return Result(recurrent_state_bytes(a) / 1e9, "Gated DeltaNet state of every linear-attention layer, fp32",
                      [f"{m.name}, one sequence; independent of context and of the weights' quant"])
    vision = engine.params(q.model).total["vision"]
    return Result(vision * VISION_BYTES_PER_PARAM / 1e9,
                  f"{vision / 1e9:.2f}B vision-encoder parameters x {VISION_BYTES_PER_PARAM:g} bytes (16-bit)",
                  [f"{m.name}: the vision encoder as shipped (16-bit), independent of the weights' quant"])


def _money(engine: Engine, q: ClaimQuery, machine, reading: list[str]) -> Result:
    if machine is None:
        raise NotCheckable("the claim names no hardware")
    power = money.power_draw_w(machine)
    if q.output == "hardware_price_usd":
        if machine.price_usd is None:
            raise NotCheckable(f"the catalog has no price for {machine.name}")
        return Result(machine.price_usd, f"catalog price of {machine.name}", reading)
    if power is None:
        raise NotCheckable(f"the catalog has no power figure for {machine.name}")
    if machine.accelerators and machine.host is not None and not machine.extra_power_w:
        raise NotCheckable(f"the catalog has no power figure for the CPU platform of {machine.name}; its GPUs alone "
                           f"are rated {power:,.0f} W")
    if q.output == "power_w":
        return Result(power, f"sum of rated board power (TDP) of {machine.name}", reading)
    hours = engine.catalog.constant("hours_per_month_default")
    price = engine.catalog.constant("electricity_usd_per_kwh")
    return Result(money.electricity_usd_per_month(power, hours, price),
                  f"{power:.0f} W x {hours:g} h/month x ${price}/kWh",
                  reading + [f"the site's usage: {hours:g} hours a month at ${price}/kWh"])


def _fact(engine: Engine, q: ClaimQuery) -> Result:
    kind, _, path = q.output[len("fact:"):].partition(".")
    ids = {"model": q.model, "hardware": q.hardware, "rig": q.rig}
    tables = {"model": engine.catalog.models, "hardware": engine.catalog.hardware, "rig": engine.catalog.rigs}
    if kind not in tables or not ids[kind]:
        raise NotCheckable(f"fact {q.output!r} needs a {kind} id")
    record = tables[kind][ids[kind]]
    value: Any = record
    for part in path.split("."):
        if not hasattr(value, part):
            raise NotCheckable(f"no field {path!r} on {kind} records")
        value = getattr(value, part)
    name = getattr(record, "name", ids[kind])
    if value is None:
        raise NotCheckable(f"the catalog has no {_field_words(path)} figure for {name}")
    field = _field_words(path)
    return Result(value, f"catalog: {name}, {field} (from its cited source)", [f"{name}: {field}"])


def _field_words(path: str) -> str:
    """A catalog field path in words: memory_bandwidth_gb_s -> memory bandwidth (GB/s)."""
    words = path.split(".")[-1].split("_")
    units = {("gb", "s"): "GB/s", ("gb",): "GB", ("w",): "W", ("usd",): "USD", ("b",): "billion"}
    for tail, unit in units.items():
        if len(words) > len(tail) and tuple(words[-len(tail):]) == tail:
            return " ".join(words[:-len(tail)]) + f" ({unit})"
    return " ".join(words)


# --------------------------------------------------------------------------- verdicts


def _band_words(claim: Claim) -> str:
    return f"holds within ±{claim.tolerance_pct:g}%, close within ±{claim.close_pct:g}% (as a ratio)"


def _speed_band_words(band: SpeedBand) -> str:
    base = (f"{band.kind} band for {band.speed_class}: x{band.factor:.2f} "
            f"(close to x{band.factor ** 2:.2f})")
    if band.enough:
        return base + f", the engine's held-out p90 error over {band.points} measurements"
    return base + (f"; rests on {band.points} measurements, too few to call a claim wrong within a "
                   f"factor of {CANT_TELL_LIMIT:g}")


def _reason(claim: Claim, err: float | None, extra: str = "") -> str:
    if err is None:
        return extra
    pct = _pct(err)
    if pct is None:
        return extra
    exact = "matches the claim" if claim.claimed_value is not None else "inside the claimed range"
    where = exact if err == 0 else (
        f"ours is {abs(pct):.0f}% {'above' if err > 0 else 'below'} the claim"
        if abs(pct) < 100 else f"ours is x{math.exp(abs(err)):.1f} {'above' if err > 0 else 'below'} the claim")
    return f"{where}{'; ' + extra if extra else ''}"


def check_claim(engine: Engine, claim: Claim) -> Verdict:
    reading = tuple(filter(None, [claim.notes]))
    if claim.no_such is not None:
        ns = claim.no_such
        return Verdict(claim, "wrong", None, None, f"no such {ns.kind}: {ns.name}. {ns.exists}",
                       (f"{ns.name} read as a {ns.kind} name",) + reading, "no tolerance: it exists or not")
    if claim.query is None:
        return Verdict(claim, "not checkable", None, None, claim.not_checkable_why or "", reading)
    q = claim.query
    try:
        r = evaluate(engine, q)
    except NotCheckable as err:
        return Verdict(claim, "not checkable", None, None, str(err), reading)
    except EngineInputError as err:
        return Verdict(claim, "not checkable", None, None, f"the query is outside the engine's range: {err}",
                       reading)
    reading = tuple(r.reading) + reading
    if r.value is None:  # a speed claimed for a setup that does not run
        return Verdict(claim, "wrong", None, None, r.why, reading, "it runs or not")
    if q.output in SPEED_OUTPUTS and claim.claimed_bool is None:
        band = speed_band(engine, SPEED_OUTPUTS[q.output], r.estimate)
        verdict, err = judge_speed(claim, float(r.value), band)
        return Verdict(claim, verdict, r.value, _pct(err), _reason(claim, err, r.why), reading,
                       _speed_band_words(band), err, band)
    verdict, err = judge(claim, r.value)
    if q.output in GIB_AMBIGUOUS and claim.unit == "GB" and err is not None and verdict != "holds":
        # Many guides write GB for GiB (2^30 bytes): a figure that is right in GiB is not called wrong.
        gib = float(r.value) * 1e9 / 2**30
        v2, e2 = judge(claim, gib)
        if VERDICTS.index(v2) < VERDICTS.index(verdict):
            reading = reading + (f"GB read as GiB (2^30 bytes), the unit the claim's figure fits: ours is "
                                 f"{float(r.value):,.2f} GB = {gib:,.2f} GiB",)
            verdict, err = v2, e2
            r.why = f"{r.why} (in GiB: {gib:,.2f})"
    band = _band_words(claim) if err is not None else "exact"
    why = _reason(claim, err, r.why) if err is not None else r.why
    if q.output == "fits" and verdict == "wrong" and r.estimate is not None:
        p = r.estimate.placement
        miss = -p.headroom_bytes if claim.claimed_bool else p.headroom_bytes
        if 0 <= miss <= r.reserve_bytes:
            verdict = "close"
            why = (f"{r.why}: a margin smaller than the {r.reserve_bytes / 1e9:,.1f} GB the fit keeps free "
                   f"(driver, compute buffers, the OS share)")
        band = f"close when the margin is under the {r.reserve_bytes / 1e9:,.1f} GB kept free"
    return Verdict(claim, verdict, r.value, _pct(err), why, reading, band, err)


def check_all(engine: Engine) -> list[Verdict]:
    return [check_claim(engine, c) for c in engine.catalog.claims.values()]


# --------------------------------------------------------------------------- coverage


@dataclasses.dataclass(frozen=True)
class Coverage:
    guide: str
    title: str
    numeric_claims: int  # counted in the guide
    registered: int  # numeric claims in the registry (checkable or not)
    skipped: int

    @property
    def share(self) -> float:
        return min(1.0, self.registered / self.numeric_claims) if self.numeric_claims else 1.0


def is_numeric(c: Claim) -> bool:
    """A claim that states a figure (the registry also holds a few claims in words, e.g. a license or an encoding)."""
    return (c.claimed_value is not None or c.claimed_low is not None or c.claimed_high is not None
            or c.no_such is not None or re.search(r"(?<![A-Za-z])\d", c.quote) is not None)


def coverage(engine: Engine) -> list[Coverage]:
    counts = Counter(c.guide for c in engine.catalog.claims.values() if is_numeric(c))
    return [Coverage(g.id, g.title, g.numeric_claims, counts[g.id], len(g.skipped))
            for g in engine.catalog.claim_guides.values()]


# --------------------------------------------------------------------------- the CLI


def print_claims(engine: Engine, as_json: bool = False) -> int:
    verdicts = check_all(engine)
    if as_json:
        print(strict_json([v.to_json() for v in verdicts], indent=2, sort_keys=True, default=str))
        return 0
    for v in verdicts:
        ours = "-" if v.ours is None else (f"{v.ours:,.4g}" if isinstance(v.ours, float) else str(v.ours))
        err = "" if v.error_pct is None else f" ({v.error_pct:+.0f}%)"
        print(f"{v.claim.id:8} {v.verdict:13} claimed {claimed_text(v.claim)} {v.claim.unit or ''}; ours {ours}{err}"
              f" — {v.claim.quote[:70]!r}")
    print("\nVerdicts: " + ", ".join(f"{k}: {n}" for k, n in _counts(verdicts).items()))
    by_guide: dict[str | None, list[Verdict]] = {}
    for v in verdicts:
        by_guide.setdefault(v.claim.guide, []).append(v)
    print("\nCoverage per guide (numeric claims registered / counted in the guide):")
    for c in coverage(engine):
        counts = _counts(by_guide.get(c.guide, []))
        print(f"  {c.guide:24} {c.registered:4} / {c.numeric_claims:<4} {c.share:6.0%}   "
              + ", ".join(f"{k}: {n}" for k, n in counts.items() if n))
    return 0


def _counts(verdicts: list[Verdict]) -> dict[str, int]:
    c = Counter(v.verdict for v in verdicts)
    return {k: c[k] for k in VERDICTS}


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
