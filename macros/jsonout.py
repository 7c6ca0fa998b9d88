"""Strict JSON for every `--json` output: NaN and infinities become null, never the invalid `NaN`/`Infinity`."""

from __future__ import annotations

import json
import math
from typing import Any


def strict_json(data: Any, **kw: Any) -> str:
    """json.dumps that every parser reads: non-finite floats become null, and allow_nan=False catches the rest."""
    return json.dumps(finite_only(data), allow_nan=False, **kw)


def finite_only(x: Any) -> Any:
    """`x` with every NaN or infinite float (in dicts, lists and tuples) replaced by None."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: finite_only(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_only(v) for v in x]
    return x
