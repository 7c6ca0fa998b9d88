"""One page per catalog hardware item and rig, same skeleton: specs, best model, what fits, caveats."""

from __future__ import annotations

from ..engine.memory import kv_bytes_per_token
from ..engine import money, search
from . import fmt
from .common import FAMILY, Site, admonition, details, estimate_note, table
from .fmt import esc

BASE = "../"


def _mem(m) -> float:
    """Installed memory in bytes as the engine reads it (the accelerator's, else the host's)."""
    return m.accelerators[0].memory_bytes if m.accelerators else m.host.memory_bytes


def specs(site: Site, mid: str) -> str:
    ent = site.entry(mid)
    m = ent.machine
    rows = []
    if ent.kind == "hardware":
        hw = site.catalog.hardware[mid]
        rows += [["Vendor", esc(hw.vendor)], ["Kind", esc(hw.kind)],
                 ["Memory", fmt.capacity(_mem(m))],
                 ["Memory type", esc(hw.memory_type or "n/a")],
                 ["Memory bandwidth (rated)", f"{hw.memory_bandwidth_gb_s:,.0f} GB/s"],
                 ["Dense FP16 tensor rate", f"{hw.fp16_tflops:,.1f} TFLOPS" if hw.fp16_tflops else "n/a"],
                 ["Power (TDP)", fmt.watts(hw.tdp_w)], ["Backend", esc(hw.backend)],
                 ["Price", f"{fmt.usd(hw.price_usd)} ({esc(hw.price_kind or '')}, {esc(hw.price_date)})" if hw.price_usd else "n/a"]]
        if hw.launch_date:
            rows.append(["Launched", esc(hw.launch_date.isoformat())])
        rows.append(["Source", site.source_link("hardware", mid)])
    else:
        rig = site.catalog.rigs[mid]
        parts = ", ".join(f"{p.count} x {site.machine_link(p.hardware, BASE)}" for p in rig.parts)
        rows += [["Parts", parts],
                 ["Accelerator memory", fmt.capacity(sum(d.memory_bytes for d in m.accelerators)) if m.accelerators else "none"],
                 ["System RAM", fmt.capacity(m.ram_bytes) if m.host else "none"],
                 ["CPU platform", site.machine_link(rig.cpu_platform, BASE) if rig.cpu_platform else "n/a"],
                 ["GPU link", esc(m.gpu_link)],
                 ["Power at load (TDPs)", fmt.watts(money.power_draw_w(m))],
                 ["Price", fmt.usd(m.price_usd) if m.price_usd else "n/a"],
                 ["Source", site.source_link("rigs", mid)]]
    return table(["", ""], rows, ["l", "l"])


def featured_note(base: str = BASE) -> str:
    """One sentence: these sections cover the featured models; where the rest are."""
    return (f"This covers the catalog's featured models; for any other, see its page in the "
            f"[models index]({base}models/index.md) or try it in the [calculator]({base}calculator.md).\n")


def fit_rows(site: Site, mid: str):
    """(model id, quants that fit entirely, best quant, its estimate) for every featured model that runs here.
    Memory grows with bits per weight, so every quant with fewer bits than the best fitting one fits too."""
    m = site.entry(mid).machine
    models = sorted(site.featured_models(), key=lambda x: (site.catalog.models[x].family != FAMILY,
                                                           -site.engine.params(x).total.total))
    out = []
    for model_id in models:
        b = site.best(model_id, m)
        if not b:
            continue
        q, e = b
        top = site.engine.bits(q).body_bpw
        fitting = [x for x in site.quants() if site.engine.bits(x).body_bpw <= top] if e.placement.fits else []
        out.append((model_id, fitting, q, e))
    return out


def best_model(site: Site, mid: str) -> tuple[str, str, object] | None:
    """The featured Qwen 3.5 model with the most parameters whose best quant fits entirely; else the largest
    that runs."""
    m = site.entry(mid).machine
    fam = sorted((x for x in site.featured_models() if site.catalog.models[x].family == FAMILY),
                 key=lambda x: -site.engine.params(x).total.total)
    runs = None
    for model_id in fam:
        b = site.best(model_id, m)
        if b and b[1].placement.fits:
            return model_id, b[0], b[1]
        if b and runs is None:
            runs = (model_id, b[0], b[1])
    return runs


def best_section(site: Site, mid: str) -> str:
    b = best_model(site, mid)
    if b is None:
        return featured_note() + "\nNo featured Qwen 3.5 model runs on it in the catalog's terms.\n"
    model_id, q, e = b
    m = site.entry(mid).machine
    need = "fits" if e.placement.fits else "runs"
    ctx = site.max_context(model_id, q, m, need)
    out = featured_note() + "\n" + (
           f"**{site.model_link(model_id, BASE)} at `{esc(q)}`**: {fmt.placement(e.placement.placement)}, "
           f"{fmt.tok_s(e.decode_tok_s)} decode and {fmt.tok_s(e.prefill_tok_s)} prefill (estimates), "
           f"up to {fmt.tokens(ctx)} tokens of context.\n")
    body = ("The featured Qwen 3.5 models are tried from the largest down; for each, the quant with the most bits per "
            "weight that fits entirely in accelerator memory at 4,096 tokens wins; if none fits, the largest "
            "model that runs with system RAM is shown. The context is the largest power of two (or the model's "
            "native limit) at which the same holds.\n\n"
            f"Memory needed {fmt.gb(e.memory.total)}; accelerator budget {fmt.gb(e.placement.budget_bytes)}; "
            f"headroom {fmt.gb(e.placement.headroom_bytes)}.")
    return out + details(body)


def fits_section(site: Site, mid: str) -> str:
    rows = fit_rows(site, mid)
    if not rows:
        return featured_note() + "\nNo featured model runs on it.\n"
    t = []
    for model_id, fitting, q, e in rows:
        p = e.placement
        ctx = None
        if p.fits:
            a = site.catalog.models[model_id].architecture
            ctx = search.context_from_headroom(e.context, p.headroom_bytes, kv_bytes_per_token(a),
                                                a.max_position_embeddings)
        how = fmt.placement(p.placement)
        if p.ram_bytes and p.placement != "cpu":
            how += f" ({fmt.pct(p.offloaded_fraction)} in RAM)"
        t.append([site.model_link(model_id, BASE), " ".join(f"`{esc(x)}`" for x in fitting) or "none",
                  f"`{esc(q)}`", how, fmt.gb(e.memory.total), fmt.gb(p.headroom_bytes) if p.fits else "-",
                  fmt.tokens(ctx) if ctx else "-", fmt.tok_s(e.decode_tok_s)])
    out = featured_note() + "\n"
    out += table(["model", "quants that fit entirely", "best quant", "placement", "memory at 4K, GB",
                  "headroom, GB", "largest context that fits", "decode (estimate)"], t)
    body = ("Every featured model for which at least one of " + ", ".join(f"`{esc(x)}`" for x in site.quants()) +
            " runs. 'Quants that fit entirely' need no system RAM at 4,096 tokens of f16 KV cache, batch 1; the "
            "figures are for the best of them (most bits per weight), or for the best quant that runs with "
            "system RAM when none fits. Headroom is the accelerator memory left after weights, cache, state and "
            "buffers; the largest context is 4,096 + headroom / KV bytes per token, rounded down to a multiple "
            "of 1,024 and capped at the model's native limit (only the KV cache grows with the context; flash "
            "attention keeps the buffers fixed). GB = 10^9 bytes.")
    return out + details(body)


def caveats(site: Site, mid: str) -> str:
    ent = site.entry(mid)
    lines = []
    if ent.machine.kind == "unified":
        lines.append("On unified memory the GPU may use only part of the installed memory by default; rows marked "
                     "'limit raised' need that limit raised (macOS: `sysctl iogpu.wired_limit_mb`).")
    if ent.kind == "hardware" and ent.machine.kind == "gpu":
        lines.append("This page is the card alone. Offloading to system RAM is shown on the rig pages and the "
                     "[offloading guide](../guides/multi-gpu.md).")
    # the catalog's `notes:` are for editors: they stay in the data, off the page
    lines.append("Speeds are estimates at batch 1 with the cache filled to the context given.")
    return admonition("\n".join(f"- {x}" for x in lines), "warning", "Caveats")


def hardware_page(site: Site, mid: str) -> str:
    ent = site.entry(mid)
    return "\n".join([
        f"# {esc(ent.name)}\n",
        ("A named build from the catalog." if ent.kind == "rig" else "A hardware item from the catalog.") +
        " Every figure below is computed at build time.\n",
        estimate_note(BASE),
        "## Specs\n", specs(site, mid),
        "## Best model for it\n", best_section(site, mid),
        "## What fits\n", fits_section(site, mid),
        "## Caveats\n", caveats(site, mid),
    ])
