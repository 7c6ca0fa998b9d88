"""The engine's front: one estimate (memory, fit, speed) for a model, a quant and a machine.

`Engine` wraps a loaded catalog and caches what is computed once per build (parameter
counts, quant bits, the fitted speed model). Everything here is pure computation.
"""

from __future__ import annotations

import dataclasses
import functools
import statistics
from typing import Any

from ..catalog import Catalog
from ..catalog.schema import Measurement, Model
from . import calibrate
from .machine import Machine, machine_from_hardware, machine_from_rig
from .memory import (QuantBits, check_context, compute_buffer_bytes, kv_bytes_per_token, kv_cache_bytes,
                     recurrent_state_bytes, resolve_quant, weight_bytes)
from .params import ParamCounts, count_params, is_moe, n_linear_attention_layers
from .parts import EngineInputError, Parts
from .placement import ModelMemory, Placement, Settings, place, unified_fraction
from .speed import (BackendFactors, SpeedModel, SpeedResult, decode_bytes_per_token, decode_speed,
                    prefill_expert_flops_per_token, prefill_flops_per_token, prefill_speed)

KV_TYPES = ("f16", "q8_0", "q4_0")


@dataclasses.dataclass(frozen=True)
class Estimate:
    model_id: str
    quant_id: str
    context: int
    kv_type: str
    batch: int
    params: ParamCounts
    bits: QuantBits
    weights: Parts  # bytes by part
    memory: Parts  # bytes: weights, kv_cache, recurrent_state, compute_buffer, runtime_overhead, vision
    machine: Machine | None
    placement: Placement | None
    decode: SpeedResult | None
    prefill: SpeedResult | None
    mode: str
    assumptions: tuple[str, ...]

    @property
    def decode_tok_s(self) -> float | None:
        return self.decode.tok_s if self.decode else None

    @property
    def prefill_tok_s(self) -> float | None:
        return self.prefill.tok_s if self.prefill else None

    def to_json(self) -> dict[str, Any]:
        p = self.placement
        mem = self.memory.as_dict()
        return {
            "model": self.model_id,
            "quant": self.quant_id,
            "context": self.context,
            "kv_type": self.kv_type,
            "batch": self.batch,
            "hardware": self.machine.id if self.machine else None,
            "params_total": self.params.total.total,
            "params_active": self.params.active.total,
            "params_parts": {"total": self.params.total.as_dict(), "active": self.params.active.as_dict()},
            "bits_per_weight": {"body": self.bits.body_bpw, "embeddings": self.bits.embedding_bpw,
                                "output": self.bits.output_bpw},
            "memory": {
                "weights_bytes": mem["weights"],
                "kv_cache_bytes": mem["kv_cache"],
                "recurrent_state_bytes": mem["recurrent_state"],
                "compute_buffer_bytes": mem["compute_buffer"],
                "overhead_bytes": mem["compute_buffer"] + mem["runtime_overhead"],
                "runtime_overhead_bytes": mem["runtime_overhead"],
                "vision_bytes": mem["vision"],
                "total_bytes": self.memory.total,
                "weights_parts": self.weights.as_dict(),
            },
            "fit": None if p is None else {
                "fits": p.fits,
                "runs": p.runs,
                "placement": p.placement,
                "gpu_bytes": p.gpu_bytes,
                "device_bytes": list(p.device_bytes),
                "ram_bytes": p.ram_bytes,
                "offloaded_fraction": p.offloaded_fraction,
                "gpu_layers": p.gpu_layers,
                "n_cpu_moe": p.n_cpu_moe,
                "budget_bytes": p.budget_bytes,
                "headroom_bytes": p.headroom_bytes,
                "shortfall_bytes": p.shortfall_bytes,
                "notes": list(p.notes),
            },
            "decode_tok_s": self.decode_tok_s,
            "prefill_tok_s": self.prefill_tok_s,
            "decode_terms_s": self.decode.terms.as_dict() if self.decode else None,
            "prefill_terms_s": self.prefill.terms.as_dict() if self.prefill else None,
            "mode": self.mode,
            "assumptions": list(self.assumptions),
        }


class Engine:
    """Estimates over one catalog. Construct once per build; results are cached."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        c = catalog.constant
        self.settings = Settings(
            gpu_runtime_overhead_bytes=c("gpu_runtime_overhead_mib") * 2**20,
            macos_gpu_fractions=((64 * 2**30, c("macos_gpu_wired_fraction_small")),
                                 (192 * 2**30, c("macos_gpu_wired_fraction_128gb")),
                                 (float("inf"), c("macos_gpu_wired_fraction_large"))),
            unified_gpu_fraction=c("unified_gpu_fraction_other"),
            os_reserve_bytes=c("os_reserve_gib") * 2**30,
            ubatch_tokens=int(c("llama_cpp_ubatch_tokens")),
            flash_attention=bool(c("llama_cpp_flash_attention")),
        )
        self._gpu_hop_s = c("gpu_hop_us") * 1e-6
        self._allreduce_s = {"pcie": c("allreduce_pcie_us") * 1e-6, "nvlink": c("allreduce_nvlink_us") * 1e-6,
                             "xgmi": c("allreduce_nvlink_us") * 1e-6, "none": 0.0}

    # ----------------------------------------------------------------- cached pieces

    @functools.cache
    def params(self, model_id: str) -> ParamCounts:
        return count_params(self._model(model_id).architecture)

    @functools.cache
    def bits(self, quant_id: str) -> QuantBits:
        if quant_id not in self.catalog.quants:
            raise EngineInputError(_unknown("quant", quant_id, self.catalog.quants))
        return resolve_quant(self.catalog.quants[quant_id], self.catalog.storage_types, self.catalog.models)

    def _model(self, model_id: str) -> Model:
        if model_id not in self.catalog.models:
            raise EngineInputError(_unknown("model", model_id, self.catalog.models))
        return self.catalog.models[model_id]

    def machine(self, hardware_id: str, count: int = 1, ram_gb: float = 0.0) -> Machine:
        """A catalog device (x count), or a rig id."""
        if hardware_id in self.catalog.rigs:
            return machine_from_rig(self.catalog.rigs[hardware_id], self.catalog.hardware)
        if hardware_id not in self.catalog.hardware:
            raise EngineInputError(_unknown("hardware or rig", hardware_id,
                                            {**self.catalog.hardware, **self.catalog.rigs}))
        platform = self.catalog.hardware[self.default_cpu_platform()] if ram_gb else None
        return machine_from_hardware(self.catalog.hardware[hardware_id], count, ram_gb, platform)

    def default_cpu_platform(self) -> str:
        """The CPU platform assumed for `--ram-gb` without a rig: a dual-channel DDR5 desktop."""
        return str(self.catalog.constant("default_cpu_platform"))

    @functools.cached_property
    def speed_model(self) -> SpeedModel:
        decode, prefill = self.calibration_points()
        return calibrate.fit_speed_model(decode, prefill, self._gpu_hop_s, self._allreduce_s)

    # ----------------------------------------------------------------- the estimate

    def estimate(self, model: str | Model, quant: str, context: int = 4096, kv_type: str = "f16", batch: int = 1,
                 machine: Machine | None = None, backend: str | None = None, mode: str = "layer_split",
                 images: bool = False, context_fill: float | None = None, prompt_tokens: int | None = None,
                 speed_model: SpeedModel | None = None) -> Estimate:
        """Memory, placement and speed. `context` is the cache size allocated; decode is measured with
        the cache filled to `context_fill` (default: full) and prefill over `prompt_tokens` (default 512)."""
        m = model if isinstance(model, Model) else self._model(model)
        a = m.architecture
        check_context(m, context)
        if kv_type not in KV_TYPES:
            raise EngineInputError(f"unknown KV cache type {kv_type!r}; choose one of {', '.join(KV_TYPES)}")
        if batch < 1:
            raise EngineInputError(f"batch must be 1 or more, got {batch}")
        counts = self.params(m.id) if isinstance(model, str) else count_params(a)
        bits = self.bits(quant)
        s = self.settings
        weights = weight_bytes(counts, bits)
        n_devices = machine.count if machine and machine.accelerators else 1
        discrete = bool(machine and machine.kind == "gpu")
        vision = counts.total["vision"] * 2.0 if images else 0.0
        buffers = compute_buffer_bytes(a, context, s.ubatch_tokens, s.flash_attention)
        memory = Parts("bytes", {
            "weights": weights.total,
            "kv_cache": kv_cache_bytes(a, context, kv_type, batch),
            "recurrent_state": recurrent_state_bytes(a, batch),
            "compute_buffer": buffers * n_devices,
            "runtime_overhead": s.gpu_runtime_overhead_bytes * n_devices if discrete else 0.0,
            "vision": vision,
        }, {
            "kv_cache": f"{kv_bytes_per_token(a, kv_type):,.0f} B per token x {context:,} tokens x {batch}",
            "recurrent_state": "Gated DeltaNet layers x (state + conv state) x 4 B x batch",
            "compute_buffer": f"max(logits, attention scores) + FFN activations, f32, micro-batch {s.ubatch_tokens}, per device",
            "runtime_overhead": "driver/context memory per discrete GPU",
        })
        assumptions = [
            f"weights: body {bits.body_bpw:.3f} bits/weight ({bits.body_formula}); embeddings "
            f"{bits.embedding_bpw:.3f}, output {bits.output_bpw:.3f}",
            f"KV cache {kv_type}, {context:,} tokens x {batch} sequence(s); only full-attention layers cache",
            f"llama.cpp micro-batch {s.ubatch_tokens} tokens, flash attention {'on' if s.flash_attention else 'off'}",
        ]
        placement = decode = prefill = None
        if machine is not None:
            mem = ModelMemory(weights=weights, kv_cache_bytes=memory["kv_cache"],
                              recurrent_state_bytes=memory["recurrent_state"], compute_buffer_bytes=buffers,
                              vision_bytes=vision, n_layers=a.num_hidden_layers,
                              routed_experts_bytes=weights["routed_experts"], is_moe=is_moe(a))
            placement = place(machine, mem, s)
            sm = self.speed_model if speed_model is None else speed_model
            fill = context if context_fill is None else context_fill
            read = decode_bytes_per_token(a, counts, bits, fill, kv_type, batch)
            decode = decode_speed(machine, placement, read, a, sm, backend, mode, batch)
            prompt = prompt_tokens or s.ubatch_tokens
            flops = prefill_flops_per_token(a, counts, (fill if context_fill is not None else 0) + prompt / 2)
            prefill = prefill_speed(machine, placement, flops, placement.ram_bytes, sm, s.ubatch_tokens, backend, mode,
                                    expert_flops_per_token=prefill_expert_flops_per_token(counts))
            if machine.kind == "unified":
                assumptions.append(f"the GPU may use {self._unified_share(machine):.0%} of unified memory by default")
            assumptions.append("decode speed with the KV cache filled to the context given; an estimate fitted "
                               "to published measurements (see the methodology page for its error)")
        return Estimate(m.id, quant, context, kv_type, batch, counts, bits, weights, memory, machine, placement,
                        decode, prefill, mode, tuple(assumptions))

    def _unified_share(self, machine: Machine) -> float:
        return unified_fraction(machine, self.settings)

    # ----------------------------------------------------------------- calibration

    def measurement_machine(self, m: Measurement) -> Machine:
        return machine_from_hardware(self.catalog.hardware[m.hardware], m.count)

    def predict_measurement(self, m: Measurement, speed_model: SpeedModel | None = None) -> float | None:
        """The engine's value for a measurement (bytes or tok/s), or None if it cannot say."""
        if m.kind == "file_size":
            return self.artifact_bytes(m.model, m.quant)
        if m.kind == "memory":
            a = self._model(m.model).architecture
            if m.memory_part == "kv_cache":
                return kv_cache_bytes(a, m.context, m.kv_type)
            if m.memory_part == "recurrent_state":
                return recurrent_state_bytes(a, m.sequences)
            if m.memory_part == "compute_buffer":
                return compute_buffer_bytes(a, m.context, self.settings.ubatch_tokens, flash_attention=False)
            return None
        machine = self.measurement_machine(m)
        tokens = m.tokens or 128
        mode = "tensor_parallel" if m.split == "tensor" else "layer_split"
        if m.kind == "decode":
            e = self.estimate(m.model, m.quant, context=max(m.context + tokens, 1), kv_type=m.kv_type,
                              machine=machine, backend=m.backend, mode=mode, context_fill=m.context + tokens / 2,
                              speed_model=speed_model)
            return e.decode_tok_s
        e = self.estimate(m.model, m.quant, context=max(m.context + tokens, 1), kv_type=m.kv_type, machine=machine,
                          backend=m.backend, mode=mode, context_fill=m.context, prompt_tokens=tokens,
                          speed_model=speed_model)
        return e.prefill_tok_s

    def artifact_bytes(self, model_id: str, quant_id: str, includes_vision: bool = False,
                       includes_mtp: bool = False) -> float:
        """Predicted size of a published file, bytes."""
        counts = self.params(model_id)
        return weight_bytes(counts, self.bits(quant_id), include_vision=includes_vision,
                            include_mtp=includes_mtp).total

    def speed_measurements(self) -> list[Measurement]:
        return [m for m in self.catalog.measurements.values() if m.kind in ("decode", "prefill") and m.quant]

    @functools.cache
    def calibration_points(self) -> tuple[list[calibrate.DecodePoint], list[calibrate.PrefillPoint]]:
        """Single-device, fully-resident measurements as fitting points (computed once per engine)."""
        decode, prefill = [], []
        for m in self.speed_measurements():
            if m.count != 1 or not m.gpu_layers_all:
                continue
            machine = self.measurement_machine(m)
            backend = m.backend or (machine.accelerators[0].backend if machine.accelerators else "cpu")
            tokens = m.tokens or 128
            e = self.estimate(m.model, m.quant, context=max(m.context + tokens, 1), kv_type=m.kv_type,
                              machine=machine, backend=backend, context_fill=m.context + tokens / 2,
                              speed_model=_UNIT_MODEL)
            if not (e.placement.fits or e.placement.placement == "cpu"):
                continue
            device = machine.accelerators[0] if machine.accelerators else machine.host
            if m.kind == "decode":
                a = self._model(m.model).architecture
                decode.append(calibrate.DecodePoint(
                    backend, m.hardware, e.decode.bytes_read.total / device.bandwidth_bytes_s, a.num_hidden_layers,
                    1 / m.value, moe_layers=a.num_hidden_layers if a.num_experts else 0,
                    linear_layers=n_linear_attention_layers(a)))
            elif device.flops:
                flops = prefill_flops_per_token(self._model(m.model).architecture, self.params(m.model),
                                                m.context + tokens / 2)
                prefill.append(calibrate.PrefillPoint(
                    backend, m.hardware, flops / device.flops, 1 / m.value,
                    expert_flops_over_rate_s=prefill_expert_flops_per_token(self.params(m.model)) / device.flops))
        return decode, prefill

    def accuracy_rows(self, held_out: bool = False) -> list[dict[str, Any]]:
        """Predicted against measured for every measurement; with held_out, speed predictions come
        from a fit that never saw that hardware."""
        rows = []
        models: dict[str, SpeedModel] = {}
        decode, prefill = self.calibration_points() if held_out else ([], [])
        for m in self.catalog.measurements.values():
            try:
                sm = None
                if held_out and m.kind in ("decode", "prefill"):
                    if m.hardware not in models:
                        models[m.hardware] = calibrate.fit_speed_model(
                            [p for p in decode if p.hardware != m.hardware],
                            [p for p in prefill if p.hardware != m.hardware], self._gpu_hop_s, self._allreduce_s)
                    sm = models[m.hardware]
                predicted = self.predict_measurement(m, sm) if m.quant or m.kind == "memory" else None
            except EngineInputError:
                predicted = None
            rows.append({"measurement": m, "predicted": predicted,
                         "error_pct": None if predicted is None else 100 * (predicted - m.value) / m.value})
        return rows


# Efficiency 1 and no fixed costs: used only to read bytes and FLOPs off an estimate while fitting.
_UNIT_MODEL = SpeedModel(backends={}, pooled=BackendFactors(1.0, 0.0, 1.0), gpu_hop_s=0.0, allreduce_s={"pcie": 0.0})


def _unknown(kind: str, value: str, known) -> str:
    choices = sorted(known)
    shown = ", ".join(choices[:40]) + (" ..." if len(choices) > 40 else "")
    return f"unknown {kind} {value!r}; valid: {shown}"


def summarize_errors(errors: list[float]) -> dict[str, float]:
    """Count, median and 90th-percentile absolute percentage error."""
    abs_errors = sorted(abs(e) for e in errors)
    if not abs_errors:
        return {"count": 0, "median": float("nan"), "p90": float("nan")}
    p90 = abs_errors[min(len(abs_errors) - 1, int(round(0.9 * (len(abs_errors) - 1))))]
    return {"count": len(abs_errors), "median": statistics.median(abs_errors), "p90": p90}
