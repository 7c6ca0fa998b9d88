"""Checks that need more than one record or a stated range: plausible but wrong data stops here.

Run by the loader on every load (so `make check`, every build and every command see them). Each
problem names the file, the line and the field. The ranges are stated here, in one place, with why.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import typing
from typing import Any, Callable

from pydantic import BaseModel

# The computed parameter counts against the official figures, percent, unless a model states its own
# (Model.params_total_tolerance_pct / params_active_tolerance_pct with params_tolerance_why).
DEFAULT_PARAMS_TOLERANCE_PCT = {"total": 3.0, "active": 5.0}

# Rated bandwidth per memory type, GB/s: from the slowest part of that type to the fastest (with room).
# Checked in order: the first type named in `memory_type` decides.
BANDWIDTH_GB_S = [
    ("HBM4", 4000, 30000), ("HBM3e", 2000, 9000), ("HBM3", 1500, 5600), ("HBM2e", 1000, 2200),
    ("HBM2", 250, 1700), ("GDDR7", 300, 2000), ("GDDR6X", 400, 1150), ("GDDR6", 100, 1100),
    ("GDDR5X", 250, 600), ("GDDR5", 40, 600), ("LPDDR", 20, 1500), ("DDR5", 30, 1800), ("DDR4", 10, 450),
    ("DDR3", 5, 160),
]
# Without a memory type, per kind of device.
BANDWIDTH_BY_KIND_GB_S = {"gpu": (20, 30000), "unified": (20, 1500), "cpu": (5, 2000)}
# "(384-bit, 21 Gbps)": bus width x pin rate / 8 is the rated bandwidth; the record must agree within this.
BUS_TOLERANCE = 0.03
# Installed memory as sold, GB, per kind: above these it is a unit mistake (MB typed as GB, or a bandwidth).
CAPACITY_GB = {"gpu": 400, "unified": 1024, "cpu": 32768}

# Every constant the engine reads, with its plausible range. A constant not listed here states its own
# range on the record (min, max). Patterns (fnmatch) cover families of constants.
CONSTANT_RANGES: dict[str, tuple[float, float]] = {
    "electricity_usd_per_kwh": (0.01, 2.0),
    "household_circuit_w": (500, 5000),
    "household_circuit_peak_w": (500, 5000),
    "macos_gpu_wired_fraction_*": (0.3, 1.0),
    "hours_per_month_default": (1, 744),  # 744 = 31 x 24
    "gpu_runtime_overhead_mib": (0, 16384),
    "unified_gpu_fraction_other": (0.3, 1.0),
    "os_reserve_gib": (0, 64),
    "llama_cpp_ubatch_tokens": (1, 65536),
    "llama_cpp_flash_attention": (0, 1),
    "gpu_hop_us": (0, 10000),
    "allreduce_*_us": (0, 10000),
    "advice_*_decode_min_tok_s": (0.1, 1000),
    "advice_*_context_tokens": (256, 16_777_216),
    "advice_headroom_min_gib": (0, 64),
    "advice_headroom_min_share": (0, 0.5),
    "advice_*_kld_max": (0, 5),
    "advice_kld_*": (0, 5),
}
# Constants the engine cannot do without (a missing one is an error at load, not a KeyError later).
REQUIRED_CONSTANTS = ("electricity_usd_per_kwh", "hours_per_month_default", "gpu_runtime_overhead_mib",
                      "unified_gpu_fraction_other", "os_reserve_gib", "llama_cpp_ubatch_tokens",
                      "default_cpu_platform")

# Page names: a record id becomes models/<id>.md or hardware/<id>.md. These would collide with an index
# page or be unusable on Windows.
RESERVED_IDS = {"index", "con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
NAME_MAX = 200  # characters in a `name`; other strings stop at the schema's str_max_length

# Claim outputs the checker knows (macros/claims.py), and those that name another record after a colon.
CLAIM_OUTPUTS = {
    "weights_gb", "weights_gib", "file_size_gb", "bits_per_weight", "memory_total_gb", "kv_cache_gb",
    "recurrent_state_gb", "vision_gb", "headroom_gb", "fits", "runs", "offloaded_pct", "offloaded_gb",
    "decode_tok_s", "prefill_tok_s", "max_context", "params_total_b", "params_active_b", "params_routed_experts_b",
    "family_sizes",
    "hours_per_month_max", "power_w", "hardware_price_usd", "electricity_usd_per_month",
}
CLAIM_OUTPUT_TARGETS = {"weights_gb_saved_vs": "quants", "speedup_vs": "hardware", "speedup_vs_rig": "rigs",
                        "speedup_vs_model": "models"}
FACT_KINDS = {"model": "models", "hardware": "hardware", "rig": "rigs"}

Report = Callable[[str, str, str, str], None]  # (kind, record id, dotted field, message)


def today() -> dt.date:
    return dt.date.today()


def check(records: dict[str, dict[str, Any]], report: Report, record_types: dict[str, type],
          where: dict[tuple[str, str], tuple[str, int]] | None = None) -> None:
    """Every cross-record and range check; `report(kind, id, field, message)` for each problem. `where`
    ((kind, id) -> (file, line)) lets a message name the other record of a pair."""
    _ids(records, report, where or {})
    _dates_and_names(records, report)
    _params(records, report)
    _hardware(records, report)
    _constants(records, report)
    _claims(records, report, record_types)


# --------------------------------------------------------------------------- ids


def _at(where: dict, kind: str, rid: str) -> str:
    file, line = where.get((kind, rid), ("?", 0))
    return f"(at {file}:{line})"


def _ids(records: dict, report: Report, where: dict) -> None:
    for kind, recs in records.items():
        folded: dict[str, str] = {}
        for rid in recs:
            low = rid.lower()
            if low in RESERVED_IDS or low.split(".")[0] in RESERVED_IDS - {"index"}:
                report(kind, rid, "id", f"{rid!r} is a reserved name (a page named it would be lost or unusable)")
            if low in folded and folded[low] != rid:
                report(kind, rid, "id", f"{rid!r} differs from {folded[low]!r} only in case: the two pages would "
                                        f"collide on a case-insensitive file system {_at(where, kind, folded[low])}")
            folded.setdefault(low, rid)
    # hardware and rigs share the hardware/ pages
    hw = {rid.lower(): rid for rid in records.get("hardware", {})}
    for rid in records.get("rigs", {}):
        if rid.lower() in hw:
            report("rigs", rid, "id", f"{rid!r} is also a hardware id ({hw[rid.lower()]!r}); both would be "
                                      f"hardware/{rid}.md {_at(where, 'hardware', hw[rid.lower()])}")


# --------------------------------------------------------------------------- dates and names


def _walk(value: Any, path: tuple = ()):
    """(dotted path, value) for every leaf of a record."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name), path + (name,))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk(item, path + (i,))
    else:
        yield path, value


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def _dates_and_names(records: dict, report: Report) -> None:
    now = today()
    for kind, recs in records.items():
        for rid, rec in recs.items():
            for path, value in _walk(rec):
                if isinstance(value, dt.date) and value > now:
                    report(kind, rid, _dotted(path), f"{value.isoformat()} is in the future (today is {now.isoformat()})")
            name = getattr(rec, "name", None)
            if isinstance(name, str) and len(name) > NAME_MAX:
                report(kind, rid, "name", f"{len(name):,} characters; a name stays under {NAME_MAX}")


# --------------------------------------------------------------------------- models


def _params(records: dict, report: Report) -> None:
    from ..engine.params import count_params  # the engine's own count: the figure every page shows
    for mid, m in records.get("models", {}).items():
        counts = count_params(m.architecture)
        for which, computed, official, own in (
                ("total", counts.total.total, m.params_total_official_b, m.params_total_tolerance_pct),
                ("active", counts.active.total, m.params_active_official_b, m.params_active_tolerance_pct)):
            tolerance = own if own is not None else DEFAULT_PARAMS_TOLERANCE_PCT[which]
            off_pct = 100 * (computed / 1e9 / official - 1)
            if abs(off_pct) > tolerance:
                report("models", mid, f"params_{which}_official_b",
                       f"the architecture gives {computed / 1e9:,.3f} B {which} parameters, {off_pct:+.1f}% from the "
                       f"official {official:g} B (allowed ±{tolerance:g}%): check the architecture fields, or state "
                       f"params_{which}_tolerance_pct with params_tolerance_why")


# --------------------------------------------------------------------------- hardware


_BUS = re.compile(r"(\d+)-bit,\s*([\d.]+)\s*Gbps", re.I)


def _hardware(records: dict, report: Report) -> None:
    for hid, hw in records.get("hardware", {}).items():
        bw, mtype = hw.memory_bandwidth_gb_s, hw.memory_type or ""
        limit = CAPACITY_GB.get(hw.kind)
        if limit and hw.memory_gb > limit:
            report("hardware", hid, "memory_gb", f"{hw.memory_gb:g} GB is above any {hw.kind} machine's memory "
                                                 f"(at most {limit:,} GB): a unit mistake (MB, or a bandwidth)?")
        bus = _BUS.search(mtype)
        if bus:
            expected = int(bus.group(1)) / 8 * float(bus.group(2))
            if abs(bw / expected - 1) > BUS_TOLERANCE:
                report("hardware", hid, "memory_bandwidth_gb_s",
                       f"{bw:g} GB/s, but {bus.group(0)} gives {expected:,.1f} GB/s (bus width x rate / 8)")
                continue
        low, high = BANDWIDTH_BY_KIND_GB_S.get(hw.kind, (5, 30000))
        label = f"a {hw.kind}"
        for name, lo, hi in BANDWIDTH_GB_S:
            if name.lower() in mtype.lower():
                low, high, label = lo, hi, name
                break
        if not low <= bw <= high:
            report("hardware", hid, "memory_bandwidth_gb_s",
                   f"{bw:g} GB/s is outside {label} memory's range ({low:,}-{high:,} GB/s)")


# --------------------------------------------------------------------------- constants


def constant_range(cid: str, record: Any = None) -> tuple[float, float] | None:
    if record is not None and record.min is not None and record.max is not None:
        return record.min, record.max
    if cid in CONSTANT_RANGES:
        return CONSTANT_RANGES[cid]
    for pattern, span in CONSTANT_RANGES.items():
        if fnmatch.fnmatchcase(cid, pattern):
            return span
    return None


def _constants(records: dict, report: Report) -> None:
    constants = records.get("constants", {})
    if not constants and not records.get("models"):
        return  # nothing loaded (the loader reports the unreadable files)
    for cid in REQUIRED_CONSTANTS:
        if cid not in constants:
            report("constants", "", cid, "missing constant: the engine reads it; add it to catalog/constants/")
    for cid, c in constants.items():
        if isinstance(c.value, str):
            if c.unit.strip() == "hardware id":
                target = records.get("hardware", {}).get(c.value)
                if target is None:
                    report("constants", cid, "value", f"unknown hardware id {c.value!r}")
                elif cid == "default_cpu_platform" and target.kind != "cpu":
                    report("constants", cid, "value", f"{c.value!r} is not a cpu platform record (kind cpu)")
            elif constant_range(cid, c) is not None:
                report("constants", cid, "value", f"expected a number, found {c.value[:60]!r}")
            continue
        span = constant_range(cid, c)
        if span is None:
            report("constants", cid, "value", "no plausible range: give the record min and max (or add it to "
                                              "CONSTANT_RANGES in macros/catalog/plausible.py)")
        elif not span[0] <= c.value <= span[1]:
            report("constants", cid, "value", f"{c.value:g} {c.unit} is outside its plausible range "
                                              f"{span[0]:g}-{span[1]:g}")


# --------------------------------------------------------------------------- claims


def _field_type(cls: Any, name: str) -> Any | None:
    """The annotation of field `name` on a pydantic class, unwrapped from Optional/list; None if no field."""
    fields = getattr(cls, "model_fields", None)
    if not fields or name not in fields:
        return None
    ann = fields[name].annotation
    for _ in range(3):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            break
        if not args:
            break
        ann = args[0]
    return ann


def _claims(records: dict, report: Report, record_types: dict[str, type]) -> None:
    models = records.get("models", {})
    for cid, claim in records.get("claims", {}).items():
        q = getattr(claim, "query", None)
        if q is None:
            continue
        out = q.output
        if out.startswith("fact:"):
            kind, _, path = out[len("fact:"):].partition(".")
            if kind not in FACT_KINDS or not path:
                report("claims", cid, "query.output", f"a fact path is fact:<{'|'.join(FACT_KINDS)}>.<field>, "
                                                      f"found {out!r}")
                continue
            if not getattr(q, kind, None):
                report("claims", cid, "query.output", f"{out!r} reads a {kind} record: give query.{kind}")
            cls: Any = record_types[FACT_KINDS[kind]]
            for part in path.split("."):
                nxt = _field_type(cls, part)
                if nxt is None:
                    report("claims", cid, "query.output", f"no field {part!r} in {out!r} "
                                                          f"({getattr(cls, '__name__', cls)} records)")
                    break
                cls = nxt
        elif ":" in out:
            head, _, target = out.partition(":")
            kind = CLAIM_OUTPUT_TARGETS.get(head)
            if kind is None:
                report("claims", cid, "query.output", f"unknown output {out!r}; known prefixes: "
                                                      f"{', '.join(sorted(CLAIM_OUTPUT_TARGETS))}")
            elif target not in records.get(kind, {}):
                report("claims", cid, "query.output", f"unknown {kind} id {target!r} in {out!r}")
        elif out not in CLAIM_OUTPUTS:
            near = sorted(CLAIM_OUTPUTS, key=lambda o: _distance(o, out))[:3]
            report("claims", cid, "query.output", f"unknown output {out!r}; did you mean {', '.join(near)}?")
        m = models.get(q.model) if q.model else None
        if m is not None and q.context is not None:
            limit = m.context_extended or m.architecture.max_position_embeddings
            if q.context > limit:
                report("claims", cid, "query.context", f"{q.context:,} tokens is above {q.model}'s limit of {limit:,}")


def _distance(a: str, b: str) -> int:
    """Edit distance (for a suggestion)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
