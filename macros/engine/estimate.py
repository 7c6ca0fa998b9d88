"""The engine's front: one estimate (memory, fit, speed) for a model, a quant and a machine.

`Engine` wraps a loaded catalog and caches what is computed once per build (parameter
counts, quant bits, the fitted speed model). Everything here is pure computation.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import statistics
from typing import Any

from ..catalog import Catalog
from ..catalog.schema import KV_TYPES, Measurement, Model
from . import calibrate
from .bands import FEW_POINTS_FACTOR, MIN_BAND_POINTS, SpeedBand
from .machine import Machine, machine_from_devices, machine_from_hardware, machine_from_rig
from .memory import (QuantBits, check_context, compute_buffer_bytes, kv_bytes_per_token, kv_cache_bytes,
                     recurrent_state_bytes, resolve_quant, weight_bytes)
from .params import ParamCounts, count_params, is_moe, n_linear_attention_layers
from .parts import EngineInputError, Parts
from .placement import ModelMemory, Placement, Settings, place, place_given, unified_fraction
from .speed import (RUNTIME_FAMILY, BackendFactors, SpeedModel, SpeedResult, decode_bytes_per_token, decode_speed,
                    host_bandwidth_bytes_s, prefill_speed, prefill_work, speed_key)



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
    backend: str | None = None  # the backend asked for (None: each device's own)
    parallel: int = 1  # server slots
    runtime: str | None = None  # llama.cpp (default), vllm, sglang, mlx-lm, ollama, lm-studio

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

    # ----------------------------------------------------------------- the estimate

    def estimate(self, model: str | Model, quant: str, context: int = 4096, kv_type: str = "f16", batch: int = 1,
                 machine: Machine | None = None, backend: str | None = None, mode: str = "layer_split",
                 images: bool = False, context_fill: float | None = None, prompt_tokens: int | None = None,
                 speed_model: SpeedModel | None = None, gpu_layers: int | None = None,
                 n_cpu_moe: int | None = None, parallel: int = 1, ubatch: int | None = None,
                 weight_scale: float = 1.0, runtime: str | None = None) -> Estimate:
        """Memory, placement and speed. `context` is the cache size allocated; decode is measured with
        the cache filled to `context_fill` (default: full) and prefill over `prompt_tokens` (default 512).
        `gpu_layers` (-ngl) or `n_cpu_moe` (--n-cpu-moe) fix the placement instead of letting the engine
        choose; `parallel` server slots each keep their own recurrent state; `weight_scale` scales the
        weight bytes read (a measured file against the quant's estimate)."""
        m = model if isinstance(model, Model) else self._model(model)
        a = m.architecture
        check_context(m, context)
        if kv_type not in KV_TYPES:
            raise EngineInputError(f"unknown KV cache type {kv_type!r}; choose one of {', '.join(KV_TYPES)}")
        if batch < 1:
            raise EngineInputError(f"batch must be 1 or more, got {batch}")
        if parallel < 1:
            raise EngineInputError(f"--parallel must be 1 or more, got {parallel}")
        if n_cpu_moe is not None and gpu_layers is not None:
            raise EngineInputError("give --n-gpu-layers or --n-cpu-moe, not both")
        if n_cpu_moe is not None and not a.num_experts:
            raise EngineInputError(f"--n-cpu-moe applies to MoE models; {m.id} is dense (use --n-gpu-layers)")
        for flag, value in (("--n-gpu-layers", gpu_layers), ("--n-cpu-moe", n_cpu_moe)):
            if value is not None and not 0 <= value <= a.num_hidden_layers:
                raise EngineInputError(f"{flag} must be between 0 and the model's {a.num_hidden_layers} layers, "
                                       f"got {value}")
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
            "recurrent_state": recurrent_state_bytes(a, max(batch, parallel)),
            "compute_buffer": buffers * n_devices,
            "runtime_overhead": s.gpu_runtime_overhead_bytes * n_devices if discrete else 0.0,
            "vision": vision,
        }, {
            "kv_cache": f"{kv_bytes_per_token(a, kv_type):,.0f} B per token x {context:,} tokens x {batch}",
            "recurrent_state": "Gated DeltaNet layers x (state + conv state) x 4 B x sequences (server slots)",
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
            if gpu_layers is not None or n_cpu_moe is not None:
                if not machine.accelerators:
                    raise EngineInputError("--n-gpu-layers and --n-cpu-moe need a machine with a GPU")
                if machine.kind == "unified":
                    raise EngineInputError("--n-gpu-layers and --n-cpu-moe apply to discrete GPUs with system "
                                           "RAM beside them, not to a unified-memory machine")
                if machine.host is None and (gpu_layers or 0) < a.num_hidden_layers and \
                        (n_cpu_moe or 0) + (gpu_layers is not None) > 0:
                    raise EngineInputError("weights in system RAM need RAM: give --ram-gb (or a rig)")
                placement = place_given(machine, mem, s, gpu_layers, n_cpu_moe)
            else:
                placement = place(machine, mem, s)
            sm = self.speed_model if speed_model is None else speed_model
            fill = context if context_fill is None else context_fill
            read = decode_bytes_per_token(a, counts, bits, fill, kv_type, batch)
            if weight_scale != 1.0:
                read = read.scaled({k: weight_scale for k in read.values if k not in ("kv_cache", "recurrent_state")})
            decode = decode_speed(machine, placement, read, a, sm, backend, mode, batch, kv_type, runtime)
            prompt = prompt_tokens or s.ubatch_tokens
            ub = min(ubatch or s.ubatch_tokens, prompt)
            work = prefill_work(a, counts, (fill if context_fill is not None else 0) + prompt / 2, ub)
            prefill = prefill_speed(machine, placement, work, placement.ram_bytes * weight_scale, sm, ub, backend,
                                    mode, runtime)
            if machine.kind == "unified":
                assumptions.append(f"the GPU may use {self._unified_share(machine):.0%} of unified memory by default")
            assumptions.append(f"decode speed with {fill:,.0f} tokens already in the cache, prefill of a "
                               f"{prompt:,}-token prompt; estimates fitted to published measurements (see the "
                               "methodology page for their error)")
        return Estimate(m.id, quant, context, kv_type, batch, counts, bits, weights, memory, machine, placement,
                        decode, prefill, mode, tuple(assumptions), backend, parallel, runtime)

    def _unified_share(self, machine: Machine) -> float:
        return unified_fraction(machine, self.settings)

    # ----------------------------------------------------------------- calibration

    def measurement_machine(self, m: Measurement) -> Machine:
        """The machine a measurement ran on: its GPUs in order, and its host RAM when it offloaded."""
        hw = self.catalog.hardware
        devices = [hw[d] for d in (m.devices or [m.hardware] * m.count)]
        if hw[m.hardware].kind != "gpu":
            return machine_from_hardware(hw[m.hardware], 1)
        offloads = m.gpu_layers is not None or m.n_cpu_moe is not None
        if not offloads:
            return machine_from_devices(devices) if len(devices) > 1 else machine_from_hardware(devices[0], 1)
        platform = hw[m.host] if m.host else None
        return machine_from_devices(devices, ram_gb=1024 if platform else 0.0, cpu_platform=platform,
                                    host_measured_bandwidth_gb_s=m.host_measured_bandwidth_gb_s)

    def measurement_weight_scale(self, m: Measurement) -> float:
        """The file the run used over the engine's estimate of that quant's file (1 when not printed)."""
        if not m.file_bytes or not m.quant:
            return 1.0
        return m.file_bytes / self.artifact_bytes(m.model, m.quant)

    def _measurement_estimate(self, m: Measurement, speed_model: SpeedModel | None) -> Estimate:
        tokens = m.tokens or 128
        mode = "tensor_parallel" if m.split == "tensor" else "layer_split"
        fill = m.context + tokens / 2 if m.kind == "decode" else m.context
        return self.estimate(m.model, m.quant, context=max(m.context + tokens, 1), kv_type=m.kv_type,
                             machine=self.measurement_machine(m), backend=m.backend, mode=mode, context_fill=fill,
                             prompt_tokens=tokens if m.kind == "prefill" else None, speed_model=speed_model,
                             gpu_layers=m.gpu_layers, n_cpu_moe=m.n_cpu_moe, ubatch=m.ubatch,
                             weight_scale=self.measurement_weight_scale(m), runtime=m.runtime)

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
                flash = bool(m.notes and "flash attention on" in m.notes)
                return compute_buffer_bytes(a, m.context, m.ubatch or self.settings.ubatch_tokens, flash_attention=flash)
            return None
        e = self._measurement_estimate(m, speed_model)
        return e.decode_tok_s if m.kind == "decode" else e.prefill_tok_s

    def artifact_bytes(self, model_id: str, quant_id: str, includes_vision: bool = False,
                       includes_mtp: bool = False) -> float:
        """Predicted size of a published file, bytes."""
        counts = self.params(model_id)
        return weight_bytes(counts, self.bits(quant_id), include_vision=includes_vision,
                            include_mtp=includes_mtp).total

    def speed_measurements(self) -> list[Measurement]:
        return [m for m in self.catalog.measurements.values() if m.kind in ("decode", "prefill") and m.quant]

    @staticmethod
    def source_group(m: Measurement) -> str:
        """The table or thread a measurement came from: held out together."""
        if m.group:
            return m.group
        src = m.source[0]
        return (src.url or src.doc or m.id).split("#")[0]

    @functools.cache
    def calibration_points(self) -> tuple[tuple[calibrate.DecodePoint, ...], tuple[calibrate.PrefillPoint, ...],
                                          tuple[tuple[Measurement, Estimate], ...]]:
        """Fitting points from single-device, fully resident measurements (computed once per engine),
        and the measurements that offload or split, with their estimates under unit factors."""
        decode, prefill, other = [], [], []
        for m in self.speed_measurements():
            try:
                e = self._measurement_estimate(m, _UNIT_MODEL)
            except EngineInputError:
                continue
            machine = e.machine
            if m.count != 1 or not m.gpu_layers_all or m.gpu_layers is not None or m.n_cpu_moe is not None:
                other.append((m, e))
                continue
            if not (e.placement.fits or e.placement.placement in ("cpu", "unified_raised_cap")):
                continue
            device = machine.accelerators[0] if machine.accelerators else machine.host
            key = speed_key(device, m.backend, m.runtime)
            a = self._model(m.model).architecture
            group = self.source_group(m)
            if m.kind == "decode":
                kv = e.decode.bytes_read["kv_cache"]
                decode.append(calibrate.DecodePoint(
                    key, group, m.hardware, (e.decode.bytes_read.total - kv) / device.bandwidth_bytes_s,
                    kv / device.bandwidth_bytes_s, m.kv_type != "f16", a.num_hidden_layers, 1 / m.value,
                    moe_layers=a.num_hidden_layers if a.num_experts else 0,
                    linear_layers=n_linear_attention_layers(a)))
            elif device.flops:
                tokens = m.tokens or 128
                ub = min(m.ubatch or self.settings.ubatch_tokens, tokens)
                w = prefill_work(a, self.params(m.model), m.context + tokens / 2, ub)
                prefill.append(calibrate.PrefillPoint(
                    key, group, m.hardware, w.dense_flops / device.flops, w.attention_flops / device.flops,
                    w.linear_layers / device.flops, w.expert_calls_per_ubatch / ub / device.flops, 1 / m.value))
        return tuple(decode), tuple(prefill), tuple(other)

    def fit_speed_model(self, exclude_group: str | None = None) -> SpeedModel:
        """The speed model fitted on every measurement, or on all but one source's. Held-out fits refit
        every per-class factor and offload term without that source; the three shared shape weights
        (coarse grid choices) keep the full fit's values, which keeps a held-out fit fast."""
        decode, prefill, other = self.calibration_points()
        keep = (lambda g: g != exclude_group)
        shape = None
        if exclude_group is not None:
            full = self.speed_model
            shape = (full.moe_layer_weight, full.kv_quant_read_factor, full.pooled.attention_flops_weight)
        sm = calibrate.fit_speed_model([p for p in decode if keep(p.group)], [p for p in prefill if keep(p.group)],
                                       self._gpu_hop_s, self._allreduce_s, shape)
        offload = []
        for m, _ in other:
            group = self.source_group(m)
            if not keep(group):
                continue
            if m.gpu_layers is None and m.n_cpu_moe is None:
                split = self._split_point(m, sm, group)
                if split:
                    offload.append(split)
                continue
            e = self._measurement_estimate(m, sm)
            speed = e.decode if m.kind == "decode" else e.prefill
            if speed is None or not speed.tok_s or not e.placement.runs:
                continue
            if m.kind == "decode":
                fitted = speed.terms.get("offload_round_trips")
                unit = (m.n_cpu_moe or 0) if m.n_cpu_moe is not None else 1
                base = speed.seconds_per_token - fitted
            else:
                fitted = speed.terms.get("ram_weight_stream")
                ub = min(m.ubatch or self.settings.ubatch_tokens, m.tokens or 512)
                unit = e.placement.ram_bytes * self.measurement_weight_scale(m) / ub / host_bandwidth_bytes_s(
                    e.machine, sm)
                base = speed.seconds_per_token - fitted
            offload.append(calibrate.OffloadPoint(m.kind, "expert" if m.n_cpu_moe is not None else "layer", group,
                                                  base, unit, 1 / m.value))
        return calibrate.with_offload(sm, offload)

    def _split_point(self, m: Measurement, sm: SpeedModel, group: str) -> calibrate.OffloadPoint | None:
        """A llama.cpp run split over GPUs as a fitting point for its synchronisation cost."""
        if m.count < 2 or RUNTIME_FAMILY.get(m.runtime or "llama.cpp", ""):
            return None
        a = self._model(m.model).architecture
        row = m.split == "tensor"
        if not row and not a.num_experts:
            return None
        e = self._measurement_estimate(m, sm)
        speed = e.decode if m.kind == "decode" else e.prefill
        if speed is None or not speed.tok_s:
            return None
        term = "row_split_sync" if row else "moe_split_sync"
        layers = a.num_hidden_layers
        unit = layers
        if m.kind == "prefill":
            unit = layers / min(m.ubatch or self.settings.ubatch_tokens, m.tokens or 512)
        return calibrate.OffloadPoint(m.kind, "row" if row else "moe", group,
                                      speed.seconds_per_token - speed.terms.get(term), unit, 1 / m.value)

    @functools.cached_property
    def speed_model(self) -> SpeedModel:
        return self.fit_speed_model()

    def accuracy_rows(self, held_out: bool = False) -> list[dict[str, Any]]:
        """Predicted against measured for every measurement; with held_out, speed predictions come
        from a fit that never saw that measurement's source (its whole table or thread)."""
        return list(self._accuracy_rows(held_out))

    @functools.cache
    def _accuracy_rows(self, held_out: bool) -> tuple[dict[str, Any], ...]:
        rows = []
        models: dict[str, SpeedModel] = {}
        for m in self.catalog.measurements.values():
            try:
                sm = None
                if held_out and m.kind in ("decode", "prefill"):
                    group = self.source_group(m)
                    if group not in models:
                        models[group] = self.fit_speed_model(exclude_group=group)
                    sm = models[group]
                predicted = self.predict_measurement(m, sm) if m.quant or m.kind == "memory" else None
            except EngineInputError:
                predicted = None
            rows.append({"measurement": m, "predicted": predicted,
                         "error_pct": None if predicted is None else 100 * (predicted - m.value) / m.value,
                         "log_error": None if not predicted else math.log(predicted / m.value)})
        return tuple(rows)

    # ----------------------------------------------------------------- error bands

    def measurement_class(self, m: Measurement) -> str:
        """The band class of a measurement's setup."""
        machine = self.measurement_machine(m)
        offloads = m.gpu_layers is not None or m.n_cpu_moe is not None or not m.gpu_layers_all
        return band_class(machine, m.backend, offloads, m.runtime)

    @functools.cached_property
    def band_table(self) -> dict[tuple[str, str], SpeedBand]:
        """(kind, class) -> the held-out error band, from every held-out speed measurement."""
        logs: dict[tuple[str, str], list[float]] = {}
        for row in self._accuracy_rows(True):
            m = row["measurement"]
            if m.kind not in ("decode", "prefill") or row["log_error"] is None:
                continue
            logs.setdefault((m.kind, self.measurement_class(m)), []).append(abs(row["log_error"]))
        table = {}
        for kind in ("decode", "prefill"):
            everything = sorted(v for (k, _), vals in logs.items() if k == kind for v in vals)
            for cls in BAND_CLASSES:
                vals = sorted(logs.get((kind, cls), []))
                table[(kind, cls)] = _band(kind, cls, vals)
            table[(kind, "all")] = _band(kind, "all", everything)
        return table

    def speed_band(self, kind: str, estimate: "Estimate") -> SpeedBand:
        """The error band of a decode or prefill estimate: its class's held-out error."""
        machine, p = estimate.machine, estimate.placement
        if machine is None or p is None:
            return self.band_table[(kind, "all")]
        if p.placement == "cpu":  # a GPU machine running the model from system RAM alone
            return self.band_table[(kind, "CPU only")]
        offloads = p.placement in ("moe_expert_offload", "layer_offload")
        return self.band_table[(kind, band_class(machine, estimate.backend, offloads, estimate.runtime))]

    def speed_range(self, kind: str, estimate: "Estimate") -> tuple[float, float] | None:
        value = estimate.decode_tok_s if kind == "decode" else estimate.prefill_tok_s
        return None if not value else self.speed_band(kind, estimate).range(value)


BAND_CLASSES = ("one NVIDIA GPU", "one NVIDIA datacenter GPU (HBM)", "several GPUs", "GPU + system RAM", "Apple", "AMD", "Intel", "CPU only",
                "vLLM / SGLang", "other")


def band_class(machine: Machine, backend: str | None, offloads: bool, runtime: str | None = None) -> str:
    """Setups the engine models alike, for its error bands (llama.cpp and its kind unless vLLM/SGLang)."""
    if RUNTIME_FAMILY.get(runtime or "llama.cpp") == "vllm":
        return "vLLM / SGLang"
    if not machine.accelerators:
        return "CPU only"
    if offloads:
        return "GPU + system RAM"
    if machine.count > 1:
        return "several GPUs"
    d = machine.accelerators[0]
    backend = backend or d.backend
    if backend == "metal":
        return "Apple"
    if backend == "cuda":
        return "one NVIDIA datacenter GPU (HBM)" if d.hbm else "one NVIDIA GPU"
    return {"AMD": "AMD", "Intel": "Intel", "NVIDIA": "one NVIDIA GPU"}.get(d.vendor, "other")


def _band(kind: str, cls: str, abs_logs: list[float]) -> SpeedBand:
    if len(abs_logs) < MIN_BAND_POINTS:
        factor = max(FEW_POINTS_FACTOR, math.exp(abs_logs[-1]) if abs_logs else FEW_POINTS_FACTOR)
        median = factor
    else:
        factor = math.exp(_percentile(abs_logs, 0.9))
        median = math.exp(_percentile(abs_logs, 0.5))
    return SpeedBand(kind, cls, len(abs_logs), factor, median)


def _percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(round(q * (len(sorted_values) - 1))))]


# Efficiency 1 and no fixed costs: used only to read bytes and FLOPs off an estimate while fitting.
_UNIT_MODEL = SpeedModel(factors_by_key={}, pooled=BackendFactors(1.0, 0.0, 0.0, 1.0), gpu_hop_s=0.0,
                         allreduce_s={"pcie": 0.0})


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
