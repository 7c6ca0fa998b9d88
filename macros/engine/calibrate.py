"""Fit the speed model's few factors to the catalog's measurements.

Decode, per class of device (speed.speed_key: the backend, HBM parts apart), on single-device
measurements with the whole model resident:

    seconds per token = a x bytes / rated bandwidth + c x layer units + t0

so a = 1 / bandwidth efficiency (a >= 1), c = the fixed cost per layer unit, t0 = per token. A
layer unit counts an MoE layer as 1 + moe_weight and a Gated DeltaNet layer as 1 + linear_weight;
KV bytes of a quantized cache count kv_factor times. Those three weights are shared by every class
and chosen by grid search on the summed error.

Prefill, per class: seconds per token = (dense FLOPs + attention_weight x attention FLOPs
+ G x Gated DeltaNet layers + E x expert calls per micro-batch / micro-batch) / (rated FLOP/s x
efficiency); attention_weight, G and E shared, by grid search.

Then, with those fixed, the round trip per layer whose experts sit in RAM (decode) and the rate
at which RAM-held weights stream through a micro-batch (prefill, per kind of offload) are fitted
on the measurements that offload. Every fit minimises the squared relative error. A class with
fewer than MIN_POINTS measurements borrows its backend's fit, then the pooled one.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Sequence

import numpy as np

from .speed import BackendFactors, SpeedModel, key_chain

MIN_POINTS = 3

MOE_WEIGHT_GRID = tuple(x / 2 for x in range(0, 9))  # 0 to 4
KV_FACTOR_GRID = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0)


@dataclasses.dataclass(frozen=True)
class DecodePoint:
    key: str  # speed_key of the device
    group: str  # the source (table, thread) the measurement came from
    hardware: str
    bytes_over_bandwidth_s: float  # non-KV bytes read per token / rated bandwidth
    kv_over_bandwidth_s: float  # KV cache bytes read per token / rated bandwidth
    kv_quantized: bool
    layers: int
    seconds_per_token: float  # measured: 1 / tok/s
    moe_layers: int = 0
    linear_layers: int = 0

    @property
    def backend(self) -> str:
        return self.key.split("/")[0]


@dataclasses.dataclass(frozen=True)
class PrefillPoint:
    key: str
    group: str
    hardware: str
    dense_over_rate_s: float  # dense FLOPs per token / rated FLOP/s
    attention_over_rate_s: float
    linear_over_rate_s: float  # Gated DeltaNet layers / rated FLOP/s (seconds per FLOP-equivalent)
    expert_calls_over_rate_s: float  # expert calls per token (per ubatch / ubatch) / rated FLOP/s
    seconds_per_token: float

    @property
    def backend(self) -> str:
        return self.key.split("/")[0]


@dataclasses.dataclass(frozen=True)
class OffloadPoint:
    """A measurement with weights in system RAM: what the fitted model predicts without the offload
    term being fitted, and that term's unit."""

    kind: str  # decode | prefill
    offload: str  # expert | layer
    group: str
    base_seconds: float  # predicted seconds per token without the fitted term
    unit: float  # decode: layers with experts in RAM; prefill: RAM bytes / micro-batch / host RAM bytes/s
    seconds_per_token: float


def bounded_lsq(Z: np.ndarray, lower: np.ndarray, fixed: dict[int, float] | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Minimise |Z theta - 1|^2 with theta >= lower (and some theta fixed), batched over the leading
    axis of Z (G, n, p). Every split of the parameters into free and pinned-at-bound is solved from
    the Gram matrix; the best feasible wins."""
    G, n, p = Z.shape
    fixed = fixed or {}
    lower = np.array([fixed.get(j, lower[j]) for j in range(p)], dtype=float)
    # Columns differ by many orders of magnitude (seconds per byte, per layer, per FLOP): solve in
    # columns scaled to unit size, then scale the parameters back.
    scale = np.sqrt((Z * Z).mean(axis=(0, 1)))
    scale = np.where(scale > 0, scale, 1.0)
    Z = Z / scale
    lower = lower * scale
    gram = np.einsum("gni,gnj->gij", Z, Z)  # Z'Z
    zt1 = Z.sum(axis=1)  # Z'1
    best_loss = np.full(G, np.inf)
    best = np.tile(lower, (G, 1))
    movable = [j for j in range(p) if j not in fixed]
    for free in itertools.chain.from_iterable(itertools.combinations(movable, k) for k in range(len(movable) + 1)):
        free = list(free)
        pinned = [j for j in range(p) if j not in free]
        theta = np.tile(lower, (G, 1))
        ok = np.ones(G, dtype=bool)
        if free:
            A = gram[:, free][:, :, free] + 1e-18 * np.eye(len(free))
            rhs = zt1[:, free] - (gram[:, free][:, :, pinned] @ lower[pinned] if pinned else 0.0)
            try:
                sol = np.linalg.solve(A, rhs[..., None])[..., 0]
            except np.linalg.LinAlgError:
                continue
            theta[:, free] = sol
            ok = np.all(sol >= lower[free] - 1e-12, axis=1) & np.all(np.isfinite(sol), axis=1)
        loss = np.einsum("gi,gij,gj->g", theta, gram, theta) - 2 * np.einsum("gi,gi->g", theta, zt1) + n
        loss = np.where(ok, loss, np.inf)
        better = loss < best_loss
        best_loss = np.where(better, loss, best_loss)
        best[better] = theta[better]
    return best / scale, best_loss


def _fit_groups(keys: Sequence[str]) -> dict[str, list[int]]:
    """Which points each fitted group uses: a key with MIN_POINTS of its own; a key with fewer joins
    the nearest wider class that has them (speed.key_chain); everything left is pooled."""
    counts = {k: keys.count(k) for k in set(keys)}
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        home = next((c for c in key_chain(key) if counts.get(c, 0) >= MIN_POINTS), None)
        if home is None:
            backend = key.split("/")[0]
            home = backend if sum(1 for k in keys if k.split("/")[0] == backend) >= MIN_POINTS else "pooled"
        groups.setdefault(home, []).append(i)
    return groups


def _decode_Z(points: Sequence[DecodePoint], mw, kf) -> np.ndarray:
    """(G, n, 4) features over measured seconds: [bytes term, layer units, Gated DeltaNet layers, 1]."""
    T = np.array([p.seconds_per_token for p in points])
    X = np.array([p.bytes_over_bandwidth_s for p in points])
    K = np.array([p.kv_over_bandwidth_s for p in points])
    Q = np.array([p.kv_quantized for p in points], dtype=float)
    L0 = np.array([p.layers for p in points], dtype=float)
    M = np.array([p.moe_layers for p in points], dtype=float)
    N = np.array([p.linear_layers for p in points], dtype=float)
    mw, kf = (np.asarray(v, dtype=float)[:, None] for v in (mw, kf))
    bytes_term = X[None, :] + K[None, :] * (1 + Q[None, :] * (kf - 1))
    units = L0[None, :] + mw * M[None, :]
    return np.stack([bytes_term, units, np.broadcast_to(N, units.shape), np.ones_like(units)], axis=2) / T[None, :, None]


DECODE_LOWER = np.array([1.0, 0.0, 0.0, 0.0])  # a >= 1 (efficiency <= 1), c, g, t0 >= 0


def _has_linear(points: Sequence) -> bool:
    return sum(1 for p in points if getattr(p, "linear_layers", 0) or getattr(p, "linear_over_rate_s", 0)) >= MIN_POINTS


def fit_decode(points: Sequence[DecodePoint], moe_weight: float = 0.0, kv_factor: float = 1.0,
               linear_s: float | None = None) -> tuple[float, float, float, float]:
    """(a, c, g, t0) minimising sum(((a x + c u + g n + t0) / T - 1)^2) with a >= 1 and c, g, t0 >= 0;
    g (seconds per Gated DeltaNet layer) fixed at `linear_s` when given."""
    fixed = {2: linear_s} if linear_s is not None else None
    theta, _ = bounded_lsq(_decode_Z(points, [moe_weight], [kv_factor]), DECODE_LOWER, fixed)
    return tuple(float(v) for v in theta[0])


def fit_decode_weights(points: Sequence[DecodePoint]) -> tuple[float, float]:
    """(moe_weight, kv_factor) minimising the summed decode loss of every group's fit."""
    grid = np.array(list(itertools.product(MOE_WEIGHT_GRID, KV_FACTOR_GRID)))
    total = np.zeros(len(grid))
    for idx in _fit_groups([p.key for p in points]).values():
        pts = [points[i] for i in idx]
        fixed = None if _has_linear(pts) else {2: 0.0}
        _, loss = bounded_lsq(_decode_Z(pts, grid[:, 0], grid[:, 1]), DECODE_LOWER, fixed)
        total += loss
    best = grid[int(np.argmin(total))]  # first minimum: the smallest weights
    return float(best[0]), float(best[1])


def _prefill_Z(points: Sequence[PrefillPoint], aw) -> np.ndarray:
    """(G, n, 3) features over measured seconds, one row per attention weight in `aw`: [weight FLOPs
    + aw x attention FLOPs, Gated DeltaNet layers, expert calls], each over the rated FLOP/s."""
    T = np.array([p.seconds_per_token for p in points])
    D, A, N, X = (np.array([getattr(p, f) for p in points]) for f in
                  ("dense_over_rate_s", "attention_over_rate_s", "linear_over_rate_s", "expert_calls_over_rate_s"))
    aw = np.asarray(aw, dtype=float)[:, None]
    work = D[None, :] + aw * A[None, :]
    return np.stack([work, np.broadcast_to(N, work.shape), np.broadcast_to(X, work.shape)], axis=2) / T[None, :, None]


PREFILL_LOWER = np.array([1e-3, 0.0, 0.0])
ATTENTION_WEIGHT_GRID = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0)


def _has_experts(points: Sequence[PrefillPoint]) -> bool:
    return sum(1 for p in points if p.expert_calls_over_rate_s) >= MIN_POINTS


def _prefill_fixed(points, pooled):
    fixed = {}
    if not _has_linear(points):
        fixed[1] = pooled[1] if pooled else 0.0
    if not _has_experts(points):
        fixed[2] = pooled[2] if pooled else 0.0
    return fixed


def fit_prefill(points: Sequence[PrefillPoint], attention_weight: float = 1.0,
                pooled: tuple[float, float, float] | None = None) -> tuple[float, float, float]:
    """(k, kg, ke): seconds = (k x (weight FLOPs + attention_weight x attention FLOPs) + kg x Gated
    DeltaNet layers + ke x expert calls) / rated FLOP/s, so 1 / k is the compute efficiency and kg / k,
    ke / k are FLOP-equivalents per Gated DeltaNet layer per token and per expert call. A term the
    points cannot show (no Gated DeltaNet, no MoE) keeps the pooled fit's value."""
    theta, _ = bounded_lsq(_prefill_Z(points, [attention_weight]), PREFILL_LOWER, _prefill_fixed(points, pooled))
    return tuple(float(v) for v in theta[0])


def fit_attention_weight(points: Sequence[PrefillPoint]) -> float:
    """The attention weight (shared by every class) minimising the summed prefill loss."""
    grid = np.array(ATTENTION_WEIGHT_GRID)
    total = np.zeros(len(grid))
    for idx in _fit_groups([p.key for p in points]).values():
        pts = [points[i] for i in idx]
        _, loss = bounded_lsq(_prefill_Z(pts, grid), PREFILL_LOWER, _prefill_fixed(pts, None))
        total += loss
    return float(grid[int(np.argmin(total))])


def fit_offload_term(points: Sequence[OffloadPoint]) -> float:
    """s >= 0 minimising sum(((base + s x unit) / T - 1)^2)."""
    num = sum(p.unit / p.seconds_per_token * (1 - p.base_seconds / p.seconds_per_token) for p in points)
    den = sum((p.unit / p.seconds_per_token) ** 2 for p in points)
    return max(num / den, 0.0) if den else 0.0


OUTLIER_FACTOR = 2.0  # a measurement this far off the first fit (either way) is left out of the second


def decode_seconds(model: SpeedModel, p: DecodePoint) -> float:
    """A decode point's seconds per token under a fitted model (the fit's own formula)."""
    f = model.factors(p.key)
    kv = p.kv_over_bandwidth_s * (model.kv_quant_read_factor if p.kv_quantized else 1.0)
    units = p.layers + model.moe_layer_weight * p.moe_layers
    return ((p.bytes_over_bandwidth_s + kv) / f.bandwidth_efficiency + units * f.layer_overhead_s
            + p.linear_layers * f.linear_layer_s + f.token_overhead_s)


def prefill_seconds(model: SpeedModel, p: PrefillPoint) -> float:
    """A prefill point's seconds per token under a fitted model."""
    f = model.factors(p.key)
    work = (p.dense_over_rate_s + f.attention_flops_weight * p.attention_over_rate_s
            + f.linear_layer_prefill_flops * p.linear_over_rate_s + f.expert_call_flops * p.expert_calls_over_rate_s)
    return work / f.compute_efficiency if f.compute_efficiency else float("nan")


def _within(predicted: float, measured: float) -> bool:
    return predicted == predicted and 1 / OUTLIER_FACTOR <= predicted / measured <= OUTLIER_FACTOR


def fit_speed_model(decode: Sequence[DecodePoint], prefill: Sequence[PrefillPoint], gpu_hop_s: float,
                    allreduce_s: dict[str, float], shape: tuple[float, float, float] | None = None) -> SpeedModel:
    """Fit twice: the second time without the measurements the first fit misses by more than a factor
    OUTLIER_FACTOR (a run the model cannot describe: a spill to shared memory, a debug build), so a few
    such rows do not drag a whole class. Every measurement still counts in the accuracy report."""
    first = _fit_once(decode, prefill, gpu_hop_s, allreduce_s, shape)
    keep_d = [p for p in decode if _within(decode_seconds(first, p), p.seconds_per_token)]
    keep_p = [p for p in prefill if _within(prefill_seconds(first, p), p.seconds_per_token)]
    if len(keep_d) == len(decode) and len(keep_p) == len(prefill):
        return first
    return _fit_once(keep_d, keep_p, gpu_hop_s, allreduce_s, shape)


def _fit_once(decode: Sequence[DecodePoint], prefill: Sequence[PrefillPoint], gpu_hop_s: float,
              allreduce_s: dict[str, float], shape: tuple[float, float, float] | None = None) -> SpeedModel:
    """Per-class factors and the shared shape weights (MoE layer weight, quantized-KV factor, attention
    weight), searched on a grid unless `shape` gives them; offload terms are added by with_offload."""
    if shape is None:
        mw, kf = fit_decode_weights(decode) if decode else (0.0, 1.0)
        aw = fit_attention_weight(prefill) if prefill else 1.0
    else:
        mw, kf, aw = shape
    pooled_d = fit_decode(decode, mw, kf) if decode else (1.0, 0.0, 0.0, 0.0)
    pooled_p = fit_prefill(prefill, aw) if prefill else None
    d_groups = _fit_groups([p.key for p in decode])
    p_groups = _fit_groups([p.key for p in prefill])
    d_fit = {}
    for g, idx in d_groups.items():
        pts = [decode[i] for i in idx]
        d_fit[g] = fit_decode(pts, mw, kf, None if _has_linear(pts) else pooled_d[2])
    p_fit = {}
    for g, idx in p_groups.items():
        pts = [prefill[i] for i in idx]
        p_fit[g] = fit_prefill(pts, aw, pooled_p)

    def owner(groups, key):
        home = next((c for c in key_chain(key) if c in groups), None)
        return home or ("pooled" if "pooled" in groups else None)

    keys = sorted({p.key for p in decode} | {p.key for p in prefill}
                  | {p.backend for p in decode} | {p.backend for p in prefill})
    factors = {}
    for key in keys:
        dg, pg = owner(d_groups, key), owner(p_groups, key)
        a, c, g, t0 = d_fit[dg] if dg else pooled_d
        k, kg, ke = p_fit[pg] if pg else (pooled_p or (None, 0.0, 0.0))
        nd = sum(1 for p in decode if p.key == key or p.backend == key)
        npf = sum(1 for p in prefill if p.key == key or p.backend == key)
        d_src = "own fit" if dg == key else "borrowed from " + (dg or "pooled")
        p_src = "own fit" if pg == key else "borrowed from " + (pg or "pooled")
        source = f"decode: {d_src} ({nd} measurements); prefill: {p_src} ({npf} measurements)"
        factors[key] = BackendFactors(1 / a, c, t0, (1 / k) if k else None, nd if dg == key else 0,
                                      npf if pg == key else 0, source, linear_layer_s=g,
                                      linear_layer_prefill_flops=kg / k if k else 0.0,
                                      expert_call_flops=ke / k if k else 0.0,
                                      attention_flops_weight=aw)
    pooled = BackendFactors(1 / pooled_d[0], pooled_d[1], pooled_d[3],
                            (1 / pooled_p[0]) if pooled_p else None, len(decode), len(prefill),
                            "pooled over every class", linear_layer_s=pooled_d[2],
                            linear_layer_prefill_flops=pooled_p[1] / pooled_p[0] if pooled_p else 0.0,
                            expert_call_flops=pooled_p[2] / pooled_p[0] if pooled_p else 0.0,
                            attention_flops_weight=aw)
    return SpeedModel(factors_by_key=factors, pooled=pooled, gpu_hop_s=gpu_hop_s, allreduce_s=allreduce_s,
                      moe_layer_weight=mw, kv_quant_read_factor=kf)


def with_offload(model: SpeedModel, points: Sequence[OffloadPoint]) -> SpeedModel:
    """The model with its offload and split terms fitted on the measurements that show them: weights
    in system RAM (offload "expert" or "layer") and llama.cpp splits over GPUs ("moe", "row")."""
    sync = fit_offload_term([p for p in points if p.kind == "decode" and p.offload in ("expert", "layer")])
    shares = {}
    for offload in ("expert", "layer"):
        pts = [p for p in points if p.kind == "prefill" and p.offload == offload]
        s = fit_offload_term(pts)
        if pts and s > 0:
            shares[offload] = 1 / s
    split = {}
    for kind in ("decode", "prefill"):
        for offload in ("moe", "row"):
            pts = [p for p in points if p.kind == kind and p.offload == offload]
            if pts:
                split[f"{kind}_{offload}"] = fit_offload_term(pts)
    return dataclasses.replace(model, offload_sync_s=sync, offload_prefill_share=shares, split_sync_s=split)
