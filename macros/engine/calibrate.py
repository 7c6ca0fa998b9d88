"""Fit the speed model's few factors to the catalog's measurements.

Per backend, decode time per token is modelled as  a * (bytes / rated bandwidth) + b * layers,
so a = 1 / bandwidth efficiency and b = the fixed cost per layer; prefill time per token as
c * (FLOPs / rated FLOP/s), so c = 1 / compute efficiency. Each is a weighted least-squares
fit on relative error, over single-device measurements where the model sat fully on the device.
Backends with fewer than MIN_POINTS measurements use the fit pooled over all of them.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterable, Sequence

from .speed import BackendFactors, SpeedModel

MIN_POINTS = 3


@dataclasses.dataclass(frozen=True)
class DecodePoint:
    backend: str
    hardware: str
    bytes_over_bandwidth_s: float  # bytes read per token / rated bandwidth
    layers: int
    seconds_per_token: float  # measured: 1 / tok/s


@dataclasses.dataclass(frozen=True)
class PrefillPoint:
    backend: str
    hardware: str
    flops_over_rate_s: float  # FLOPs per token / rated FLOP/s
    seconds_per_token: float


def fit_decode(points: Sequence[DecodePoint]) -> tuple[float, float]:
    """(a, b) minimising sum(((a x + b y) / T - 1)^2) with a >= 1 and b >= 0."""
    sxx = sxy = syy = sxt = syt = 0.0
    for p in points:
        x, y, w = p.bytes_over_bandwidth_s / p.seconds_per_token, p.layers / p.seconds_per_token, 1.0
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
        a, b = min(candidates, key=lambda ab: _decode_loss(points, *ab))
    return a, b


def _decode_loss(points: Iterable[DecodePoint], a: float, b: float) -> float:
    return sum(((a * p.bytes_over_bandwidth_s + b * p.layers) / p.seconds_per_token - 1) ** 2 for p in points)


def fit_prefill(points: Sequence[PrefillPoint]) -> float:
    """c minimising sum((c x / T - 1)^2), at least 1."""
    num = sum(p.flops_over_rate_s / p.seconds_per_token for p in points)
    den = sum((p.flops_over_rate_s / p.seconds_per_token) ** 2 for p in points)
    return max(num / den, 1.0) if den else 1.0


def _factors(decode: Sequence[DecodePoint], prefill: Sequence[PrefillPoint], source: str) -> BackendFactors:
    a, b = fit_decode(decode) if decode else (1.0, 0.0)
    c = fit_prefill(prefill) if prefill else None
    return BackendFactors(1 / a, b, (1 / c) if c else None, len(decode), len(prefill), source)


def fit_speed_model(decode: Sequence[DecodePoint], prefill: Sequence[PrefillPoint], gpu_hop_s: float,
                    allreduce_s: dict[str, float]) -> SpeedModel:
    pooled = _factors(decode, prefill, "pooled over all backends")
    backends = {}
    for backend in sorted({p.backend for p in decode} | {p.backend for p in prefill}):
        d = [p for p in decode if p.backend == backend]
        pf = [p for p in prefill if p.backend == backend]
        own = _factors(d if len(d) >= MIN_POINTS else decode, pf if len(pf) >= MIN_POINTS else prefill,
                       f"fitted on {len(d)} decode and {len(pf)} prefill measurements")
        backends[backend] = dataclasses.replace(
            own,
            decode_points=len(d) if len(d) >= MIN_POINTS else 0,
            prefill_points=len(pf) if len(pf) >= MIN_POINTS else 0,
        )
    return SpeedModel(backends=backends, pooled=pooled, gpu_hop_s=gpu_hop_s, allreduce_s=allreduce_s)


def leave_one_hardware_out(decode: Sequence[DecodePoint], prefill: Sequence[PrefillPoint],
                           predict: Callable[[SpeedModel, object], float | None], rows: Sequence[tuple[object, str]],
                           gpu_hop_s: float, allreduce_s: dict[str, float]) -> dict[int, float | None]:
    """Predictions for each row from a model fitted without any measurement of that row's hardware."""
    out: dict[int, float | None] = {}
    cache: dict[str, SpeedModel] = {}
    for i, (row, hardware) in enumerate(rows):
        if hardware not in cache:
            cache[hardware] = fit_speed_model([p for p in decode if p.hardware != hardware],
                                              [p for p in prefill if p.hardware != hardware], gpu_hop_s, allreduce_s)
        out[i] = predict(cache[hardware], row)
    return out
