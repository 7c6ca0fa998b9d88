"""Home matrix, the family page and the index pages of models and hardware."""

from __future__ import annotations

from ..engine.memory import kv_bytes_per_token, recurrent_state_bytes
from . import advice_text, charts, fmt
from .common import CONTEXTS, Site, details, estimate_note, table
from .fmt import esc
from .model_page import attention_layout, kind_label


def what_can_i_run(site: Site, machine_ids: list[str], base: str = "", use: str = "chat") -> str:
    ids = [i for i in machine_ids if i in site.entries()]
    models = sorted(site.family_models(), key=lambda x: site.engine.params(x).total.total)
    head = ["model"] + [site.machine_link(i, base) for i in ids]
    rows = []
    for mid in models:
        row = [site.model_link(mid, base)]
        for i in ids:
            row.append(advice_text.cell(site, site.recommend(mid, site.entry(i).machine, use), base))
        rows.append(row)
    out = table(head, rows, ["l"] + ["l"] * len(ids))
    body = (f"Each cell is the site's recommendation for {esc(use)}: the quant, the context it holds, the estimated "
            "decode speed at batch 1 with that context filled, and the quality cost as KL divergence from BF16 "
            "('est.' where no one has measured it for that model). 'Compromise' means no setup meets every "
            "threshold and the fastest one within the quality floor is shown; 'not usefully' means none is usable. "
            "Quants tried: " + ", ".join(f"`{esc(q)}`" for q in site.quants()) + ".\n\n" +
            advice_text.policy_note(site))
    return estimate_note(base) + out + details(body)


def family_table(site: Site, base: str = "") -> str:
    rows = []
    for mid in site.family_models():
        m = site.catalog.models[mid]
        a = m.architecture
        c = site.engine.params(mid)
        rows.append([site.model_link(mid, base), esc(kind_label(a)), fmt.params(c.total.total), fmt.params(c.active.total),
                     str(a.num_hidden_layers), esc(attention_layout(a)), fmt.tokens(a.max_position_embeddings)])
    return table(["model", "type", "total params", "active per token", "layers", "attention", "context, tokens"], rows)


def family_memory(site: Site, base: str = "") -> str:
    qs = site.quants()
    rows = []
    for mid in site.family_models():
        rows.append([site.model_link(mid, base)] + [fmt.gb(site.estimate(mid, q).memory["weights"]) for q in qs])
    out = table(["model"] + [f"`{esc(q)}` weights, GB" for q in qs], rows)
    body = ("Weights = for each part of the model, its parameter count x the quant's bits per weight for that "
            "kind of tensor / 8. K-quants keep some tensors at higher precision, so the body's bits per weight "
            "are not the name's number: " + ", ".join(f"`{esc(q)}` {fmt.bpw(site.engine.bits(q).body_bpw)}" for q in qs) +
            ". The KV cache and buffers come on top (next table and each model's page).")
    return out + details(body)


def family_kv(site: Site, base: str = "") -> str:
    rows = []
    for mid in site.family_models():
        a = site.catalog.models[mid].architecture
        per = kv_bytes_per_token(a)
        rows.append([site.model_link(mid, base), fmt.small_bytes(per)] +
                    [fmt.gb(per * c) if c <= a.max_position_embeddings else "above the limit" for c in CONTEXTS] +
                    [fmt.mb(recurrent_state_bytes(a))])
    out = table(["model", "KV per token (f16)"] + [f"KV at {fmt.tokens(c)}, GB" for c in CONTEXTS] +
                ["recurrent state, MB"], rows)
    intervals = sorted({site.catalog.models[m].architecture.full_attention_interval or 1 for m in site.family_models()})
    share = " or ".join(f"one in {n:,}" for n in intervals) if intervals != [1] else "every"
    body = (f"KV per token = 2 x full-attention layers x KV heads x head width x 2 bytes (f16). Only {share} "
            "layers keeps a KV cache in this family (the architecture's `full_attention_interval`); the Gated "
            "DeltaNet layers keep a fixed recurrent state (f32) that does not grow with the context.")
    return out + details(body) + family_kv_chart(site)


def family_kv_chart(site: Site) -> str:
    mids = site.family_models()
    grid = [4096, 16384, 32768, 65536, 131072, 262144]

    def draw(fig, ax):
        for mid in mids:
            a = site.catalog.models[mid].architecture
            xs = [c for c in grid if c <= a.max_position_embeddings]
            ax.plot(xs, [kv_bytes_per_token(a) * c / 1e9 for c in xs], marker="o", markersize=3,
                    label=site.catalog.models[mid].name)
        charts.context_axis(ax, grid)
        ax.set_xlabel("context, tokens")
        ax.set_ylabel("KV cache, GB (10^9 bytes), f16")
        ax.set_title("KV cache vs context (computed)")
        ax.legend(frameon=False, fontsize=7)
        ax.grid(alpha=0.3)

    return "\n" + charts.svg("family-kv", draw, alt="KV cache versus context for each Qwen 3.5 model") + "\n"


COMPARE_CONTEXT = 32768  # the context of the generations table's KV column


def compare_generations(site: Site, pairs: list[list[str]], base: str = "") -> str:
    """Qwen 3 (or other) model beside its Qwen 3.5 successor: params, KV per token, KV at COMPARE_CONTEXT, context."""
    rows = []
    for old, new in pairs:
        if old not in site.catalog.models or new not in site.catalog.models:
            continue
        for mid in (old, new):
            a = site.catalog.models[mid].architecture
            per = kv_bytes_per_token(a)
            c32 = min(COMPARE_CONTEXT, a.max_position_embeddings)
            rows.append([site.model_link(mid, base), fmt.params(site.engine.params(mid).total.total),
                         esc(attention_layout(a)), fmt.small_bytes(per), fmt.gb(per * c32),
                         fmt.tokens(a.max_position_embeddings), f"{a.vocab_size:,}"])
    out = table(["model", "total params", "attention", "KV per token (f16)", f"KV at {fmt.tokens(COMPARE_CONTEXT)}, GB",
                 "native context, tokens", "vocabulary"], rows)
    return out + details("Same formulas as above, applied to each model's own architecture record.")


def index_list(site: Site, kind: str) -> str:
    """The list of generated pages for the models/ or hardware/ section index."""
    if kind == "models":
        rows = []
        for mid, m in site.catalog.models.items():
            c = site.engine.params(mid)
            rows.append([f"[{esc(m.name)}]({mid}.md)", esc(m.family), fmt.params(c.total.total),
                         fmt.params(c.active.total), fmt.tokens(m.architecture.max_position_embeddings)])
        return table(["model", "family", "total params", "active per token", "context, tokens"], rows)
    rows = []
    for i, ent in site.entries().items():
        m = ent.machine
        acc = sum(d.memory_bytes for d in m.accelerators)
        rows.append([f"[{esc(ent.name)}]({i}.md)", ent.kind, esc(m.kind), fmt.capacity(acc) if acc else "-",
                     fmt.capacity(m.ram_bytes) if m.host else "-", fmt.usd(m.price_usd) if m.price_usd else "n/a"])
    return table(["machine", "entry", "kind", "accelerator memory, GB", "system RAM, GB", "price"], rows)
