"""Fit the speed model's few factors to the catalog's measurements.

Per backend, decode time per token is modelled as  a * (bytes / rated bandwidth) + b * layers,
so a = 1 / bandwidth efficiency and b = the fixed cost per layer. Layers are weighted by kind:
an MoE layer counts 1 + moe_weight (router, top-k, gather: more kernels) and a Gated DeltaNet
layer 1 + linear_weight (conv, gating, recurrent update); the two weights are shared by every
backend and chosen by grid search on the total error; prefill time per token as
c * (FLOPs / rated FLOP/s), so c = 1 / compute efficiency. Each is a weighted least-squares
fit on relative error, over single-device measurements where the model sat fully on the device.
Backends with fewer than MIN_POINTS measurements use the fit pooled over all of them.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Sequence

from .speed import BackendFactors, SpeedModel

MIN_POINTS = 3


@dataclasses.dataclass(frozen=True)
class DecodePoint:
    backend: str
    hardware: str
    bytes_over_bandwidth_s: float  # bytes read per token / rated bandwidth
    layers: int
    seconds_per_token: float  # measured: 1 / tok/s
    moe_layers: int = 0
    linear_layers: int = 0

    def weighted_layers(self, moe_weight: float, linear_weight: float) -> float:
        return self.layers + moe_weight * self.moe_layers + linear_weight * self.linear_layers


LAYER_WEIGHT_GRID = tuple(x / 4 for x in range(0, 25))  # 0 to 6 in steps of 0.25


@dataclasses.dataclass(frozen=True)
class PrefillPoint:
    backend: str
    hardware: str
    flops_over_rate_s: float  # FLOPs per token / rated FLOP/s
    seconds_per_token: float
    expert_flops_over_rate_s: float = 0.0  # the routed-expert share of those FLOPs / rated FLOP/s

    def work(self, expert_weight: float) -> float:
        return self.flops_over_rate_s + expert_weight * self.expert_flops_over_rate_s


def fit_decode(points: Sequence[DecodePoint], moe_weight: float = 0.0, linear_weight: float = 0.0) -> tuple[float, float]:
    """(a, b) minimising sum(((a x + b y) / T - 1)^2) with a >= 1 and b >= 0."""
    sxx = sxy = syy = sxt = syt = 0.0
    for p in points:
        layers = p.weighted_layers(moe_weight, linear_weight)
        x, y, w = p.bytes_over_bandwidth_s / p.seconds_per_token, layers / p.seconds_per_token, 1.0
        sxx += w * x * x
        sxy += w * x * y
        syy += w * y * y
        sxt += w * x
        syt += w * y
    det = sxx * syy - sxy * sxy
    a = b = None
    if det > 1e-12 * max(sxx * syy, 1e-300):
        a = (sxt * syy - syt * sxy) / det
        b = (sxx * syt - sxy * sxt) / det
    if a is None or b is None or b < 0 or a < 1:
        candidates = []
        if sxx:
            a0 = max(sxt / sxx, 1.0)  # b = 0
            candidates.append((a0, 0.0))
        if syy:
            b1 = max((syt - sxy) / syy, 0.0)  # a = 1
            candidates.append((1.0, b1))
        a, b = min(candidates, key=lambda ab: _decode_loss(points, *ab, moe_weight, linear_weight))
    return a, b


def _decode_loss(points: Iterable[DecodePoint], a: float, b: float, moe_weight: float = 0.0,
                 linear_weight: float = 0.0) -> float:
    return sum(((a * p.bytes_over_bandwidth_s + b * p.weighted_layers(moe_weight, linear_weight))
                / p.seconds_per_token - 1) ** 2 for p in points)


def fit_prefill(points: Sequence[PrefillPoint], expert_weight: float = 0.0) -> float:
    """c minimising sum((c x / T - 1)^2), at least 1."""
    num = sum(p.work(expert_weight) / p.seconds_per_token for p in points)
    den = sum((p.work(expert_weight) / p.seconds_per_token) ** 2 for p in points)
    return max(num / den, 1.0) if den else 1.0


def fit_bandwidth_only(points: Sequence[DecodePoint], layer_s: float, moe_weight: float,
                       linear_weight: float) -> float:
    """a (= 1 / bandwidth efficiency, at least 1) with the per-layer cost fixed at `layer_s`."""
    xs = [p.bytes_over_bandwidth_s / p.seconds_per_token for p in points]
    rest = [1 - layer_s * p.weighted_layers(moe_weight, linear_weight) / p.seconds_per_token for p in points]
    return max(sum(x * r for x, r in zip(xs, rest)) / sum(x * x for x in xs), 1.0)


def _prefill_loss(points: Sequence[PrefillPoint], c: float, expert_weight: float) -> float:
    return sum((c * p.work(expert_weight) / p.seconds_per_token - 1) ** 2 for p in points)


EXPERT_WEIGHT_GRID = tuple(x / 2 for x in range(0, 41))  # 0 to 20 in steps of 0.5


def fit_expert_weight(prefill: Sequence[PrefillPoint]) -> float:
    """Extra cost of a routed-expert FLOP in prefill, minimising the summed loss over backends."""
    groups = {}
    for backend in sorted({p.backend for p in prefill}):
        own = [p for p in prefill if p.backend == backend]
        groups[backend] = own if len(own) >= MIN_POINTS else prefill
    return min(EXPERT_WEIGHT_GRID,
               key=lambda w: sum(_prefill_loss(pts, fit_prefill(pts, w), w) for pts in groups.values()))


def _factors(decode: Sequence[DecodePoint], prefill: Sequence[PrefillPoint], source: str,
             moe_weight: float, linear_weight: float, expert_weight: float) -> BackendFactors:
    a, b = fit_decode(decode, moe_weight, linear_weight) if decode else (1.0, 0.0)
    c = fit_prefill(prefill, expert_weight) if prefill else None
    return BackendFactors(1 / a, b, (1 / c) if c else None, len(decode), len(prefill), source)


def _groups(decode: Sequence[DecodePoint]) -> dict[str, Sequence[DecodePoint]]:
    """Decode points each backend is fitted on (its own, or all of them when it has too few)."""
    out = {}
    for backend in sorted({p.backend for p in decode}):
        own = [p for p in decode if p.backend == backend]
        out[backend] = own if len(own) >= MIN_POINTS else decode
    return out


def _group_loss_grid(points: Sequence[DecodePoint], mw, lw):
    """The constrained least-squares decode loss of one group at every (moe, linear) weight pair.

    Same fit as fit_decode, evaluated in closed form from sums over the points, with numpy
    arrays over the grid: loss(a, b) = a^2 Sxx + 2ab Sxy + b^2 Syy - 2a Sx - 2b Sy + n."""
    import numpy as np

    T = np.array([p.seconds_per_token for p in points])
    X = np.array([p.bytes_over_bandwidth_s for p in points]) / T
    Y0, Ym, Yl = (np.array([getattr(p, f) for p in points]) / T for f in ("layers", "moe_layers", "linear_layers"))
    n, sx, sxx = len(points), X.sum(), (X * X).sum()

    def s(u, v):
        return (u * v).sum()

    sy = s(Y0, 1) + mw * s(Ym, 1) + lw * s(Yl, 1)
    sxy = s(X, Y0) + mw * s(X, Ym) + lw * s(X, Yl)
    syy = (s(Y0, Y0) + mw * mw * s(Ym, Ym) + lw * lw * s(Yl, Yl)
           + 2 * mw * s(Y0, Ym) + 2 * lw * s(Y0, Yl) + 2 * mw * lw * s(Ym, Yl))

    def loss(a, b):
        return a * a * sxx + 2 * a * b * sxy + b * b * syy - 2 * a * sx - 2 * b * sy + n

    det = sxx * syy - sxy * sxy
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (sx * syy - sy * sxy) / det
        b = (sxx * sy - sxy * sx) / det
        a0 = np.maximum(sx / sxx, 1.0)
        b1 = np.maximum((sy - sxy) / syy, 0.0)
    free = np.where((a >= 1) & (b >= 0) & np.isfinite(a) & np.isfinite(b), loss(a, b), np.inf)
    return np.minimum(free, np.minimum(loss(a0, 0.0), loss(1.0, b1)))


def fit_layer_weights(decode: Sequence[DecodePoint]) -> tuple[float, float]:
    """(moe_weight, linear_weight) minimising the summed decode loss over all backends' fits."""
    import numpy as np

    mw, lw = np.meshgrid(np.array(LAYER_WEIGHT_GRID), np.array(LAYER_WEIGHT_GRID), indexing="ij")
    total = sum(_group_loss_grid(pts, mw, lw) for pts in _groups(decode).values())
    i, j = np.unravel_index(int(np.argmin(total)), total.shape)  # first minimum: the smallest weights
    return float(mw[i, j]), float(lw[i, j])


def fit_speed_model(decode: Sequence[DecodePoint], prefill: Sequence[PrefillPoint], gpu_hop_s: float,
                    allreduce_s: dict[str, float]) -> SpeedModel:
    mw, lw = fit_layer_weights(decode) if decode else (0.0, 0.0)
    ew = fit_expert_weight(prefill) if prefill else 0.0
    pooled = _factors(decode, prefill, "pooled over all backends", mw, lw, ew)
    backends = {}
    for backend in sorted({p.backend for p in decode} | {p.backend for p in prefill}):
        d = [p for p in decode if p.backend == backend]
        pf = [p for p in prefill if p.backend == backend]
        own = _factors(d if len(d) >= MIN_POINTS else decode, pf if len(pf) >= MIN_POINTS else prefill,
                       f"fitted on {len(d)} decode and {len(pf)} prefill measurements", mw, lw, ew)
        if 0 < len(d) < MIN_POINTS:
            # Too few points for two factors: keep the pooled per-layer cost, fit the bandwidth share.
            own = dataclasses.replace(own, bandwidth_efficiency=1 / fit_bandwidth_only(d, pooled.layer_overhead_s, mw, lw),
                                      source=f"bandwidth efficiency fitted on {len(d)} decode measurement(s), "
                                             "per-layer cost pooled")
        backends[backend] = dataclasses.replace(
            own,
            decode_points=len(d),
            prefill_points=len(pf) if len(pf) >= MIN_POINTS else 0,
        )
    return SpeedModel(backends=backends, pooled=pooled, gpu_hop_s=gpu_hop_s, allreduce_s=allreduce_s,
                      moe_layer_weight=mw, linear_layer_weight=lw, expert_flops_weight=ew)
