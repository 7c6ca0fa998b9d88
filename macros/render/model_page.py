"""One page per catalog model, same skeleton: specs, memory, KV cache, hardware, setups, commands, caveats."""

from __future__ import annotations

from ..engine.memory import kv_bytes_per_token, recurrent_state_bytes
from ..engine.params import head_dim, n_full_attention_layers, n_linear_attention_layers
from ..engine import search
from . import charts, commands, fmt
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


def runs_rows(site: Site, mid: str):
    """(entry, quant, estimate) for every featured machine on which the model runs, fastest first."""
    out = []
    for ent in site.featured_entries().values():
        best = site.best(mid, ent.machine, 4096)
        if best:
            out.append((ent, best[0], best[1]))
    out.sort(key=lambda r: -(r[2].decode_tok_s or 0))
    return out


def hardware_section(site: Site, mid: str, rows) -> str:
    if not rows:
        return featured_note() + "\nNo featured machine runs it, even with system RAM.\n"
    t = []
    for ent, q, e in rows:
        p = e.placement
        how = fmt.placement(p.placement)
        if p.ram_bytes and p.placement != "cpu":
            how += f" ({fmt.pct(p.offloaded_fraction)} of weights)"
        t.append([site.machine_link(ent.id, BASE), ent.kind, f"`{esc(q)}`", how,
                  fmt.gb(e.memory.total), fmt.gb(p.headroom_bytes) if p.fits else "-",
                  fmt.tok_s(e.decode_tok_s), fmt.tok_s(e.prefill_tok_s)])
    out = table(["machine", "kind", "best quant", "placement", "memory, GB", "GPU headroom, GB",
                 "decode (estimate)", "prefill (estimate)"], t)
    out = featured_note() + "\n" + out
    ent, q, e = rows[0]
    body = ("For each machine the quant shown is the one with the most bits per weight that fits entirely in "
            "accelerator memory at 4,096 tokens, or failing that the most bits that runs with system RAM, among " +
            ", ".join(f"`{esc(x)}`" for x in site.quants()) + ".\n\n"
            f"Decode time per token on the fastest, {site.machine_link(ent.id, BASE)} at `{esc(q)}`, by term "
            f"(bytes read per token: {fmt.gb(e.decode.bytes_read.total)}):\n\n" +
            parts_table(e.decode.terms, fmt.ms) + f"\n1 / {fmt.ms(e.decode.seconds_per_token)} = **{fmt.tok_s(e.decode_tok_s)}**.")
    return out + details(body)


def recommended(site: Site, mid: str, rows) -> tuple[str, tuple | None]:
    lines = []
    fits = [r for r in rows if r[2].placement.fits]
    pick = None
    if fits:
        ent, q, e = fits[0]
        lines.append(f"- **Fastest that holds it all in accelerator memory:** {site.machine_link(ent.id, BASE)} at "
                     f"`{esc(q)}`, {fmt.tok_s(e.decode_tok_s)} (estimate).")
        pick = fits[0]
    priced = [(r, r[0].machine.price_usd) for r in fits if r[0].machine.price_usd]
    q4 = site.engine.bits("Q4_K_M").body_bpw if "Q4_K_M" in site.catalog.quants else 0
    good = [(r, p) for r, p in priced if site.engine.bits(r[1]).body_bpw >= q4]
    if good:
        (ent, q, e), price = min(good, key=lambda x: x[1])
        lines.append(f"- **Cheapest listed price that fits it at 4 bits or more:** {site.machine_link(ent.id, BASE)} "
                     f"({fmt.usd(price)}) at `{esc(q)}`, {fmt.tok_s(e.decode_tok_s)}.")
    offload = [r for r in rows if not r[2].placement.fits]
    if offload:
        ent, q, e = offload[0]
        lines.append(f"- **Fastest with part of it in system RAM:** {site.machine_link(ent.id, BASE)} at `{esc(q)}`, "
                     f"{fmt.placement(e.placement.placement)}, {fmt.tok_s(e.decode_tok_s)}.")
        if pick is None:
            pick = offload[0]
    rigs = [r for r in rows if r[0].kind == "rig"]
    if rigs:
        pick = rigs[0] if pick is None or pick[0].kind != "rig" else pick
    if not lines:
        lines.append("- No featured machine runs it.")
    return featured_note() + "\n" + "\n".join(lines) + "\n", pick


def commands_section(site: Site, mid: str, pick, rows) -> str:
    if pick is None:
        return "No featured machine runs it, so no command is computed.\n"
    m = site.catalog.models[mid]
    ent, q, _ = pick
    need = "fits" if _.placement.fits else "runs"
    ctx = site.max_context(mid, q, ent.machine, need) or 2048
    ctx = min(ctx, CMD_CONTEXT)
    e = site.estimate(mid, q, context=ctx, machine=ent.machine)
    out = [f"For {site.machine_link(ent.id, BASE)} at `{esc(q)}` with a {fmt.tokens(ctx)}-token context "
           f"({fmt.placement(e.placement.placement)}):\n",
           "**llama.cpp**\n", commands.block(commands.llama_cpp(site.catalog, m, q, e, ctx)),
           "**Ollama** (Modelfile, then `ollama create` and `ollama run`)\n",
           commands.block(commands.ollama(site.catalog, m, q, e, ctx), "text")]
    n = ent.machine.count
    if ent.machine.kind == "gpu":
        vq = next((x for x in ("FP8", "AWQ-INT4") if x in site.catalog.quants), None)
        if vq:
            mode = "tensor_parallel" if n > 1 else "layer_split"
            ve = site.estimate(mid, vq, context=ctx, machine=ent.machine, mode=mode)
            if ve.placement.fits:
                out += [f"**vLLM** (`{esc(vq)}` weights, tensor parallel over {n} GPU(s), "
                        f"{fmt.tok_s(ve.decode_tok_s)} estimated)\n",
                        commands.block(commands.vllm(site.catalog, m, n, ctx))]
            else:
                out.append(f"**vLLM** keeps every weight in GPU memory; `{esc(vq)}` needs "
                           f"{fmt.gb(ve.memory.total)} here, more than this machine's GPUs hold, so no vLLM command.\n")
    mac = next((r for r in rows if r[0].machine.kind == "unified"
                and r[0].machine.accelerators[0].backend == "metal"), None)
    if mac:
        ment = mac[0]
        mctx = min(site.max_context(mid, mac[1], ment.machine, "runs") or 2048, CMD_CONTEXT)
        out += [f"**MLX** on {site.machine_link(ment.id, BASE)} (the fastest featured Mac for it):\n",
                commands.block(commands.mlx(site.catalog, m, mctx))]
    body = ("`-ngl` is the number of layers the engine places on the GPU(s); `--n-cpu-moe` the number of layers "
            "whose routed experts stay in system RAM; `-c` the context the placement was computed for. Flag names "
            "come from `catalog/runtimes.yaml`. File names are placeholders for the download you choose.")
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
    rec, pick = recommended(site, mid, rows)
    return "\n".join([
        f"# {esc(m.name)}\n",
        f"{_sentence_case(esc(kind_label(m.architecture)))} model of the `{esc(m.family)}` family. "
        "Every figure below is computed from the catalog at build time.\n",
        estimate_note(BASE),
        "## Specs\n", specs(site, mid),
        "## Memory by quantization and context\n", memory_section(site, mid),
        "## KV cache and recurrent state\n", kv_section(site, mid),
        "## Hardware that runs it\n", hardware_section(site, mid, rows),
        "## Recommended setups\n", rec,
        "## Commands\n", commands_section(site, mid, pick, rows),
        "## Caveats\n", caveats(site, mid),
    ])
