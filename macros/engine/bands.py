"""Error bands for speed estimates: the engine's own held-out error, per class of setup.

A class groups setups the engine models alike (one NVIDIA GPU, several GPUs, weights partly in
system RAM, Apple, AMD, CPU only, other). Its band is the 90th percentile of the held-out
(leave-one-source-out) error, as a ratio: 90% of held-out measurements lay within
[estimate / factor, estimate x factor]. A class with fewer than MIN_BAND_POINTS measurements
is marked as resting on too few and gets a wide band.
"""

from __future__ import annotations

import dataclasses

MIN_BAND_POINTS = 5  # fewer held-out measurements than this: the class "rests on too few"
FEW_POINTS_FACTOR = 2.0  # the band of such a class: within a factor of two


@dataclasses.dataclass(frozen=True)
class SpeedBand:
    kind: str  # decode | prefill
    speed_class: str  # e.g. "one NVIDIA GPU"
    points: int  # held-out measurements behind the band
    factor: float  # ratio: 90% of held-out measurements lay within [value / factor, value x factor]
    median_factor: float  # the same at the median

    @property
    def enough(self) -> bool:
        return self.points >= MIN_BAND_POINTS

    def range(self, value: float) -> tuple[float, float]:
        return value / self.factor, value * self.factor

    def to_json(self) -> dict:
        return {"class": self.speed_class, "points": self.points, "p90_factor": self.factor,
                "median_factor": self.median_factor, "enough": self.enough}
