"""Predicted versus measured over the catalog's measurements, next to a naive baseline.

Kinds: file size (the catalog's published artifacts and file-size measurements), KV and
buffer memory, decode and prefill. Speed is shown twice: fitted on everything (in-sample)
and held out (each device predicted by a fit that never saw it), the honest figure for
hardware the engine has not seen.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from .engine import Engine, summarize_errors


def naive_bits(quant_id: str) -> float | None:
    """The bits a reader would guess from the name: Q4_K_M -> 4, F16 -> 16, FP8 -> 8."""
    m = re.search(r"(\d+)", quant_id.replace("MLX-", ""))
    return float(m.group(1)) if m else None


def device_class(engine: Engine, hardware_id: str | None, backend: str | None) -> str:
    if not hardware_id:
        return "-"
    hw = engine.catalog.hardware[hardware_id]
    backend = backend or hw.backend
    if hw.kind == "unified" and backend == "metal":
        tier = next((t for t in ("Ultra", "Max", "Pro") if t in hw.name), "base")
        return f"metal (Apple {tier})"
    return f"{backend} ({hw.kind})"


def naive_prediction(engine: Engine, m) -> float | None:
    """File size: parameters x nominal bits; decode: rated bandwidth / file size; prefill: rated FLOP/s / 2N."""
    bits = naive_bits(m.quant) if m.quant else None
    model = engine.catalog.models[m.model]
    if m.kind == "file_size" and bits:
        return model.params_total_official_b * 1e9 * bits / 8
    if m.kind == "decode" and m.quant:
        hw = engine.catalog.hardware[m.hardware]
        return hw.memory_bandwidth_gb_s * 1e9 * m.count / engine.artifact_bytes(m.model, m.quant)
    if m.kind == "prefill":
        hw = engine.catalog.hardware[m.hardware]
        if hw.fp16_tflops:
            return hw.fp16_tflops * 1e12 / (2 * model.params_active_official_b * 1e9)
    return None


@functools.lru_cache(maxsize=4)
def accuracy_table(engine: Engine) -> dict[str, Any]:
    """Rows and summaries: per kind, per device class; in-sample, held out and naive."""
    fitted = engine.accuracy_rows(held_out=False)
    held = engine.accuracy_rows(held_out=True)
    rows = []
    for f, h in zip(fitted, held):
        m = f["measurement"]
        if m.kind == "file_size":
            continue  # published file sizes are checked once, as artifacts, below
        naive = naive_prediction(engine, m)
        rows.append({
            "id": m.id, "kind": m.kind, "model": m.model, "quant": m.quant, "hardware": m.hardware,
            "count": m.count, "class": device_class(engine, m.hardware, m.backend), "measured": m.value,
            "unit": m.unit, "predicted": f["predicted"], "error_pct": f["error_pct"],
            "held_out_predicted": h["predicted"], "held_out_error_pct": h["error_pct"],
            "naive": naive, "naive_error_pct": None if naive is None else 100 * (naive - m.value) / m.value,
            "memory_part": m.memory_part,
        })
    for a in engine.catalog.artifacts.values():
        if a.reference_for:
            continue  # it defines a quant's bits: checking against it would be circular
        predicted = engine.artifact_bytes(a.model, a.quant, a.includes_vision, a.includes_mtp)
        bits = naive_bits(a.quant)
        naive = engine.catalog.models[a.model].params_total_official_b * 1e9 * bits / 8 if bits else None
        err = 100 * (predicted - a.size_bytes) / a.size_bytes
        rows.append({
            "id": a.id, "kind": "file_size", "model": a.model, "quant": a.quant, "hardware": None, "count": 1,
            "class": "-", "measured": a.size_bytes, "unit": "bytes", "predicted": predicted, "error_pct": err,
            "held_out_predicted": predicted, "held_out_error_pct": err, "naive": naive,
            "naive_error_pct": None if naive is None else 100 * (naive - a.size_bytes) / a.size_bytes,
            "memory_part": None,
        })
    summary = []
    kinds = ["file_size", "memory", "decode", "prefill"]
    for kind in kinds:
        group = [r for r in rows if r["kind"] == kind]
        classes = sorted({r["class"] for r in group})
        for cls in ["all"] + (classes if kind in ("decode", "prefill") else []):
            sel = [r for r in group if cls == "all" or r["class"] == cls]
            if kind == "memory":
                sel = [r for r in sel if r["memory_part"] in ("kv_cache", "recurrent_state", "compute_buffer")]
            summary.append({
                "kind": kind, "class": cls,
                "engine": summarize_errors([r["error_pct"] for r in sel if r["error_pct"] is not None]),
                "held_out": summarize_errors([r["held_out_error_pct"] for r in sel if r["held_out_error_pct"] is not None]),
                "naive": summarize_errors([r["naive_error_pct"] for r in sel if r["naive_error_pct"] is not None]),
            })
    sm = engine.speed_model
    return {"rows": rows, "summary": summary, "factors": factor_table(engine),
            "layer_weights": {"moe": sm.moe_layer_weight, "linear_attention": sm.linear_layer_weight,
                              "expert_flops": sm.expert_flops_weight}}


def factor_table(engine: Engine) -> list[dict[str, Any]]:
    sm = engine.speed_model
    out = []
    for backend, f in [*sm.backends.items(), ("pooled", sm.pooled)]:
        out.append({"backend": backend, "bandwidth_efficiency": f.bandwidth_efficiency,
                    "layer_overhead_us": f.layer_overhead_s * 1e6, "compute_efficiency": f.compute_efficiency,
                    "decode_points": f.decode_points, "prefill_points": f.prefill_points, "source": f.source})
    return out


def _fmt(s: dict) -> str:
    if not s["count"]:
        return f"{'-':>4} {'-':>7} {'-':>7}"
    return f"{s['count']:>4} {s['median']:>6.1f}% {s['p90']:>6.1f}%"


def print_accuracy(engine: Engine, as_json: bool = False, rows: bool = False) -> int:
    table = accuracy_table(engine)
    if as_json:
        print(json.dumps(table, indent=2, sort_keys=True, default=str))
        return 0
    print("Absolute percentage error: count, median, 90th percentile")
    print(f"{'kind':10} {'device class':24} | {'engine (fitted)':>20} | {'engine (held out)':>20} | {'naive baseline':>20}")
    for s in table["summary"]:
        print(f"{s['kind']:10} {s['class']:24} | {_fmt(s['engine']):>20} | {_fmt(s['held_out']):>20} | {_fmt(s['naive']):>20}")
    print("\nFitted speed factors (per backend)")
    for f in table["factors"]:
        ce = "-" if f["compute_efficiency"] is None else f"{f['compute_efficiency']:.2f}"
        print(f"  {f['backend']:8} bandwidth efficiency {f['bandwidth_efficiency']:.2f}, per-layer cost "
              f"{f['layer_overhead_us']:.1f} us, compute efficiency {ce}  ({f['source']})")
    w = table["layer_weights"]
    print(f"  fixed cost of an MoE layer: 1 + {w['moe']:.2f} plain layers; of a Gated DeltaNet layer: "
          f"1 + {w['linear_attention']:.2f}; prefill cost of a routed-expert FLOP: 1 + {w['expert_flops']:.2f}"
          " dense FLOPs (shared by all backends)")
    if rows:
        print()
        for r in table["rows"]:
            if r["error_pct"] is None:
                continue
            print(f"{r['id']:12} {r['kind']:9} {r['model']:22} {str(r['quant']):12} {str(r['hardware']):24} "
                  f"x{r['count']} measured {r['measured']:.4g} predicted {r['predicted']:.4g} ({r['error_pct']:+.1f}%)"
                  f" held-out {r['held_out_error_pct']:+.1f}%")
    return 0
