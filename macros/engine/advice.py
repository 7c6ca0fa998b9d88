"""One recommendation policy: for a model, a machine and a reader's use, which setup to run.

A use (chat, coding agent, long documents) sets a decode-speed floor, a context target and a
quality ceiling (mean KL divergence to BF16); headroom is shared. The policy picks the best
quality that meets speed, context and headroom (quality ties go to the faster); else the fastest
setup that still meets the quality floor, marked as a compromise with what it misses; else it says
the machine cannot run the model usefully. Thresholds are catalog constants
(catalog/constants/advice.yaml); quality comes from published measurements (catalog/quality.yaml)
or, where none exists, from a rule fitted to them (labelled an estimate).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from typing import Callable, Iterable, Sequence

GIB = 2**30
USES = ("chat", "coding agent", "long documents")
_PREFIX = {"chat": "chat", "coding agent": "agent", "long documents": "documents"}
BASELINES = ("BF16", "F16")  # the unquantized references: no departure to measure


# ------------------------------------------------------------------ the policy's thresholds

@dataclasses.dataclass(frozen=True)
class Policy:
    use: str
    decode_min_tok_s: float  # the low end of the speed band must reach this
    context_tokens: int  # the context target (capped at the model's native limit)
    kld_max: float  # nats: the quality floor as a ceiling on mean KL divergence to BF16
    headroom_min_bytes: float
    headroom_min_share: float  # of the memory pool the model sits in
    usable_min_tok_s: float  # below this nothing is suggested
    min_context_tokens: int  # a compromise offers at least this much context
    kld_negligible: float  # quality differences below this are ties
    kld_noticeable: float  # above this the reason says the loss in words


def policy(catalog, use: str = "chat") -> Policy:
    """The thresholds for `use`, read from the catalog's advice constants."""
    if use not in _PREFIX:
        raise ValueError(f"unknown use {use!r}; choose one of {', '.join(USES)}")
    c, p = catalog.constant, _PREFIX[use]
    return Policy(use=use, decode_min_tok_s=float(c(f"advice_{p}_decode_min_tok_s")),
                  context_tokens=int(c(f"advice_{p}_context_tokens")), kld_max=float(c(f"advice_{p}_kld_max")),
                  headroom_min_bytes=float(c("advice_headroom_min_gib")) * GIB,
                  headroom_min_share=float(c("advice_headroom_min_share")),
                  usable_min_tok_s=float(c("advice_usable_decode_min_tok_s")),
                  min_context_tokens=int(c("advice_min_context_tokens")),
                  kld_negligible=float(c("advice_kld_negligible")), kld_noticeable=float(c("advice_kld_noticeable")))


# ------------------------------------------------------------------ quality of a quant

@dataclasses.dataclass(frozen=True)
class Quality:
    """How far a quant departs from BF16 for one model: mean KL divergence (nats) and where it came from."""

    kld: float
    kind: str  # baseline | measured | estimate
    publisher: str | None = None  # whose file was measured
    source_url: str | None = None
    records: tuple = ()  # every catalog quality record for this model and quant (any metric)
    fit_factor: float | None = None  # estimates: exp(RMS log error) of the fit

    @property
    def estimated(self) -> bool:
        return self.kind == "estimate"


@dataclasses.dataclass(frozen=True)
class KldFit:
    """ln(KLD) = a + b x body bits per weight + c x ln(total parameters, billions), least squares."""

    a: float
    b: float
    c: float
    points: int
    factor: float  # exp(RMS of the log residuals)
    params_b_range: tuple[float, float] = (0.0, math.inf)  # sizes measured; outside, the nearest is used

    def kld(self, bpw: float, params_b: float) -> float:
        """Estimated mean KLD, nats. Model size is held inside the measured range: a larger model is
        given the largest measured size's figure (no credit for size beyond the data)."""
        lo, hi = self.params_b_range
        p = min(max(params_b, lo), hi)
        return math.exp(self.a + self.b * bpw + self.c * math.log(p))


def fit_kld(points: Sequence[tuple[float, float, float]]) -> KldFit:
    """Fit from (bits per weight, parameters in billions, KLD) points (normal equations, 3 unknowns)."""
    rows = [(1.0, bpw, math.log(p)) for bpw, p, _ in points]
    ys = [math.log(k) for _, _, k in points]
    ata = [[sum(r[i] * r[j] for r in rows) for j in range(3)] for i in range(3)]
    aty = [sum(r[i] * y for r, y in zip(rows, ys)) for i in range(3)]
    if len({r[2] for r in rows}) < 2:  # one model size only: no size term
        ata[2] = [0.0, 0.0, 1.0]
        aty[2] = 0.0
        for i in range(2):
            ata[i][2] = 0.0
    a, b, c = _solve3(ata, aty)
    res = [y - (a + b * r[1] + c * r[2]) for r, y in zip(rows, ys)]
    rms = math.sqrt(sum(x * x for x in res) / len(res))
    sizes = [p for _, p, _ in points]
    return KldFit(a, b, c, len(points), math.exp(rms), (min(sizes), max(sizes)))


def _solve3(m: list[list[float]], v: list[float]) -> tuple[float, float, float]:
    """Gaussian elimination with partial pivoting for a 3x3 system."""
    m = [row[:] + [x] for row, x in zip(m, v)]
    for i in range(3):
        p = max(range(i, 3), key=lambda r: abs(m[r][i]))
        m[i], m[p] = m[p], m[i]
        for r in range(i + 1, 3):
            f = m[r][i] / m[i][i]
            m[r] = [x - f * y for x, y in zip(m[r], m[i])]
    out = [0.0, 0.0, 0.0]
    for i in (2, 1, 0):
        out[i] = (m[i][3] - sum(m[i][j] * out[j] for j in range(i + 1, 3))) / m[i][i]
    return out[0], out[1], out[2]


class QualityModel:
    """Measured KLD where the catalog has it, else the fitted rule; built once per engine."""

    def __init__(self, engine):
        self.engine = engine
        cat = engine.catalog
        self.records = list(getattr(cat, "quality", {}).values())
        self.download_publisher = {d.model: d.publisher for d in getattr(cat, "downloads", {}).values()}
        pts = [(engine.bits(r.quant).body_bpw, engine.params(r.model).total.total / 1e9, r.value)
               for r in self.records if r.metric == "kld_mean" and r.fit and r.value > 0]
        self.fit = fit_kld(pts) if len(pts) >= 3 else None
        self._cache: dict[tuple[str, str], Quality] = {}

    def quality(self, model_id: str, quant_id: str) -> Quality:
        key = (model_id, quant_id)
        if key not in self._cache:
            self._cache[key] = self._quality(model_id, quant_id)
        return self._cache[key]

    def _quality(self, model_id: str, quant_id: str) -> Quality:
        recs = tuple(r for r in self.records if r.model == model_id and r.quant == quant_id)
        if quant_id in BASELINES:
            return Quality(0.0, "baseline", records=recs)
        klds = [r for r in recs if r.metric == "kld_mean"]
        if klds:
            pub = self.download_publisher.get(model_id)
            same = [r for r in klds if r.publisher == pub]
            pick = same[0] if same else sorted(klds, key=lambda r: r.value)[len(klds) // 2]
            url = next((s.url for s in pick.source if s.url), None)
            return Quality(pick.value, "measured", pick.publisher, url, recs)
        if self.fit is None:
            return Quality(float("nan"), "estimate", records=recs)
        bpw = self.engine.bits(quant_id).body_bpw
        params_b = self.engine.params(model_id).total.total / 1e9
        return Quality(self.fit.kld(bpw, params_b), "estimate", records=recs, fit_factor=self.fit.factor)


def quality_model(engine) -> QualityModel:
    """The engine's QualityModel (built on first use, then kept on the engine)."""
    qm = getattr(engine, "_advice_quality_model", None)
    if qm is None:
        qm = QualityModel(engine)
        engine._advice_quality_model = qm
    return qm


def quality(engine, model_id: str, quant_id: str) -> Quality:
    return quality_model(engine).quality(model_id, quant_id)


# ------------------------------------------------------------------ speed and headroom checks

def decode_low_tok_s(engine, estimate) -> float | None:
    """The low end of the decode estimate's error band (tokens/s); the point estimate when the
    engine gives no band."""
    v = estimate.decode_tok_s
    if v is None:
        return None
    band_fn = getattr(engine, "speed_band", None)
    if band_fn is None:
        return v
    band = band_fn("decode", estimate)
    return band.range(v)[0] if band is not None else v


def headroom(engine, estimate) -> tuple[float, float]:
    """(free bytes, pool bytes) in the tightest memory the placement uses: accelerator memory, or
    system RAM for a CPU-only machine or where weights spill into RAM (whichever is tighter)."""
    p, m = estimate.placement, estimate.machine
    if p.placement == "cpu":
        return p.headroom_bytes, m.ram_bytes
    free, pool = p.headroom_bytes, max(p.budget_bytes, 1.0)
    if p.ram_bytes and m.host:
        ram_pool = m.ram_bytes - engine.settings.os_reserve_bytes
        ram_free = ram_pool - p.ram_bytes
        if ram_free / max(ram_pool, 1.0) < free / pool:
            return ram_free, ram_pool
    return free, pool


def headroom_needed(pol: Policy, pool_bytes: float) -> float:
    return max(pol.headroom_min_bytes, pol.headroom_min_share * pool_bytes)


OFFLOAD = ("moe_expert_offload", "layer_offload")


def reserved_machine(machine, reserve_bytes: float):
    """The same machine with `reserve_bytes` of accelerator memory set aside (split evenly): placing a
    model on it leaves that much free on the real one."""
    n = len(machine.accelerators)
    accs = tuple(dataclasses.replace(d, memory_bytes=d.memory_bytes - reserve_bytes / n) for d in machine.accelerators)
    return dataclasses.replace(machine, accelerators=accs)


def _evaluate(engine, pol: Policy, est, model_id: str, q: str, ctx: int, machine, qm):
    """(Option or None, the plain estimate). A placement passes if it runs without a raised memory limit
    and leaves the policy's headroom. When weights already spill into system RAM and the GPUs are the
    tight pool, the placement is redone with the headroom set aside (one more layer's experts or layers
    in RAM), which is what a reader would do; its flags and speed are then the ones shown."""
    e = est(model_id, q, context=ctx, machine=machine)
    p = e.placement
    if p is None or not p.runs or p.placement == "unified_raised_cap":
        return None, e
    use = e
    free, pool = headroom(engine, e)
    if free < headroom_needed(pol, pool) and p.placement in OFFLOAD and machine.accelerators:
        need_gpu = headroom_needed(pol, p.budget_bytes)
        if p.headroom_bytes < need_gpu:
            e2 = est(model_id, q, context=ctx, machine=reserved_machine(machine, need_gpu))
            p2 = e2.placement
            if p2 is not None and p2.runs and p2.placement in OFFLOAD:
                gpu_free = p2.headroom_bytes + need_gpu
                ram_pool = machine.ram_bytes - engine.settings.os_reserve_bytes
                ram_free = ram_pool - p2.ram_bytes
                if gpu_free / p.budget_bytes <= ram_free / max(ram_pool, 1.0):
                    free, pool = gpu_free, p.budget_bytes
                else:
                    free, pool = ram_free, ram_pool
                use = e2
    if free < headroom_needed(pol, pool):
        return None, e
    low = decode_low_tok_s(engine, use)
    if low is None:
        return None, e
    return Option(q, ctx, use, low, qm.quality(model_id, q), free, pool), e


# ------------------------------------------------------------------ the recommendation

@dataclasses.dataclass(frozen=True)
class Option:
    quant: str
    context: int
    estimate: object  # on the machine as placed (with the headroom kept, see _evaluate)
    decode_low_tok_s: float
    quality: Quality
    free_bytes: float = 0.0  # memory left free on the real machine, in the tightest pool
    pool_bytes: float = 0.0  # that pool's size


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """The policy's answer. status: recommended (meets every threshold), compromise (meets quality
    and headroom but misses the speed floor or the context target; says which), none."""

    model_id: str
    machine_id: str
    use: str
    status: str
    reason: str  # one line a reader can act on
    policy: Policy
    pick: Option | None = None
    alternatives: tuple[Option, ...] = ()  # other setups meeting the same bar, fastest first

    @property
    def quant(self) -> str | None:
        return self.pick.quant if self.pick else None

    @property
    def estimate(self):
        return self.pick.estimate if self.pick else None

    @property
    def context(self) -> int | None:
        return self.pick.context if self.pick else None

    @property
    def usable(self) -> bool:
        return self.pick is not None


EstimateFn = Callable[..., object]


def _tokens(n: int) -> str:
    return f"{n // 1024}K" if n >= 1024 and n % 1024 == 0 else f"{n:,}"


def quality_words(q: Quality, pol: Policy) -> str:
    """The quality cost in a few words, e.g. 'KLD 0.0062 vs BF16 (measured)'."""
    if q.kind == "baseline":
        return "the unquantized weights (no quality lost)"
    how = "measured" if q.kind == "measured" else "estimate"
    text = f"KLD {q.kld:.3g} vs BF16 ({how})"
    if q.kld > pol.kld_noticeable:
        text += ", a noticeable loss of quality"
    return text


def recommend(engine, model_id: str, machine, use: str = "chat", quants: Iterable[str] = (),
              estimate: EstimateFn | None = None) -> Recommendation:
    """The setup to run `model_id` on `machine` for `use`, among `quants`.

    `estimate(model_id, quant, context=..., machine=...)` defaults to engine.estimate (pages pass
    a memoised one). Speeds are judged at the low end of their band with the cache filled to the
    context; headroom against max(advice_headroom_min_gib, advice_headroom_min_share x pool)."""
    if estimate is None:  # one answer per engine: pages, the calculator and the CLI share it
        cache = engine.__dict__.setdefault("_advice_recommendations", {})
        key = (model_id, machine, use, tuple(quants))
        if key not in cache:
            cache[key] = _recommend(engine, model_id, machine, use, list(key[3]), None)
        return cache[key]
    return _recommend(engine, model_id, machine, use, list(quants), estimate)


def _recommend(engine, model_id: str, machine, use: str, quants: list[str], estimate: EstimateFn | None):
    pol = policy(engine.catalog, use)
    est = estimate or (lambda mid, q, context, machine: engine.estimate(mid, q, context=context, machine=machine))
    limit = engine.catalog.models[model_id].architecture.max_position_embeddings
    target = min(pol.context_tokens, limit)
    qm = quality_model(engine)
    qs = sorted(dict.fromkeys(quants), key=lambda q: (qm.quality(model_id, q).kld, -engine.bits(q).body_bpw))
    mid_ = getattr(machine, "id", "")

    at_target: list[Option] = []
    fitting_any: list[tuple[str, object]] = []
    for q in qs:
        o, e = _evaluate(engine, pol, est, model_id, q, target, machine, qm)
        if e.placement is None or not e.placement.runs:
            continue
        fitting_any.append((q, e))
        if o is not None:
            at_target.append(o)

    good = [o for o in at_target if o.quality.kld <= pol.kld_max and o.decode_low_tok_s >= pol.decode_min_tok_s]
    if good:
        best_kld = min(o.quality.kld for o in good)
        ties = [o for o in good if o.quality.kld <= best_kld + pol.kld_negligible]
        pick = max(ties, key=lambda o: o.decode_low_tok_s)
        alts = tuple(sorted((o for o in good if o is not pick), key=lambda o: -o.decode_low_tok_s))
        why = (f"{pick.quant}: the best quality that holds {_tokens(target)} tokens of context at "
               f"{pick.decode_low_tok_s:.0f} tok/s or more (the {use} floor is {pol.decode_min_tok_s:.0f}); "
               f"{quality_words(pick.quality, pol)}")
        if len(ties) > 1 and pick.quality.kld > best_kld:
            why += "; chosen over higher-bit files that are no better in practice and slower"
        return Recommendation(model_id, mid_, use, "recommended", why, pol, pick, alts)

    # Fallback: the fastest setup meeting the quality floor, at the largest context it holds.
    options: list[Option] = [o for o in at_target if o.quality.kld <= pol.kld_max]
    grid, c = [], target // 2
    while c >= pol.min_context_tokens:
        grid.append(c)
        c //= 2
    done = {o.quant for o in options}
    for q in qs:
        if q in done or qm.quality(model_id, q).kld > pol.kld_max:
            continue
        for ctx in grid:
            o, _ = _evaluate(engine, pol, est, model_id, q, ctx, machine, qm)
            if o is not None:
                options.append(o)
                break
    usable = [o for o in options if o.decode_low_tok_s >= pol.usable_min_tok_s]
    if usable:
        pick = max(usable, key=lambda o: (o.decode_low_tok_s, -o.quality.kld))
        misses = []
        if pick.decode_low_tok_s < pol.decode_min_tok_s:
            misses.append(f"only {pick.decode_low_tok_s:.1f} tok/s at the low end, below the "
                          f"{pol.decode_min_tok_s:.0f} tok/s {use} wants")
        if pick.context < target:
            misses.append(f"only {_tokens(pick.context)} tokens of context, below the {_tokens(target)} target")
        why = (f"Compromise, {pick.quant}: the fastest setup that keeps quality within the floor; "
               + "; ".join(misses) + f"; {quality_words(pick.quality, pol)}")
        alts = tuple(sorted((o for o in usable if o is not pick), key=lambda o: -o.decode_low_tok_s))
        return Recommendation(model_id, mid_, use, "compromise", why, pol, pick, alts)

    # Nothing usable: say why, plainly.
    if not fitting_any:
        why = "It does not fit on this machine at any quantization tried, even counting system RAM."
    elif options:
        fastest = max(options, key=lambda o: o.decode_low_tok_s)
        why = (f"Not usefully: the fastest setup within the quality floor ({fastest.quant}) decodes at "
               f"{fastest.decode_low_tok_s:.1f} tok/s at the low end, below the {pol.usable_min_tok_s:.0f} tok/s "
               "this site counts as usable.")
    else:
        ok_q = [q for q, _ in fitting_any if qm.quality(model_id, q).kld <= pol.kld_max]
        if ok_q:
            why = (f"Not usefully: within the quality floor it only fits with less than "
                   f"{_tokens(pol.min_context_tokens)} tokens of context or less headroom than the policy keeps.")
        else:
            q = fitting_any[-1][0]
            why = (f"Not usefully: only quants that depart too far from BF16 fit (e.g. {q}, "
                   f"{quality_words(qm.quality(model_id, q), pol)}; the {use} floor is KLD {pol.kld_max:g}).")
    return Recommendation(model_id, mid_, use, "none", why, pol)


def summary(engine) -> dict:
    """The fitted rule and its inputs, for the methodology page and tests."""
    qm = quality_model(engine)
    f = qm.fit
    return {"points": f.points if f else 0, "a": f.a if f else None, "b": f.b if f else None,
            "c": f.c if f else None, "factor": f.factor if f else None,
            "measured": len([r for r in qm.records if r.metric == "kld_mean"]),
            "median_kld": statistics.median([r.value for r in qm.records if r.metric == "kld_mean"])
            if qm.records else None}
