"""Predicted versus measured over the catalog's measurements, next to a naive baseline.

Kinds: file size (the catalog's published artifacts and file-size measurements), KV and
buffer memory, decode and prefill. Speed is shown twice: fitted on everything (in-sample)
and held out leave-one-source-out (each measurement predicted by a fit that never saw its
table or thread), the honest figure for setups the engine has not seen. Errors are ratios:
|ln(predicted / measured)|, printed as the percentage exp(x) - 1, so -30% and +30% are a factor
1.3 alike; the sign convention is that of the error column: positive when the engine is above.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any

from .engine import Engine
from .engine.estimate import BAND_CLASSES

QWEN_FAMILY_PREFIXES = ("qwen3.5-", "qwen3.6-", "qwen3-next", "qwen3-coder-next")


def naive_bits(quant_id: str) -> float | None:
    """The bits a reader would guess from the name: Q4_K_M -> 4, F16 -> 16, FP8 -> 8."""
    m = re.search(r"(\d+)", quant_id.replace("MLX-", ""))
    return float(m.group(1)) if m else None


def family(model_id: str) -> str:
    return "Qwen 3.5 family" if model_id.startswith(QWEN_FAMILY_PREFIXES) else "other models"


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
            return hw.fp16_tflops * 1e12 * m.count / (2 * model.params_active_official_b * 1e9)
    return None


def _pct(predicted: float | None, measured: float) -> float | None:
    return None if predicted is None else 100 * (predicted - measured) / measured


def summarize_ratio_errors(predicted_measured: list[tuple[float, float]]) -> dict[str, float]:
    """Count, median and 90th percentile of the ratio error |ln(p / m)|, as percentages exp(x) - 1."""
    logs = sorted(abs(math.log(p / m)) for p, m in predicted_measured if p and m)
    if not logs:
        return {"count": 0, "median": float("nan"), "p90": float("nan")}

    def q(f):
        return 100 * (math.exp(logs[min(len(logs) - 1, int(round(f * (len(logs) - 1))))]) - 1)
    return {"count": len(logs), "median": q(0.5), "p90": q(0.9)}


@functools.lru_cache(maxsize=4)
def accuracy_table(engine: Engine) -> dict[str, Any]:
    """Rows and summaries: per kind, per class and family; in-sample, held out and naive."""
    fitted = engine.accuracy_rows(held_out=False)
    held = engine.accuracy_rows(held_out=True)
    rows = []
    for f, h in zip(fitted, held):
        m = f["measurement"]
        if m.kind == "file_size":
            continue  # published file sizes are checked once, as artifacts, below
        naive = naive_prediction(engine, m)
        speed = m.kind in ("decode", "prefill")
        rows.append({
            "id": m.id, "kind": m.kind, "model": m.model, "quant": m.quant, "hardware": m.hardware,
            "count": m.count, "class": engine.measurement_class(m) if speed and m.hardware else "-",
            "family": family(m.model), "source": engine.source_group(m), "measured": m.value,
            "unit": m.unit, "predicted": f["predicted"], "error_pct": f["error_pct"],
            "held_out_predicted": h["predicted"], "held_out_error_pct": h["error_pct"],
            "naive": naive, "naive_error_pct": _pct(naive, m.value), "memory_part": m.memory_part,
        })
    for a in engine.catalog.artifacts.values():
        if a.reference_for:
            continue  # it defines a quant's bits: checking against it would be circular
        predicted = engine.artifact_bytes(a.model, a.quant, a.includes_vision, a.includes_mtp)
        bits = naive_bits(a.quant)
        naive = engine.catalog.models[a.model].params_total_official_b * 1e9 * bits / 8 if bits else None
        rows.append({
            "id": a.id, "kind": "file_size", "model": a.model, "quant": a.quant, "hardware": None, "count": 1,
            "class": "-", "family": family(a.model), "source": "-", "measured": a.size_bytes, "unit": "bytes",
            "predicted": predicted, "error_pct": _pct(predicted, a.size_bytes), "held_out_predicted": predicted,
            "held_out_error_pct": _pct(predicted, a.size_bytes), "naive": naive,
            "naive_error_pct": _pct(naive, a.size_bytes), "memory_part": None,
        })
    summary = []
    for kind in ("file_size", "memory", "decode", "prefill"):
        group = [r for r in rows if r["kind"] == kind]
        if kind == "memory":
            group = [r for r in group if r["memory_part"] in ("kv_cache", "recurrent_state", "compute_buffer")]
        cuts = [("all", "all")]
        if kind in ("decode", "prefill"):
            cuts += [(fam, "all") for fam in ("Qwen 3.5 family", "other models")]
            cuts += [(fam, cls) for fam in ("Qwen 3.5 family", "other models") for cls in BAND_CLASSES]
        for fam, cls in cuts:
            sel = [r for r in group if (fam == "all" or r["family"] == fam) and (cls == "all" or r["class"] == cls)]
            if not sel and cls != "all":
                continue
            summary.append({
                "kind": kind, "family": fam, "class": cls,
                "engine": summarize_ratio_errors([(r["predicted"], r["measured"]) for r in sel]),
                "held_out": summarize_ratio_errors([(r["held_out_predicted"], r["measured"]) for r in sel]),
                "naive": summarize_ratio_errors([(r["naive"], r["measured"]) for r in sel]),
            })
    sm = engine.speed_model
    bands = [{"kind": b.kind, "class": b.speed_class, "points": b.points, "p90_factor": b.factor,
              "median_factor": b.median_factor, "enough": b.enough} for b in engine.band_table.values()]
    return {"rows": rows, "summary": summary, "factors": factor_table(engine), "bands": bands,
            "shared": {"moe_layer_weight": sm.moe_layer_weight, "kv_quant_read_factor": sm.kv_quant_read_factor,
                       "offload_round_trip_us": sm.offload_sync_s * 1e6,
                       "offload_prefill_share": dict(sm.offload_prefill_share)}}


def factor_table(engine: Engine) -> list[dict[str, Any]]:
    sm = engine.speed_model
    out = []
    for key, f in [*sm.factors_by_key.items(), ("pooled", sm.pooled)]:
        out.append({"backend": key, "bandwidth_efficiency": f.bandwidth_efficiency,
                    "layer_overhead_us": f.layer_overhead_s * 1e6, "token_overhead_us": f.token_overhead_s * 1e6,
                    "linear_layer_us": f.linear_layer_s * 1e6, "compute_efficiency": f.compute_efficiency,
                    "linear_layer_prefill_gflop": f.linear_layer_prefill_flops / 1e9,
                    "expert_call_gflop": f.expert_call_flops / 1e9,
                    "attention_weight": f.attention_flops_weight,
                    "decode_points": f.decode_points, "prefill_points": f.prefill_points, "source": f.source})
    return out


def _fmt(s: dict) -> str:
    if not s["count"]:
        return f"{'-':>4} {'-':>7} {'-':>7}"
    return f"{s['count']:>4} {s['median']:>6.1f}% {s['p90']:>6.1f}%"


def _finite(x):
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x


def print_accuracy(engine: Engine, as_json: bool = False, rows: bool = False) -> int:
    table = accuracy_table(engine)
    if as_json:
        print(json.dumps(_finite(table), indent=2, sort_keys=True, default=str, allow_nan=False))
        return 0
    print("Ratio error |ln(predicted / measured)| as a percentage: count, median, 90th percentile.")
    print("Held out = leave-one-source-out: each measurement predicted by a fit without its table or thread.")
    print(f"{'kind':9} {'models':16} {'class':17} | {'engine (fitted)':>20} | {'engine (held out)':>20} | "
          f"{'naive baseline':>20}")
    for s in table["summary"]:
        print(f"{s['kind']:9} {s['family']:16} {s['class']:17} | {_fmt(s['engine']):>20} | "
              f"{_fmt(s['held_out']):>20} | {_fmt(s['naive']):>20}")
    print("\nError bands printed beside every speed (90% of held-out measurements of the class lay within):")
    for b in table["bands"]:
        few = "" if b["enough"] else "  (too few measurements: shown wide)"
        print(f"  {b['kind']:8} {b['class']:17} x/ {b['p90_factor']:.2f} on {b['points']} measurements{few}")
    print("\nFitted speed factors (per class of device: backend, HBM parts, runtime)")
    for f in table["factors"]:
        ce = "-" if f["compute_efficiency"] is None else f"{f['compute_efficiency']:.2f}"
        print(f"  {f['backend']:14} bandwidth {f['bandwidth_efficiency']:.2f}, per layer {f['layer_overhead_us']:.1f} us, "
              f"per Gated DeltaNet layer +{f['linear_layer_us']:.1f} us, per token {f['token_overhead_us']:.0f} us; "
              f"compute {ce}, attention x{f['attention_weight']:.2f}, Gated DeltaNet {f['linear_layer_prefill_gflop']:.2f} GFLOP, expert call "
              f"{f['expert_call_gflop']:.3f} GFLOP  ({f['source']})")
    w = table["shared"]
    print(f"  shared: an MoE layer counts 1 + {w['moe_layer_weight']:.2f} layers; a q8_0/q4_0 KV byte costs "
          f"{w['kv_quant_read_factor']:.1f} f16 bytes; "
          f"round trip per layer with experts in RAM {w['offload_round_trip_us']:.0f} us; RAM-held weights stream "
          "through a micro-batch at " + ", ".join(f"{k} offload {v:.0%}" for k, v in w["offload_prefill_share"].items())
          + " of the host's RAM bandwidth")
    if rows:
        print()
        for r in table["rows"]:
            if r["error_pct"] is None:
                continue
            held = "" if r["held_out_error_pct"] is None else f" held-out {r['held_out_error_pct']:+.1f}%"
            print(f"{r['id']:12} {r['kind']:9} {r['model']:22} {str(r['quant']):12} {str(r['hardware']):24} "
                  f"x{r['count']} measured {r['measured']:.4g} predicted {r['predicted']:.4g} ({r['error_pct']:+.1f}%)"
                  f"{held}")
    return 0
