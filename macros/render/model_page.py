"""One page per catalog model, same skeleton: specs, memory, KV cache, hardware, setups, commands, caveats."""

from __future__ import annotations

from ..engine.memory import kv_bytes_per_token, recurrent_state_bytes
from ..engine.params import head_dim, n_full_attention_layers, n_linear_attention_layers
from ..engine import search
from ..engine import advice
from . import advice_text, charts, commands, fmt
from .common import CONTEXTS, Site, admonition, details, estimate_note, parts_table, table
from .fmt import esc

BASE = "../"
CMD_CONTEXT = 32768  # the context the example commands ask for (capped by what fits)


def kind_label(a) -> str:
    moe = f"MoE, {a.num_experts} experts, top-{a.num_experts_per_tok}" if a.num_experts else "dense"
    if a.full_attention_interval and a.full_attention_interval > 1:
        return f"{moe}, hybrid attention"
    return moe


def _sentence_case(text: str) -> str:
    """First letter up, the rest as written (so "MoE" stays "MoE")."""
    return text[:1].upper() + text[1:]


def attention_layout(a) -> str:
    full, lin = n_full_attention_layers(a), n_linear_attention_layers(a)
    if not lin:
        return f"{full} full-attention layers"
    return f"{full} full attention + {lin} Gated DeltaNet (1 in {a.full_attention_interval} full)"


def specs(site: Site, mid: str) -> str:
    m = site.catalog.models[mid]
    a = m.architecture
    c = site.engine.params(mid)
    rows = [
        ["Type", esc(kind_label(a))],
        ["Parameters, total (computed / official)", f"{fmt.params(c.total.total)} / {fmt.params(m.params_total_official_b * 1e9)}"],
        ["Parameters active per token (computed / official)", f"{fmt.params(c.active.total)} / {fmt.params(m.params_active_official_b * 1e9)}"],
        ["Layers", f"{a.num_hidden_layers}"],
        ["Attention layout", esc(attention_layout(a))],
        ["Hidden size", f"{a.hidden_size:,}"],
        ["Attention heads (query / KV)", f"{a.num_attention_heads} / {a.num_key_value_heads} (head width {head_dim(a)})"],
        ["Vocabulary", f"{a.vocab_size:,}"],
        ["Context (native / extended)", f"{fmt.tokens(a.max_position_embeddings)} / {fmt.tokens(m.context_extended) if m.context_extended else 'n/a'} tokens"],
        ["Vision tower", fmt.params(c.total['vision']) if c.total["vision"] else "none"],
    ]
    if m.released:
        rows.append(["Released", esc(m.released.isoformat())])
    if m.license:
        rows.append(["License", esc(m.license)])
    if m.hf_repo:
        rows.append(["Weights", f"`{esc(m.hf_repo)}`"])
    rows.append(["Source", site.source_link("models", mid)])
    out = table(["", ""], rows, ["l", "l"])
    body = ("Parameters are counted from the architecture fields (`" + esc(site.catalog.where("models", mid)) +
            "`), part by part; the total is their sum and is checked against the publisher's figure.\n\n" +
            table(["part", "total", "active per token"],
                  [[esc(k.replace("_", " ")), fmt.params(v), fmt.params(c.active[k])] for k, v in c.total.values.items() if v] +
                  [["**total**", f"**{fmt.params(c.total.total)}**", f"**{fmt.params(c.active.total)}**"]]))
    return out + details(body)


def memory_section(site: Site, mid: str) -> str:
    a = site.catalog.models[mid].architecture
    ctxs = [c for c in CONTEXTS if c <= a.max_position_embeddings] or [a.max_position_embeddings]
    rows = []
    for q in site.quants():
        e0 = site.estimate(mid, q, context=ctxs[0])
        row = [f"`{esc(q)}`", fmt.bpw(site.engine.bits(q).body_bpw), fmt.gb(e0.memory["weights"])]
        for c in ctxs:
            row.append(fmt.gb(site.estimate(mid, q, context=c).memory.total))
        rows.append(row)
    head = ["quant", "bits/weight (body)", "weights, GB"] + [f"total at {fmt.tokens(c)} tokens, GB" for c in ctxs]
    out = table(head, rows)
    q_ex = "Q4_K_M" if "Q4_K_M" in site.catalog.quants else site.quants()[0]
    ex = site.estimate(mid, q_ex, context=ctxs[-1])
    body = (f"Total = weights + KV cache + recurrent state + compute buffer (one device, no runtime overhead). "
            f"Example: `{esc(q_ex)}` at {fmt.tokens(ctxs[-1])} tokens (GB = 10^9 bytes):\n\n" +
            parts_table(ex.memory, fmt.gb) + "\nWeights by part:\n\n" + parts_table(ex.weights, fmt.gb) +
            "\nAssumptions:\n\n" + "\n".join(f"- {esc(s)}" for s in ex.assumptions))
    out += details(body)
    out += memory_chart(site, mid)
    return out


def memory_chart(site: Site, mid: str) -> str:
    a = site.catalog.models[mid].architecture
    grid = search.context_grid(a.max_position_embeddings, start=min(2048, a.max_position_embeddings))
    qs = [q for q in ("Q8_0", "Q4_K_M", "Q2_K") if q in site.catalog.quants]
    series = {q: [site.estimate(mid, q, context=c).memory.total / 1e9 for c in grid] for q in qs}

    def draw(fig, ax):
        for q, ys in series.items():
            ax.plot(grid, ys, marker="o", markersize=3, label=q)
        charts.context_axis(ax, grid)
        ax.set_xlabel("context, tokens")
        ax.set_ylabel("memory, GB (10^9 bytes)")
        ax.set_title(f"{site.catalog.models[mid].name}: total memory vs context (estimate)")
        ax.set_ylim(bottom=0)
        ax.legend(frameon=False)
        ax.grid(alpha=0.3)

    return "\n" + charts.svg(f"mem-{mid}", draw, alt=f"memory vs context for {site.catalog.models[mid].name}") + "\n"


def quality_section(site: Site, mid: str) -> str:
    """Each quant's departure from BF16 for this model: measured where published, else the fitted estimate."""
    rows = []
    for q in site.quants():
        qual = advice.quality(site.engine, mid, q)
        extra = []
        for r in qual.records:
            if r.metric == "kld_mean":
                continue
            url = next((s.url for s in r.source if s.url), None)
            label = {"ppl_ratio": "PPL ratio", "top_token_pct": "same top token, %",
                     "benchmark_error_increase_pct": "benchmark error increase, %",
                     "benchmark_recovery_pct": "benchmark score recovered, %"}[r.metric]
            extra.append(f'{label} {r.value:g} (<a href="{esc(url)}">source</a>)' if url else f"{label} {r.value:g}")
        rows.append([f"`{esc(q)}`", fmt.bpw(site.engine.bits(q).body_bpw), advice_text.quality_figure(site, mid, q),
                     "; ".join(extra) or "-"])
    out = table(["quant", "bits/weight (body)", "departure from BF16 (mean KL divergence)", "other measurements"],
                rows, ["l", "r", "l", "l"])
    fit = advice.quality_model(site.engine).fit
    body = ("Mean KL divergence (KLD, nats) compares the quantized model's next-token distribution with the "
            "unquantized one over a text; 0 means identical. Where the catalog has a published measurement for "
            "this model and quant it is shown with its source (recipes differ between uploaders; the file from "
            "the repository the commands download is preferred). Otherwise the figure is an estimate from "
            "ln(KLD) = a + b x bits per weight + c x ln(parameters in billions), fitted to the catalog's "
            "published measurements" + (f" ({fit.points} points, root-mean-square error a factor of {fit.factor:.1f}; model "
            f"sizes held to the measured {fit.params_b_range[0]:.0f} to {fit.params_b_range[1]:.0f} B, so a larger "
            "model gets no credit for its size)" if fit else "") + ".")
    return out + details(body)


def kv_section(site: Site, mid: str) -> str:
    a = site.catalog.models[mid].architecture
    rows = []
    for kv in ("f16", "q8_0", "q4_0"):
        per = kv_bytes_per_token(a, kv)
        row = [f"`{kv}`", fmt.small_bytes(per)]
        for c in CONTEXTS:
            row.append(fmt.gb(per * c) if c <= a.max_position_embeddings else "above the limit")
        rows.append(row)
    out = table(["KV type", "per token"] + [f"at {fmt.tokens(c)}, GB" for c in CONTEXTS], rows)
    rs = recurrent_state_bytes(a)
    body = (f"KV bytes per token = 2 (K and V) x {n_full_attention_layers(a)} full-attention layers x "
            f"{a.num_key_value_heads} KV heads x {head_dim(a)} head width x bytes per element "
            f"(f16 2, q8_0 34/32, q4_0 18/32) = {fmt.small_bytes(kv_bytes_per_token(a))} at f16.")
    if rs:
        body += (f"\n\nThe {n_linear_attention_layers(a)} Gated DeltaNet layers keep a fixed state instead: "
                 f"{fmt.mb(rs)} per sequence, whatever the context.")
    return out + details(body)


def featured_note(base: str = BASE) -> str:
    """One sentence: these sections cover the featured machines; where the rest are."""
    return (f"This covers the catalog's featured machines; for any other, see its page in the "
            f"[hardware index]({base}hardware/index.md) or try it in the [calculator]({base}calculator.md).\n")


def runs_rows(site: Site, mid: str, use: str = "chat"):
    """(entry, recommendation) for every featured machine with a usable setup, recommended ones first,
    then fastest first."""
    out = []
    for ent in site.featured_entries().values():
        rec = site.recommend(mid, ent.machine, use)
        if rec.pick is not None:
            out.append((ent, rec))
    out.sort(key=lambda r: (r[1].status != "recommended", -(r[1].estimate.decode_tok_s or 0)))
    return out


def hardware_section(site: Site, mid: str, rows) -> str:
    if not rows:
        return featured_note() + "\nNo featured machine runs it usefully, even with system RAM.\n"
    t = []
    for ent, rec in rows:
        e = rec.estimate
        p = e.placement
        how = fmt.placement(p.placement)
        if p.ram_bytes and p.placement != "cpu":
            how += f" ({fmt.pct(p.offloaded_fraction)} of weights)"
        free = rec.pick.free_bytes
        t.append([site.machine_link(ent.id, BASE), esc(rec.status), f"`{esc(rec.quant)}`", fmt.tokens(rec.context), how,
                  fmt.gb(free), site.speed_text(e, 'decode'), site.speed_text(e, 'prefill'),
                  advice_text.quality_figure(site, mid, rec.quant)])
    out = table(["machine", "verdict", "quant", "context, tokens", "placement", "headroom, GB",
                 "decode (estimate)", "prefill (estimate)", "quality cost"], t)
    out = featured_note() + "\n" + out
    ent, rec = rows[0]
    e = rec.estimate
    body = (advice_text.policy_note(site) + "\n\n"
            f"Decode time per token on {site.machine_link(ent.id, BASE)} at `{esc(rec.quant)}`, by term "
            f"(bytes read per token: {fmt.gb(e.decode.bytes_read.total)}):\n\n" +
            parts_table(e.decode.terms, fmt.ms) + f"\n1 / {fmt.ms(e.decode.seconds_per_token)} = **{site.speed_text(e, 'decode')}**.")
    return out + details(body)


def priced(site: Site, ent) -> float | None:
    """A price that may enter a ranking: none for a rig priced for its GPUs only."""
    if ent.kind == "rig" and getattr(site.catalog.rigs[ent.id], "price_scope", None) == "gpus_only":
        return None
    return ent.machine.price_usd


def best_for_you(site: Site, mid: str) -> tuple[str, tuple | None]:
    """One line per use: the cheapest priced featured machine the policy recommends, and the fastest.
    Returns the text and the (entry, recommendation) the commands section is written for."""
    m = site.catalog.models[mid]
    lines, pick = [], None
    for use in advice.USES:
        rows = runs_rows(site, mid, use)
        ok = [r for r in rows if r[1].status == "recommended"]
        cheap = [(r, priced(site, r[0])) for r in ok if priced(site, r[0])]
        if cheap:
            (ent, rec), price = min(cheap, key=lambda x: (x[1], -(x[0][1].estimate.decode_tok_s or 0)))
            lines.append("- " + advice_text.line(site, rec, f"{site.machine_link(ent.id, BASE)} ({fmt.usd(price)})",
                                                 esc(m.name)))
            if pick is None:
                pick = (ent, rec)
        if ok:
            ent, rec = ok[0]
            if not cheap or ent.id != min(cheap, key=lambda x: x[1])[0][0].id:
                lines.append(f"    - Fastest for {esc(use)} (alternative): {site.machine_link(ent.id, BASE)} at "
                             f"`{esc(rec.quant)}`, {site.speed_text(rec.estimate, 'decode')}.")
            if pick is None:
                pick = (ent, rec)
        elif rows:
            ent, rec = rows[0]
            lines.append("- " + advice_text.line(site, rec, site.machine_link(ent.id, BASE), esc(m.name)))
            if pick is None:
                pick = (ent, rec)
        else:
            lines.append(f"- **{esc(use.capitalize())}:** no featured machine runs it usefully.")
    return featured_note() + "\n" + "\n".join(lines) + "\n", pick


def commands_section(site: Site, mid: str, pick) -> str:
    if pick is None:
        return "No featured machine runs it usefully, so no command is computed.\n"
    m = site.catalog.models[mid]
    ent, rec = pick
    out = [f"For {site.machine_link(ent.id, BASE)} at `{esc(rec.quant)}` with a {fmt.tokens(rec.context)}-token "
           f"context ({fmt.placement(rec.estimate.placement.placement)}), the setup recommended above:\n",
           commands.setup_block(site, mid, rec)]
    mach = ent.machine
    if mach.kind == "gpu" and not mach.host:
        vq = next((x for x in ("FP8", "AWQ-INT4") if x in site.catalog.quants), None)
        if vq:
            mode = "tensor_parallel" if mach.count > 1 else "layer_split"
            ve = site.estimate(mid, vq, context=rec.context, machine=mach, mode=mode)
            if ve.placement.fits:
                out += [f"**vLLM** (alternative: `{esc(vq)}` weights, tensor parallel over {mach.count} GPU(s), "
                        f"{site.speed_text(ve, 'decode')} estimated)\n",
                        commands.block(commands.vllm(site.catalog, m, mach.count, rec.context))]
    body = ("`-ngl` is the number of layers the engine places on the GPU(s); `--n-cpu-moe` the number of layers "
            "whose routed experts stay in system RAM; `-c` the context the placement was computed for; `-fa on` "
            "turns on flash attention (the compute buffers the engine counts assume it); `--parallel 1` keeps one "
            "slot so the whole context serves one conversation. Flag names come from the runtime catalog; "
            "repositories and file names from the download catalog.")
    return "\n".join(out) + details(body)


def caveats(site: Site, mid: str) -> str:
    lines = ["Memory figures count the text model; the vision tower is added only when images are used "
             "(it ships as a separate file in GGUF form).",
             "Multi-token-prediction layers are left out, as llama.cpp's GGUF files leave them out.",
             "Speeds are for one sequence (batch 1) with the KV cache filled to the context given."]
    # the catalog's `notes:` are for editors: they stay in the data, off the page
    return admonition("\n".join(f"- {x}" for x in lines), "warning", "Caveats")


def model_page(site: Site, mid: str) -> str:
    m = site.catalog.models[mid]
    rows = runs_rows(site, mid)
    rec, pick = best_for_you(site, mid)
    return "\n".join([
        f"# {esc(m.name)}\n",
        f"{_sentence_case(esc(kind_label(m.architecture)))} model of the `{esc(m.family)}` family. "
        "Every figure below is computed from the catalog at build time.\n",
        "## Best for you\n", rec,
        estimate_note(BASE),
        "## Specs\n", specs(site, mid),
        "## Memory by quantization and context\n", memory_section(site, mid),
        "## Quality by quantization\n", quality_section(site, mid),
        "## KV cache and recurrent state\n", kv_section(site, mid),
        "## Hardware that runs it\n", hardware_section(site, mid, rows),
        "## Commands\n", commands_section(site, mid, pick),
        "## Caveats\n", caveats(site, mid),
    ])
