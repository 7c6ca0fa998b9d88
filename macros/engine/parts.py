"""Named breakdowns: a quantity as labelled parts whose total is their sum."""

from __future__ import annotations

import dataclasses
from typing import Mapping


@dataclasses.dataclass(frozen=True)
class Parts:
    """Named parts of one quantity (all in `unit`), with the formula of each part."""

    unit: str
    values: Mapping[str, float]
    formulas: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def total(self) -> float:
        return float(sum(self.values.values()))

    def __getitem__(self, name: str) -> float:
        return self.values[name]

    def get(self, name: str, default: float = 0.0) -> float:
        return self.values.get(name, default)

    def scaled(self, factors: Mapping[str, float]) -> "Parts":
        """The same parts with some multiplied by a factor."""
        return Parts(self.unit, {k: v * factors.get(k, 1.0) for k, v in self.values.items()}, self.formulas)

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.values.items()}


class EngineInputError(ValueError):
    """An impossible input (negative context, a context above the model's limit, ...)."""
