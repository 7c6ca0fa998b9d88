"""Fit and placement: what goes where on a machine, the way llama.cpp and vLLM place it.

Order of preference: everything in accelerator memory (one device, layers split across
several, or a unified-memory GPU share); then, for MoE models, routed experts of some layers
in system RAM (`--n-cpu-moe`); then whole layers in system RAM (`-ngl`); else it does not fit.
"""

from __future__ import annotations

import dataclasses
import math

from .machine import Machine
from .parts import Parts


@dataclasses.dataclass(frozen=True)
class Settings:
    """Runtime assumptions, each a catalog constant with its source."""

    gpu_runtime_overhead_bytes: float  # CUDA/ROCm context and driver per discrete GPU
    # Share of unified memory macOS lets the GPU wire by default: (installed bytes below, share), ascending.
    macos_gpu_fractions: tuple[tuple[float, float], ...]
    unified_gpu_fraction: float  # the same for non-Apple unified machines (DGX Spark, Strix Halo)
    os_reserve_bytes: float  # memory the operating system keeps (unified machines and RAM offload)
    ubatch_tokens: int  # llama.cpp micro-batch
    flash_attention: bool


@dataclasses.dataclass(frozen=True)
class ModelMemory:
    """What must be resident, bytes, with the shape needed to split it."""

    weights: Parts  # by part
    kv_cache_bytes: float
    recurrent_state_bytes: float
    compute_buffer_bytes: float  # per device
    vision_bytes: float
    n_layers: int
    routed_experts_bytes: float  # all layers' routed experts (0 for dense)
    is_moe: bool


@dataclasses.dataclass(frozen=True)
class Placement:
    placement: str  # gpu | layer_split | unified | unified_raised_cap | moe_expert_offload | layer_offload | cpu | does_not_fit
    fits: bool  # entirely in accelerator (or unified GPU) memory, defaults unchanged
    runs: bool  # runs at all, counting system RAM
    device_bytes: tuple[float, ...]  # resident on each accelerator
    ram_bytes: float  # resident in system RAM
    offloaded_fraction: float  # share of the weights held in system RAM
    gpu_layers: int | None  # llama.cpp -ngl
    n_cpu_moe: int | None  # llama.cpp --n-cpu-moe
    budget_bytes: float  # accelerator memory available for the model
    headroom_bytes: float  # accelerator memory left after everything (negative: short)
    shortfall_bytes: float  # how much is missing when it does not run
    notes: tuple[str, ...] = ()

    @property
    def gpu_bytes(self) -> float:
        return float(sum(self.device_bytes))


def unified_fraction(machine: Machine, s: Settings) -> float:
    """Share of a unified machine's memory the GPU may use with default settings."""
    device = machine.accelerators[0]
    if device.backend != "metal":
        return s.unified_gpu_fraction
    return next(share for below, share in s.macos_gpu_fractions if device.memory_bytes < below)


def accelerator_budget(machine: Machine, mem: ModelMemory, s: Settings) -> list[float]:
    """Bytes each accelerator can give the model's weights, caches and state."""
    out = []
    for d in machine.accelerators:
        if d.kind == "unified":
            usable = d.memory_bytes * unified_fraction(machine, s)
        else:
            usable = d.memory_bytes - s.gpu_runtime_overhead_bytes
        out.append(usable - mem.compute_buffer_bytes)
    return out


def place(machine: Machine, mem: ModelMemory, s: Settings) -> Placement:
    weights = mem.weights.total
    resident = weights + mem.kv_cache_bytes + mem.recurrent_state_bytes + mem.vision_bytes
    if machine.kind == "cpu":
        usable = machine.ram_bytes - s.os_reserve_bytes
        need = resident + mem.compute_buffer_bytes
        ok = need <= usable
        return Placement("cpu" if ok else "does_not_fit", False, ok, (), need, 1.0 if ok else 0.0, 0, None,
                         0.0, usable - need, max(0.0, need - usable))
    budgets = accelerator_budget(machine, mem, s)
    budget = sum(budgets)
    n = machine.count
    if resident <= budget:
        shares = [resident * b / budget for b in budgets]
        device = tuple(x + mem.compute_buffer_bytes for x in shares)
        kind = "unified" if machine.kind == "unified" else ("gpu" if n == 1 else "layer_split")
        return Placement(kind, True, True, device, 0.0, 0.0, mem.n_layers, None, budget, budget - resident, 0.0)
    if machine.kind == "unified":
        d = machine.accelerators[0]
        whole = d.memory_bytes - s.os_reserve_bytes - mem.compute_buffer_bytes
        if resident <= whole:
            note = ("fits only after raising the GPU memory limit (macOS: sysctl iogpu.wired_limit_mb)"
                    if d.backend == "metal" else "fits only after raising the GPU memory share (GTT/UMA setting)")
            return Placement("unified_raised_cap", False, True, (resident + mem.compute_buffer_bytes,), 0.0, 0.0,
                             mem.n_layers, None, budget, budget - resident, 0.0, (note,))
        return Placement("does_not_fit", False, False, (), 0.0, 0.0, None, None, budget, budget - resident,
                         resident - whole)
    ram_usable = max(machine.ram_bytes - s.os_reserve_bytes, 0.0)
    per_layer_fixed = (mem.kv_cache_bytes + mem.recurrent_state_bytes) / mem.n_layers
    if mem.is_moe and machine.host:
        experts_per_layer = mem.routed_experts_bytes / mem.n_layers
        non_expert = resident - mem.routed_experts_bytes
        if non_expert <= budget:
            n_cpu_moe = min(mem.n_layers, math.ceil((resident - budget) / experts_per_layer))
            in_ram = n_cpu_moe * experts_per_layer
            if in_ram <= ram_usable:
                gpu = resident - in_ram
                device = tuple(gpu * b / budget + mem.compute_buffer_bytes for b in budgets)
                return Placement("moe_expert_offload", False, True, device, in_ram, in_ram / weights,
                                 mem.n_layers, n_cpu_moe, budget, budget - gpu, 0.0)
    # Whole layers in RAM: the output head stays on the GPU with the last layers; the
    # token embeddings stay in RAM (llama.cpp keeps token_embd on the host).
    head = mem.weights.get("lm_head")
    layer_weights = (weights - head - mem.weights.get("embeddings")) / mem.n_layers
    layer_bytes = layer_weights + per_layer_fixed  # a layer's weights with its share of KV cache and state
    gpu_layers = max(0, min(mem.n_layers, int((budget - head - mem.vision_bytes) // layer_bytes)))
    gpu = head + gpu_layers * layer_bytes + mem.vision_bytes
    in_ram = resident - gpu
    if machine.host and in_ram <= ram_usable and gpu_layers > 0:
        device = tuple(gpu * b / budget + mem.compute_buffer_bytes for b in budgets)
        weights_in_ram = weights - head - gpu_layers * layer_weights
        return Placement("layer_offload", False, True, device, in_ram, weights_in_ram / weights, gpu_layers, None,
                         budget, budget - gpu, 0.0)
    need_in_ram = resident + mem.compute_buffer_bytes
    if machine.host and need_in_ram <= ram_usable:  # not even one layer fits the GPU, all of it fits RAM: -ngl 0
        return Placement("cpu", False, True, (), need_in_ram, 1.0, 0, None, budget, ram_usable - need_in_ram, 0.0,
                         ("runs on the CPU from system RAM (-ngl 0): the GPU cannot hold even one layer",))
    short = max(0.0, resident - budget - ram_usable)
    return Placement("does_not_fit", False, False, (), 0.0, 0.0, None, None, budget, budget - resident, short)


def place_given(machine: Machine, mem: ModelMemory, s: Settings, gpu_layers: int | None = None,
                n_cpu_moe: int | None = None) -> Placement:
    """The placement a reader asked for (llama.cpp -ngl N or --n-cpu-moe N), evaluated as given:
    it runs when the accelerators hold their part and system RAM the rest."""
    L = mem.n_layers
    weights = mem.weights.total
    resident = weights + mem.kv_cache_bytes + mem.recurrent_state_bytes + mem.vision_bytes
    budgets = accelerator_budget(machine, mem, s) if machine.accelerators else [0.0]
    budget = sum(budgets)
    ram_usable = max(machine.ram_bytes - s.os_reserve_bytes, 0.0)
    if n_cpu_moe is not None:
        weights_in_ram = mem.routed_experts_bytes * n_cpu_moe / L
        in_ram = weights_in_ram
        kind, layers_on_gpu = "moe_expert_offload", L
    else:
        head = mem.weights.get("lm_head")
        per_layer_fixed = (mem.kv_cache_bytes + mem.recurrent_state_bytes) / L
        layer_weights = (weights - head - mem.weights.get("embeddings")) / L
        on_gpu = head + gpu_layers * (layer_weights + per_layer_fixed) + mem.vision_bytes
        in_ram = resident - on_gpu
        weights_in_ram = weights - head - gpu_layers * layer_weights
        kind, layers_on_gpu = "layer_offload", gpu_layers
    gpu = resident - in_ram
    notes = []
    if gpu > budget:
        notes.append(f"the accelerators need {gpu / 1e9:.1f} GB for their part but have {budget / 1e9:.1f} GB")
    if in_ram > ram_usable:
        notes.append(f"system RAM needs {in_ram / 1e9:.1f} GB but has {ram_usable / 1e9:.1f} GB free")
    runs = not notes
    device = tuple(gpu * b / budget + mem.compute_buffer_bytes for b in budgets) if budget > 0 else ()
    return Placement(kind, False, runs, device, in_ram, weights_in_ram / weights if weights else 0.0,
                     layers_on_gpu, n_cpu_moe, budget, budget - gpu,
                     0.0 if runs else max(gpu - budget, 0.0) + max(in_ram - ram_usable, 0.0), tuple(notes))
