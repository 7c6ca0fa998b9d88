"""The calculator page: the engine's numbers, exported once per build for the browser.

The page repeats only the placement and speed arithmetic of engine/placement.py and
engine/speed.py (docs/assets/calculator.js). Everything that needs the architecture (weight
bytes by part, KV bytes per token, recurrent state, compute buffers, bytes read per token,
prefill FLOPs) is computed here by the engine, per model and quant, and embedded in the page
as one inline <script type="application/json"> so the page works from file:// and any host.
"""

from __future__ import annotations

import gzip
import html
import json
import math
from typing import Any, Iterable


from .engine import KV_TYPES, advice, custom_machine, search
from .engine.machine import Device, Machine, device_from_hardware, machine_from_rig
from .engine.memory import compute_buffer_terms, kv_bytes_per_token, recurrent_state_bytes, weight_bytes
from .engine.params import is_moe, n_linear_attention_layers
from .engine.parts import Parts
from .engine.placement import ModelMemory, accelerator_budget
from .engine.speed import RUNTIME_FAMILY, BackendFactors, decode_bytes_per_token, prefill_work

from .render.common import COMMON_QUANTS  # the quants every page's recommendation chooses among

SIG_DIGITS = 12  # exported numbers keep 12 significant digits (relative error below 1e-11)
MIN_CONTEXT = 1024  # the slider's low end, tokens
DEFAULTS = {"model": ("qwen3.5-35b-a3b",), "quant": ("Q4_K_M",), "hardware": ("rtx-4090",),
            "runtime": ("llama.cpp",), "context": 32768, "ram_gb": 64.0}
DATA_BUDGET_GZIP_BYTES = 300_000  # the embedded data must stay well under 1 MB gzipped


def _n(x: float | None) -> float | int | None:
    """A number for JSON: 12 significant digits, integers written without a fraction."""
    if x is None:
        return None
    v = float(f"{float(x):.{SIG_DIGITS}g}")
    return int(v) if v.is_integer() and abs(v) < 2**53 else v


def _device(d: Device) -> list:
    """[kind, memory bytes, rated bandwidth bytes/s, FLOP/s or null, backend, host link bytes/s or null,
    HBM (its own class of speed factors), vendor]."""
    return [d.kind, _n(d.memory_bytes), _n(d.bandwidth_bytes_s), _n(d.flops), d.backend, _n(d.host_link_bytes_s),
            d.hbm, d.vendor]


def _usable(engine, devices: list[Device]) -> list:
    """Bytes the engine lets a model use on each of these devices before its compute buffer
    (installed less the driver's share, or the GPU's share of unified memory)."""
    mach = Machine(id="probe", name="probe", accelerators=tuple(devices), host=None)
    empty = ModelMemory(weights=Parts("bytes", {}), kv_cache_bytes=0.0, recurrent_state_bytes=0.0,
                        compute_buffer_bytes=0.0, vision_bytes=0.0, n_layers=1, routed_experts_bytes=0.0,
                        is_moe=False)
    return [_n(b) for b in accelerator_budget(mach, empty, engine.settings)]


def _factors(f: BackendFactors) -> list:
    """[bandwidth efficiency, seconds per layer unit per token, compute efficiency or null, seconds per
    token, seconds per Gated DeltaNet layer per token, prefill FLOP-equivalents per Gated DeltaNet layer,
    per expert call, attention FLOP weight]."""
    return [_n(f.bandwidth_efficiency), _n(f.layer_overhead_s), _n(f.compute_efficiency), _n(f.token_overhead_s),
            _n(f.linear_layer_s), _n(f.linear_layer_prefill_flops), _n(f.expert_call_flops),
            _n(f.attention_flops_weight)]


def _speed_keys(sm) -> dict[str, list]:
    """The factors of every speed key the page can form (backend, HBM, runtime family), resolved as
    the engine resolves them."""
    out = {}
    for backend in ("cuda", "rocm", "metal", "vulkan", "sycl", "cpu"):
        for hbm in (False, True):
            for family in sorted(set(RUNTIME_FAMILY.values())):
                key = f"{backend}/hbm" if hbm and backend != "cpu" else backend
                key = f"{key}/{family}" if family else key
                out[key] = _factors(sm.factors(key))
    return out


def _flag_names(text: str | None) -> list[str]:
    """The command-line flags in a runtime record's flag text: '-ctk/-ctv (--cache-type-k/...)' ->
    ['-ctk', '-ctv']; '-ngl (--n-gpu-layers)' -> ['-ngl']; a setting that is not a flag -> []."""
    if not text:
        return []
    first = text.split()[0]
    return [f for f in first.split("/") if f.startswith("-")]


def _first(ids: Iterable[str], preferred: tuple[str, ...]) -> str:
    ids = list(ids)
    for p in preferred:
        if p in ids:
            return p
    return ids[0]


def _model_record(engine, m) -> dict[str, Any]:
    a = m.architecture
    s = engine.settings
    counts = engine.params(m.id)
    u = s.ubatch_tokens
    # Compute buffer = max(logits, scores per token x context) + activations, the engine's own terms.
    logits, scores, activations = compute_buffer_terms(a, u, s.flash_attention)
    return {
        "id": m.id, "name": m.name, "family": m.family, "hf": m.hf_repo,
        "limit": m.context_extended or a.max_position_embeddings, "native": a.max_position_embeddings,
        "layers": a.num_hidden_layers, "moe": is_moe(a),
        "params": [_n(counts.total.total), _n(counts.active.total)],
        "kv": [_n(kv_bytes_per_token(a, t)) for t in KV_TYPES],
        "rs": _n(recurrent_state_bytes(a, 1)),
        "cb": [_n(logits), _n(scores), _n(activations)],
        "pw": _prefill_work(engine, m),
        "lu": _n(engine.speed_model.layer_units(a, 1.0)),
        "ls": _n(n_linear_attention_layers(a) / a.num_hidden_layers),
    }


def _prefill_work(engine, m) -> list:
    """[weight FLOPs, attention FLOPs, Gated DeltaNet layers, expert calls per micro-batch] for one prompt
    token of the default prompt (micro-batch long) into an empty cache, as the engine counts them."""
    s = engine.settings
    w = prefill_work(m.architecture, engine.params(m.id), s.ubatch_tokens / 2, s.ubatch_tokens)
    return [_n(w.dense_flops), _n(w.attention_flops), w.linear_layers, _n(w.expert_calls_per_ubatch)]


def _model_quant(engine, m, quant_id: str) -> list:
    """[weights, lm_head, embeddings, routed experts] resident bytes, then [static, routed experts,
    lm_head, embeddings] bytes read per decoded token (static: all but the KV cache)."""
    a = m.architecture
    counts, bits = engine.params(m.id), engine.bits(quant_id)
    w = weight_bytes(counts, bits)
    r = decode_bytes_per_token(a, counts, bits, 0, "f16", 1)
    return [_n(w.total), _n(w.get("lm_head")), _n(w.get("embeddings")), _n(w.get("routed_experts")),
            _n(r.total - r["kv_cache"]), _n(r["routed_experts"]), _n(r["lm_head"]), _n(r["embeddings"])]


def export_data(engine) -> dict[str, Any]:
    """Everything the page needs, as plain JSON: catalog choices, per model x quant engine numbers,
    machines, the fitted speed model and the engine's settings."""
    cat = engine.catalog
    s = engine.settings
    sm = engine.speed_model
    models = list(cat.models.values())
    quants = list(cat.quants.values())
    platform_id = engine.default_cpu_platform()
    # Units and defaults read off the engine's own machine builders (GB of capacity may be 10^9 or 2^30).
    probe = custom_machine("gpu", 1.0, 1.0, 1.0, 1, 1.0)
    acc, host = probe.accelerators[0], probe.host
    custom = {"mem_unit": _n(acc.memory_bytes), "bw_unit": _n(acc.bandwidth_bytes_s), "tflops_unit": _n(acc.flops),
              "ram_unit": _n(host.memory_bytes), "ram_bw": _n(host.bandwidth_bytes_s),
              "link": _n(acc.host_link_bytes_s),
              "backend": {k: (custom_machine(k, 1.0, 1.0).host if k == "cpu"
                              else custom_machine(k, 1.0, 1.0).accelerators[0]).backend
                          for k in ("gpu", "unified", "cpu")}}
    ram_unit = device_from_hardware(cat.hardware[platform_id], memory_gb=1.0).memory_bytes
    hardware = []
    for h in cat.hardware.values():
        hardware.append({"id": h.id, "name": h.name, "kind": h.kind, "gb": h.memory_gb,
                         "dev": _device(device_from_hardware(h)), "usable": _usable(engine, [device_from_hardware(h)]),
                         "nvlink": bool(h.nvlink_gb_s)})
    rigs = []
    for r in cat.rigs.values():
        mach = machine_from_rig(r, cat.hardware)
        names = [cat.hardware[p.hardware].name for p in r.parts for _ in range(p.count)
                 if cat.hardware[p.hardware].kind != "cpu"]
        rigs.append({"id": r.id, "name": r.name, "acc": [_device(d) for d in mach.accelerators],
                     "usable": _usable(engine, list(mach.accelerators)) if mach.accelerators else None,
                     "names": names, "host": _device(mach.host) if mach.host else None,
                     "link": mach.gpu_link, "parts": sorted({p.hardware for p in r.parts} | (
                         {r.cpu_platform} if r.cpu_platform else set()))})
    runtimes = []
    for rt in cat.runtimes.values():
        f = rt.flags
        runtimes.append({"id": rt.id, "name": rt.name, "command": rt.command, "formats": list(rt.formats),
                         "modes": list(rt.offload_modes), "kv": list(rt.kv_types),
                         "flags": {k: _flag_names(getattr(f, k)) for k in
                                   ("gpu_layers", "cpu_moe", "context", "tensor_parallel", "kv_type", "split_mode")},
                         "settings": {k: v for k, v in f.model_dump().items() if v and not _flag_names(v)}})
    return {
        "version": 1,
        "kv_types": list(KV_TYPES),
        "settings": {"overhead": _n(s.gpu_runtime_overhead_bytes), "unified": _n(s.unified_gpu_fraction),
                     "macos": [[None if math.isinf(b) else _n(b), _n(f)] for b, f in s.macos_gpu_fractions],
                     "os": _n(s.os_reserve_bytes), "ram_unit": _n(ram_unit),
                     "ubatch": s.ubatch_tokens, "fa": s.flash_attention, "min_context": MIN_CONTEXT},
        "speed": {"keys": _speed_keys(sm), "families": dict(RUNTIME_FAMILY),
                  "hop": _n(sm.gpu_hop_s), "allreduce": {k: _n(v) for k, v in sm.allreduce_s.items()},
                  "kvf": _n(sm.kv_quant_read_factor), "sync": _n(sm.offload_sync_s),
                  "offload": {k: _n(v) for k, v in sm.offload_prefill_share.items()},
                  "cpu_bw": _n(sm.factors("cpu").bandwidth_efficiency),
                  "split": {k: _n(v) for k, v in sm.split_sync_s.items()},
                  "bands": {f"{kind}|{cls}": [_n(b.factor), b.enough] for (kind, cls), b in engine.band_table.items()}},
        "models": [_model_record(engine, m) for m in models],
        "quants": [{"id": q.id, "name": q.name, "format": q.format, "runtimes": list(q.runtimes),
                    "bpw": [_n(engine.bits(q.id).body_bpw), _n(engine.bits(q.id).embedding_bpw),
                            _n(engine.bits(q.id).output_bpw)]} for q in quants],
        "mq": {m.id: [_model_quant(engine, m, q.id) for q in quants] for m in models},
        "hardware": hardware,
        "platform": {"id": platform_id, "dev": _device(device_from_hardware(cat.hardware[platform_id]))},
        "rigs": rigs,
        "runtimes": runtimes,
        "custom": custom,
        "advice": _advice(engine),
        "defaults": {
            "model": _first(cat.models, DEFAULTS["model"]), "quant": _first(cat.quants, DEFAULTS["quant"]),
            "hardware": _first(cat.hardware, DEFAULTS["hardware"]), "runtime": _first(cat.runtimes, DEFAULTS["runtime"]),
            "context": DEFAULTS["context"], "ram_gb": DEFAULTS["ram_gb"],
        },
    }


def _advice(engine) -> dict[str, Any]:
    """The recommendation policy's answers, as every page shows them: per use, per featured model, per
    featured machine [quant, context, status, decode tok/s, decode tok/s at the band's low end]; plus
    each model x quant's quality figure [KLD, 0 reference / 1 measured / 2 estimate] and the thresholds."""
    cat = engine.catalog
    quants = [q for q in COMMON_QUANTS if q in cat.quants]
    machines = {i: engine.machine(i) for i, r in [*cat.hardware.items(), *cat.rigs.items()] if r.featured}
    featured = [m for m, r in cat.models.items() if r.featured]
    out: dict[str, Any] = {"uses": list(advice.USES), "quants": quants, "recommend": {}, "policy": {}}
    kind = {"baseline": 0, "measured": 1, "estimate": 2}
    out["quality"] = {m: [[_n(q.kld), kind[q.kind]] for q in (advice.quality(engine, m, x.id) for x in cat.quants.values())]
                      for m in cat.models}
    for use in advice.USES:
        p = advice.policy(cat, use)
        out["policy"][use] = {"decode_min_tok_s": p.decode_min_tok_s, "context_tokens": p.context_tokens,
                              "kld_max": p.kld_max, "headroom_min_bytes": _n(p.headroom_min_bytes),
                              "headroom_min_share": p.headroom_min_share}
        per = {}
        for mid in featured:
            row = {}
            for i, mach in machines.items():
                r = advice.recommend(engine, mid, mach, use, quants)
                row[i] = ([r.quant, r.context, r.status, _n(r.estimate.decode_tok_s), _n(r.pick.decode_low_tok_s)]
                          if r.pick else [None, None, r.status, None, None])
            per[mid] = row
        out["recommend"][use] = per
    return out


def data_json(engine) -> str:
    """The exported data as compact JSON, safe inside a <script> element: <, > and & are written
    as \\u escapes, so no catalog string can end the element or open a comment."""
    text = json.dumps(export_data(engine), separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def data_size(text: str) -> tuple[int, int]:
    """(raw bytes, gzipped bytes) of the embedded data."""
    raw = text.encode("utf-8")
    return len(raw), len(gzip.compress(raw, compresslevel=9, mtime=0))


# --------------------------------------------------------------------------- reference helpers for tests


def largest_context(engine, model_id: str, quant_id: str, kv_type: str, machine: Machine,
                    need: str = "fits") -> int | None:
    """Largest context (tokens, MIN_CONTEXT to the model's limit, every token count) at which the
    model fits in accelerator memory (`fits`) or runs at all (`runs`), as the page bisects it."""
    m = engine.catalog.models[model_id]
    limit = m.context_extended or m.architecture.max_position_embeddings
    return search.largest_context(engine, model_id, quant_id, machine, kv_type, need,
                                  grid=range(min(MIN_CONTEXT, limit), limit + 1))


# --------------------------------------------------------------------------- the page


def _options(items: Iterable[tuple[str, str]], selected: str) -> str:
    return "".join(f'<option value="{html.escape(v)}"{" selected" if v == selected else ""}>{html.escape(t)}</option>'
                   for v, t in items)


_KIND_LABELS = {"gpu": "GPUs", "unified": "Unified memory (Apple Silicon, Strix Halo, DGX Spark)", "cpu": "CPU only (system RAM)"}


def render_calculator(engine) -> str:
    """The calculator's HTML: the form (options rendered here), empty outputs the script fills,
    the embedded data and the script. One block of raw HTML without blank lines."""
    cat = engine.catalog
    data = data_json(engine)
    raw, gz = data_size(data)
    d = json.loads(data.replace("<\\/", "</"))["defaults"]
    hw_groups = ""
    for kind, label in _KIND_LABELS.items():
        items = [(h.id, h.name) for h in cat.hardware.values() if h.kind == kind]
        if items:
            hw_groups += f'<optgroup label="{html.escape(label)}">{_options(items, d["hardware"])}</optgroup>'
    model_opts = _options(((m.id, m.name) for m in cat.models.values()), d["model"])
    quant_opts = _options(((q.id, q.name) for q in cat.quants.values()), d["quant"])
    rig_opts = _options(((r.id, r.name) for r in cat.rigs.values()), "")
    rt_opts = _options(((r.id, r.name) for r in cat.runtimes.values()), d["runtime"])
    kv_opts = _options(((k, k) for k in KV_TYPES), "f16")
    rig_mode = '<option value="rig">A named build (rig)</option>' if cat.rigs else ""
    parts = [
        '<link rel="stylesheet" href="../assets/calculator.css">',
        '<div class="calc" id="calc" data-base="../" data-hwmode="device">',
        '<noscript><p class="calc-msg calc-msg--error">The calculator needs JavaScript. Every figure it shows is also on the model and hardware pages.</p></noscript>',
        '<div class="calc-msgs" id="calc-msgs" role="status" aria-live="polite"></div>',
        '<form class="calc-form" id="calc-form" autocomplete="off" onsubmit="return false">',
        '<fieldset class="calc-group"><legend>Model</legend>',
        f'<label>Model <select id="calc-model" name="m">{model_opts}</select></label>',
        f'<label>Quantization <select id="calc-quant" name="q">{quant_opts}</select></label>',
        '<label class="calc-wide">Context length <span class="calc-ctx-row">'
        '<input type="range" id="calc-ctx-range" min="0" max="1000" step="1" aria-label="Context length (log scale)">'
        f'<input type="number" id="calc-ctx" name="ctx" min="1" step="1" value="{d["context"]}" inputmode="numeric">'
        '</span><small id="calc-ctx-hint"></small></label>',
        f'<label>KV cache precision <select id="calc-kv" name="kv">{kv_opts}</select></label>',
        '</fieldset>',
        '<fieldset class="calc-group"><legend>Hardware</legend>',
        '<label>Hardware is <select id="calc-hwmode"><option value="device">A device from the catalog</option>'
        f'{rig_mode}<option value="custom">Custom (memory and bandwidth)</option></select></label>',
        f'<label class="calc-device">Device <select id="calc-hw" name="hw">{hw_groups}</select></label>',
        '<label class="calc-device calc-custom">How many <input type="number" id="calc-count" name="n" min="1" max="64" step="1" value="1"></label>',
        f'<label class="calc-rig">Rig <select id="calc-rig" name="rig">{rig_opts}</select></label>',
        '<label class="calc-custom">Kind <select id="calc-kind" name="kind"><option value="gpu">discrete GPU</option>'
        '<option value="unified">unified memory</option><option value="cpu">CPU only</option></select></label>',
        '<label class="calc-custom">Memory per device, GB <input type="number" id="calc-mem" name="mem" min="0" step="any" value="24"></label>',
        '<label class="calc-custom">Bandwidth, GB/s <input type="number" id="calc-bw" name="bw" min="0" step="any" value="1000"></label>',
        '<label class="calc-custom">FP16 TFLOPS (optional) <input type="number" id="calc-tflops" name="tf" min="0" step="any" value=""></label>',
        f'<label class="calc-device calc-custom">System RAM, GB <input type="number" id="calc-ram" name="ram" min="0" step="any" value="{d["ram_gb"]:g}"></label>',
        f'<label>Runtime <select id="calc-runtime" name="rt">{rt_opts}</select></label>',
        '</fieldset>',
        '</form>',
        '<div class="calc-out" id="calc-out" aria-live="polite">',
        '<div class="calc-verdict" id="calc-verdict"><p class="calc-verdict-head" id="calc-verdict-head">Computing…</p>'
        '<p class="calc-verdict-detail" id="calc-verdict-detail"></p>'
        '<p class="calc-verdict-detail" id="calc-advice"></p></div>',
        '<div class="calc-card"><h2>Memory</h2>',
        '<div class="calc-bar" id="calc-bar" role="img" aria-label="Memory breakdown"></div>',
        '<div class="calc-legend" id="calc-legend"></div>',
        '<table class="calc-table"><tbody id="calc-mem-rows"></tbody></table></div>',
        '<div class="calc-card"><h2>Where it goes</h2><table class="calc-table"><tbody id="calc-place-rows"></tbody></table></div>',
        '<div class="calc-card"><h2>Speed <small>(estimates)</small></h2><table class="calc-table"><tbody id="calc-speed-rows"></tbody></table>'
        '<p class="calc-note" id="calc-speed-note"></p></div>',
        '<div class="calc-card"><h2>Command line</h2><pre class="calc-cmd"><code id="calc-cmd"></code></pre>'
        '<p class="calc-note" id="calc-cmd-note"></p></div>',
        '<div class="calc-card"><h2>Share and read more</h2><p><a id="calc-share" href="#">Link to this result</a> '
        '<button type="button" class="md-button calc-copy" id="calc-copy">Copy link</button></p>'
        '<ul class="calc-links" id="calc-links"></ul></div>',
        '</div>',
        f'<p class="calc-meta" id="calc-meta" data-raw-bytes="{raw}" data-gzip-bytes="{gz}">This page carries the engine\'s '
        f'numbers for {len(cat.models)} models x {len(cat.quants)} quantizations, {len(cat.hardware)} devices and '
        f'{len(cat.rigs)} rigs as embedded data: {raw / 1e3:,.0f} kB, {gz / 1e3:,.0f} kB gzipped. Nothing is fetched.</p>',
        f'<script type="application/json" id="calc-data">{data}</script>',
        '<script src="../assets/calculator.js"></script>',
        '</div>',
    ]
    return "\n".join(parts)


def macros(ctx) -> dict:
    engine = ctx.engine

    def calculator() -> str:
        """The interactive calculator (form, outputs, embedded data, script)."""
        return render_calculator(engine)

    def calculator_data_size() -> str:
        """What the embedded data weighs, raw and gzipped, in kB."""
        raw, gz = data_size(data_json(engine))
        return f"{raw / 1e3:,.0f} kB ({gz / 1e3:,.0f} kB gzipped)"

    return {"calculator": calculator, "calculator_data_size": calculator_data_size}
