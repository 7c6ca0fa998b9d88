"""The methodology page: formulas, constants with sources, fitted factors, predicted vs measured."""

from __future__ import annotations


from ..engine import money
from ..engine.bands import FEW_POINTS_FACTOR, MIN_BAND_POINTS
from ..engine.calibrate import MIN_POINTS
from . import charts, fmt
from .common import Site, details, table
from .fmt import esc


def _accuracy(site: Site):
    key = ("accuracy",)
    if key not in site._cache:
        from ..accuracy import accuracy_table
        site._cache[key] = accuracy_table(site.engine)
    return site._cache[key]


def constants_table(site: Site) -> str:
    rows = []
    for cid, c in site.catalog.constants.items():
        value = f"{c.value:g}" if isinstance(c.value, (int, float)) else f"`{esc(c.value)}`"
        unit = "GB as sold (2^30 bytes)" if c.unit == "GiB" else c.unit  # see the units note
        rows.append([f"`{esc(cid)}`", value, esc(unit), esc(c.meaning), site.source_link("constants", cid)])
    rows.append(["`PSU_LOAD_FRACTION` (code)", f"{money.PSU_LOAD_FRACTION:g}", "fraction of PSU rating",
                 "sustained load a power supply is sized for (macros/engine/money.py)", "sizing rule of thumb"])
    return table(["constant", "value", "unit", "meaning", "source"], rows, ["l", "r", "l", "l", "l"])


def quant_table(site: Site) -> str:
    rows = []
    for qid, q in site.catalog.quants.items():
        b = site.engine.bits(qid)
        rows.append([f"`{esc(qid)}`", esc(q.format), fmt.bpw(b.body_bpw), fmt.bpw(b.embedding_bpw),
                     fmt.bpw(b.output_bpw), esc(b.body_formula)])
    return table(["quant", "format", "body bpw", "embeddings bpw", "output bpw", "how the body bpw is derived"], rows,
                 ["l", "l", "r", "r", "r", "l"])


def factors_table(site: Site) -> str:
    rows = []
    for f in _accuracy(site)["factors"]:
        ce = "n/a" if f["compute_efficiency"] is None else fmt.pct(f["compute_efficiency"])
        rows.append([f"`{esc(f['backend'])}`", fmt.pct(f["bandwidth_efficiency"]), f"{f['layer_overhead_us']:.1f} µs",
                     f"{f['linear_layer_us']:.1f} µs", f"{f['token_overhead_us']:.0f} µs", ce,
                     f"{f['linear_layer_prefill_gflop']:.2f}", f"{f['expert_call_gflop']:.3f}",
                     str(f["decode_points"]), str(f["prefill_points"])])
    return table(["class", "bandwidth efficiency", "per layer", "extra per Gated DeltaNet layer", "per token",
                  "compute efficiency", "Gated DeltaNet GFLOP-eq. per token", "GFLOP-eq. per expert call",
                  "decode points", "prefill points"], rows)


def bands_table(site: Site) -> str:
    """The error band printed beside every speed, per class."""
    rows = []
    for b in _accuracy(site)["bands"]:
        note = "" if b["enough"] else f"too few measurements: shown as a factor of {FEW_POINTS_FACTOR:g} or wider"
        rows.append([esc(b["kind"]), esc(b["class"]), str(b["points"]), f"÷/× {b['p90_factor']:.2f}",
                     f"÷/× {b['median_factor']:.2f}", note])
    return table(["speed", "setup", "held-out measurements", "band (90% within)", "median error", "note"], rows,
                 ["l", "l", "r", "r", "r", "l"])


def _summ(s: dict) -> str:
    if not s["count"]:
        return "-"
    return f"{s['count']}: {s['median']:.1f}% / {s['p90']:.1f}%"


def accuracy_summary(site: Site) -> str:
    rows = []
    for s in _accuracy(site)["summary"]:
        rows.append([esc(s["kind"].replace("_", " ")), esc(s["family"]), esc(s["class"]), _summ(s["engine"]),
                     _summ(s["held_out"]), _summ(s["naive"])])
    out = table(["kind", "models", "setup", "engine, fitted (n: median / p90 error)", "engine, held out",
                 "naive baseline"], rows, ["l", "l", "l", "r", "r", "r"])
    body = ("Error as a ratio: |ln(predicted / measured)| shown as a percentage, so a figure 30% high and one 30% "
            "low (a factor 1.3) count alike; count: median / 90th percentile. 'Held out' predicts each measurement "
            "from a fit that never saw its source (the whole published table or thread): the honest figure for "
            "setups the catalog has no measurement of. The naive baseline is what a reader would compute by hand: "
            "parameters x the bits in the quant's name / 8 for file sizes, rated bandwidth / file size for decode, "
            "rated FLOP/s / (2 x active parameters) for prefill.")
    return out + details(body)


def accuracy_chart(site: Site) -> str:
    rows = [r for r in _accuracy(site)["rows"] if r["kind"] in ("decode", "prefill") and r["predicted"]]

    def draw(fig, ax):
        for kind, marker in (("decode", "o"), ("prefill", "s")):
            pts = [(r["measured"], r["held_out_predicted"] or r["predicted"]) for r in rows if r["kind"] == kind]
            if pts:
                ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=10, marker=marker, alpha=0.6,
                           label=f"{kind} (held out)")
        lo = min([r["measured"] for r in rows] + [1.0])
        hi = max([r["measured"] for r in rows] + [10.0])
        ax.plot([lo, hi], [lo, hi], color="grey", linewidth=0.8, label="predicted = measured")
        charts.plain_log(ax)
        ax.set_xlabel("measured, tok/s")
        ax.set_ylabel("predicted, tok/s")
        ax.set_title("Engine speed estimates vs published measurements")
        ax.legend(frameon=False)
        ax.grid(alpha=0.3)

    return "\n" + charts.svg("accuracy", draw, width=6, height=5, alt="predicted versus measured speed") + "\n"


def _val(r, key) -> str:
    v = r[key]
    if v is None:
        return "n/a"
    return fmt.tok_s(v) if r["unit"] == "tok/s" else fmt.gb(v)


def accuracy_rows(site: Site) -> str:
    rows = []
    for r in _accuracy(site)["rows"]:
        if r["predicted"] is None:
            continue
        err = r["held_out_error_pct"] if r["held_out_error_pct"] is not None else r["error_pct"]
        rows.append([f"`{esc(r['id'])}`", esc(r["kind"].replace("_", " ")), esc(r["model"]), esc(r["quant"] or "-"),
                     esc(r["hardware"] or "-") + (f" x{r['count']}" if r["count"] > 1 else ""),
                     _val(r, "measured"), _val(r, "predicted"), f"{r['error_pct']:+.1f}%",
                     "n/a" if err is None else f"{err:+.1f}%"])
    return table(["id", "kind", "model", "quant", "hardware", "measured", "predicted", "error (fitted)",
                  "error (held out)"], rows)


def formulas(site: Site) -> str:
    s = site.engine.settings
    sm = site.engine.speed_model
    return "\n".join([
        "### Parameters",
        "Counted from the architecture, part by part (embeddings, attention, Gated DeltaNet, dense FFN, routed "
        "experts, shared expert, router, norms, output head, vision tower), following the Hugging Face "
        "implementations. Active parameters per token count the top-k routed experts only and leave out the "
        "vision tower.\n",
        "### Weight memory",
        "weights = sum over parts of (parameters x bits per weight / 8). A quant gives three bit widths: the body "
        "(layer weights), the embedding table and the output head. For a single storage type, bits = block bytes "
        "x 8 / block weights; for a mix (K-quants, Unsloth dynamic quants) the body's bits are derived from a "
        "published whole-file size on a reference model, less its embedding and output tensors.\n",
        quant_table(site),
        "### KV cache and recurrent state",
        "KV cache = 2 x full-attention layers x KV heads x head width x bytes per element x context x sequences "
        "(f16 2 bytes, q8_0 34/32, q4_0 18/32). Only full-attention layers cache keys and values. Gated DeltaNet "
        "layers keep a fixed state per sequence: value heads x key width x value width plus the convolution "
        "state, in f32, whatever the context.\n",
        "### Compute buffers and overhead",
        f"Compute buffer per device = max(logits, attention scores) + FFN and residual activations, f32, for one "
        f"micro-batch of {s.ubatch_tokens} tokens (flash attention {'on' if s.flash_attention else 'off'}: no "
        f"score matrix). Each discrete GPU also loses {fmt.mb(s.gpu_runtime_overhead_bytes)} to the driver and "
        f"context; the operating system keeps {fmt.capacity(s.os_reserve_bytes)} of RAM or unified memory.\n",
        "### Placement",
        "In order of preference: everything in accelerator memory (one device, or layers split across several in "
        "proportion to their memory); on unified memory, the GPU's default share of it "
        "(on Macs " + ", ".join(f"{fmt.pct(share)} below {fmt.capacity(below)}" if below != float("inf") else
                                f"{fmt.pct(share)} above" for below, share in s.macos_gpu_fractions) +
        f"; {fmt.pct(s.unified_gpu_fraction)} on other unified machines), or the "
        "whole memory less the OS reserve after raising the limit; for MoE models, the routed experts of some "
        "layers in system RAM (`--n-cpu-moe`); then whole layers in system RAM (`-ngl`); else it does not fit.\n",
        "### Decode speed",
        "Seconds per token = bytes read from accelerator memory / (rated bandwidth x bandwidth efficiency) + "
        "layers x fixed cost per layer + Gated DeltaNet layers x their extra cost + a fixed cost per token + "
        "bytes read from RAM / RAM bandwidth + a round trip per layer whose experts sit in RAM + a hop per GPU "
        "boundary (layer split) or two all-reduces per layer (tensor parallel). Bytes read per token: the "
        "attention and dense weights in full, the top-k routed experts and the shared expert, one embedding row, "
        "the whole output head, the KV cache up to its fill, and the recurrent state read and written. A "
        f"quantized KV cache (q8_0, q4_0) costs {sm.kv_quant_read_factor:g} times as much per byte as f16 (it is "
        f"dequantized as it is read); an MoE layer counts as {1 + sm.moe_layer_weight:g} plain layers. Each class "
        "of setup (backend; HBM datacenter parts apart; llama.cpp, vLLM/SGLang or MLX kernels) has its own "
        f"factors, fitted to the catalog's measurements; a class with fewer than {MIN_POINTS} measurements borrows "
        "the nearest wider class's:\n",
        factors_table(site),
        "### Prefill speed",
        "Seconds per prompt token = (2 x active parameters + attention FLOPs x their weight "
        "+ Gated DeltaNet layers x their fixed cost + expert matmuls per "
        "micro-batch x their fixed cost / micro-batch) / (rated dense FP16 FLOP/s x compute efficiency). "
        "Attention FLOPs = 4 x full-attention layers x heads x head width x average context, so prefill slows "
        "with depth much faster than decode; how much an attention FLOP costs against a weight FLOP depends on "
        "the backend's flash-attention kernels, so it is fitted per class. With few tokens per expert in a micro-batch, each expert matmul "
        "costs a fixed amount however few tokens it gets. Weights held in system RAM stream through each "
        "micro-batch at a rate fitted on offload measurements ("
        + ", ".join(f"{k} offload {v:.0%}" for k, v in sm.offload_prefill_share.items())
        + " of the host's RAM bandwidth: the weights are copied to the GPU through staging buffers).\n",
        "### Error bands",
        "Every speed on this site is printed with a band: the range within which 90% of the held-out "
        "measurements of the same class of setup lay (leave-one-source-out: each published table or thread "
        f"predicted by a fit that never saw it). A class resting on fewer than {MIN_BAND_POINTS} such measurements "
        f"says so and is shown at least a factor of {FEW_POINTS_FACTOR:g} wide.\n",
        bands_table(site),
        "### Money and power",
        "Power at load = the sum of the accelerators' TDPs plus the CPU platform's. PSU rating = power / "
        f"{money.PSU_LOAD_FRACTION:g}. Electricity per month = power x hours / 1000 x price per kWh. Cost per "
        "token/s = price / decode speed. Break-even monthly volume = (hardware price / months) / (API price per "
        "token - electricity per token).\n",
    ])


def units_note(site: Site) -> str:
    """The one note on units: capacities as sold, computed sizes in GB of 10^9 bytes, decimal bandwidths."""
    hw = next((h for h in site.catalog.hardware.values() if h.kind == "gpu" and h.featured),
              next(iter(site.catalog.hardware.values())))
    cap = site.engine.machine(hw.id).accelerators[0].memory_bytes if hw.kind != "cpu" else None
    example = ""
    if cap:
        example = (f" The {esc(hw.name)}, sold as {fmt.capacity(cap)}, holds {cap / 2**30:g} GiB "
                   f"= {fmt.gb(cap)} of 10^9 bytes.")
    body = (
        "- **Memory a device or machine has** (GPU memory, unified memory, system RAM) is printed as the vendor "
        "sells it. Memory chips are built in powers of two, so a capacity sold as \"N GB\" is N GiB "
        "(N x 2^30 bytes): vendors' GB here means GiB." + example + "\n"
        "- **Memory the engine computes** (weights, file sizes, KV cache, memory needed, the budget a model may "
        "use, headroom) is printed in GB of 10^9 bytes, the unit Hugging Face file listings use, so a weight "
        "size can be checked against the published file. A card sold as N GB therefore offers about 7% more "
        "than N of these GB.\n"
        "- **Bandwidths** are decimal, as vendors rate them: GB/s = 10^9 bytes per second.\n"
        "- **Parameters**: B = 10^9 parameters. Inside, the engine counts plain bytes and converts only to print.\n")
    return f'<div class="units-note" markdown>\n\n{body}\n</div>\n'


def macros(site: Site) -> dict:
    return {
        "units_note": lambda: units_note(site),
        "method_formulas": lambda: formulas(site),
        "method_constants": lambda: constants_table(site),
        "accuracy_summary": lambda: accuracy_summary(site),
        "accuracy_chart": lambda: accuracy_chart(site),
        "accuracy_rows": lambda: accuracy_rows(site),
    }
