"""Guides and FAQ: each a macro computing its answer from the engine."""

from __future__ import annotations

from ..engine.memory import kv_bytes_per_token, recurrent_state_bytes
from ..engine import money, search
from . import advice_text, commands, fmt, model_page
from .common import Site, admonition, details, estimate_note, table
from .fmt import esc

BASE = "../"


def _const(site: Site, cid: str):
    c = site.catalog.constants.get(cid)
    return c.value if c is not None else None


def build_table(site: Site, model_id: str, machine_ids: list[str], quant: str, base: str = BASE,
                context: int = 4096) -> str:
    """Builds for one model: placement, shortfall, offloaded share, speed, cost per tok/s, power, PSU, circuit."""
    circuit = _const(site, "household_circuit_w")
    rows = []
    for i in machine_ids:
        if i not in site.entries():
            continue
        m = site.entry(i).machine
        e = site.estimate(model_id, quant, context=context, machine=m)
        p = e.placement
        w = money.power_draw_w(m)
        cps = money.cost_per_tok_s(m.price_usd, e.decode_tok_s) if m.price_usd and e.decode_tok_s else None
        rows.append([site.machine_link(i, base), fmt.placement(p.placement),
                     fmt.gb(p.shortfall_bytes) if not p.runs else "-",
                     fmt.pct(p.offloaded_fraction) if p.runs else "-", site.speed_text(e, 'decode'),
                     fmt.usd(m.price_usd) if m.price_usd else "n/a", fmt.usd(cps) if cps else "n/a",
                     fmt.watts(w), fmt.watts(money.psu_rating_w(w)) if w else "n/a",
                     fmt.pct(money.circuit_share(w, circuit)) if w and circuit else "n/a"])
    out = (f"{site.model_link(model_id, base)} at `{esc(quant)}` ({advice_text.quality_figure(site, model_id, quant)}), "
           f"{fmt.tokens(context)} tokens of context:\n\n" +
           table(["build", "placement", "short by, GB", "weights in RAM", "decode (estimate)", "price",
                  "price per tok/s", "power at load", "PSU rating", "share of one household circuit"], rows))
    body = (f"`{esc(quant)}` at {fmt.tokens(context)} tokens, batch 1. Short by = memory missing even with system "
            "RAM. Weights in RAM = share of the weight bytes the placement keeps in system RAM. Price per tok/s = "
            "build price / decode estimate. Power at load = sum of the accelerators' TDPs plus the CPU platform's. "
            f"PSU rating = power / {money.PSU_LOAD_FRACTION:g}. Household circuit = power / "
            f"{fmt.watts(circuit)} (`household_circuit_w`, a 15 A / 120 V circuit under the 80% continuous-load rule).")
    return out + details(body)


def long_context_table(site: Site, model_ids: list[str], contexts: list[int]) -> str:
    rows = []
    for mid in model_ids:
        a = site.catalog.models[mid].architecture
        for c in contexts:
            if c > a.max_position_embeddings:
                continue
            rows.append([site.model_link(mid, BASE), fmt.tokens(c), fmt.gb(kv_bytes_per_token(a) * c),
                         fmt.gb(kv_bytes_per_token(a, "q8_0") * c), fmt.mb(recurrent_state_bytes(a))])
    out = table(["model", "context, tokens", "KV f16, GB", "KV q8_0, GB", "recurrent state, MB"], rows)
    return out + details("KV = 2 x full-attention layers x KV heads x head width x bytes per element x tokens; "
                         "the recurrent state is fixed per sequence.")


def prefill_table(site: Site, model_id: str, machine_id: str, quant: str, prompts: list[int]) -> str:
    m = site.entry(machine_id).machine
    rows = []
    for n in prompts:
        if n > site.limit(model_id):
            continue
        e = site.estimate(model_id, quant, context=n, machine=m, prompt_tokens=n)
        t = n / e.prefill_tok_s if e.prefill_tok_s else None
        rows.append([fmt.tokens(n), fmt.placement(e.placement.placement), site.speed_text(e, 'prefill'), fmt.seconds(t),
                     site.speed_text(e, 'decode')])
    out = (f"{site.model_link(model_id, BASE)} at `{esc(quant)}` ({advice_text.quality_figure(site, model_id, quant)}) "
           f"on {site.machine_link(machine_id, BASE)}:\n\n" +
           table(["prompt, tokens", "placement", "prefill (estimate)", "time to read the prompt",
                  "decode after it (estimate)"], rows))
    return out + details("Prefill time = prompt tokens / prefill speed; prefill speed = compute-bound (2 x active "
                         "parameters + attention over the average context per token) at the fitted compute "
                         "efficiency, plus RAM-held weights crossing PCIe once per micro-batch. Decode is with the "
                         "cache filled to the prompt.")


def break_even(site: Site, model_id: str, machine_id: str, quant: str, input_share: float, months: int,
               hours_per_day: float) -> str:
    m = site.entry(machine_id).machine
    e = site.estimate(model_id, quant, machine=m)
    price_kwh = _const(site, "electricity_usd_per_kwh")
    w = money.power_draw_w(m)
    apis = [a for a in site.catalog.api_prices.values() if a.model == model_id]
    if not (m.price_usd and e.decode_tok_s and w and price_kwh and apis):
        return admonition("The catalog lacks a price, a power figure, an electricity price or an API price for "
                          "this comparison, so it is not computed.", "info")
    local = money.energy_usd_per_mtok(w, e.decode_tok_s, price_kwh)
    month = money.electricity_usd_per_month(w, hours_per_day * 30, price_kwh)
    rows = []
    for a in apis:
        blended = money.blended_usd_per_mtok(a.input_usd_per_mtok, a.output_usd_per_mtok, input_share)
        be = money.break_even_mtok_per_month(m.price_usd, months, blended, local)
        rows.append([esc(a.provider), fmt.usd(a.input_usd_per_mtok), fmt.usd(a.output_usd_per_mtok), fmt.usd(blended),
                     "never" if be is None else f"{be:,.0f} million tokens"])
    out = (f"{site.machine_link(machine_id, BASE)} ({fmt.usd(m.price_usd)}, {fmt.watts(w)} at load) runs "
           f"{site.model_link(model_id, BASE)} at `{esc(quant)}` at {site.speed_text(e, 'decode')} (estimate). "
           f"Electricity: {fmt.usd(local)} per million generated tokens; {fmt.usd(month)} a month at "
           f"{hours_per_day:g} hours a day.\n\n" +
           table(["API provider", "input per Mtok", "output per Mtok", "blended per Mtok", "break-even volume per month"],
                 rows))
    body = (f"Blended API price = input x {input_share:g} + output x {1 - input_share:g}. Break-even monthly volume = "
            f"(price / {months} months) / (blended API price - local electricity per token). Electricity at "
            f"{fmt.usd(price_kwh)} per kWh (`electricity_usd_per_kwh`). The local figure counts decode only; "
            "prompt processing adds time the API would also bill.")
    return out + details(body)


def mac_table(site: Site) -> str:
    macs = [i for i, ent in site.entries().items() if ent.machine.kind == "unified"
            and ent.machine.accelerators[0].backend == "metal" and ent.kind == "rig"]
    head = ["model"] + [site.machine_link(i, BASE) for i in macs]
    rows = []
    for mid in site.family_models():
        row = [site.model_link(mid, BASE)]
        for i in macs:
            row.append(advice_text.cell(site, site.recommend(mid, site.entry(i).machine), BASE))
        rows.append(row)
    out = table(head, rows, ["l"] * len(head))
    s = site.engine.settings
    body = ("macOS lets the GPU wire only part of unified memory by default: " +
            ", ".join(f"{fmt.pct(share)} below {fmt.capacity(below)}" if below != float("inf") else f"{fmt.pct(share)} above"
                      for below, share in s.macos_gpu_fractions) +
            f" (catalog constants). 'Limit raised' means it fits only after `sysctl iogpu.wired_limit_mb`, within the "
            f"installed memory less {fmt.capacity(s.os_reserve_bytes)} for the system.")
    return out + details(body)


def budget_tiers(site: Site, budgets: list[float], use: str = "chat") -> str:
    """For each budget: among featured machines whose price may enter a ranking (rigs priced for their GPUs
    only stay out), the one on which the policy recommends the largest Qwen 3.5 model; ties go to the
    faster, then the cheaper. Each price shows the date it was read."""
    priced = [(i, ent, p) for i, ent in site.featured_entries().items() if (p := model_page.priced(site, ent))]
    fam = sorted(site.family_models(), key=lambda x: -site.engine.params(x).total.total)
    rows = []
    for budget in sorted(budgets):
        best = None
        for i, ent, price in priced:
            if price > budget:
                continue
            for rank, mid in enumerate(fam):
                rec = site.recommend(mid, ent.machine, use)
                if rec.status == "recommended":
                    key = (rank, -(rec.estimate.decode_tok_s or 0), price)
                    if best is None or key < best[0]:
                        best = (key, i, mid, rec, price)
                    break
        if best is None:
            rows.append([fmt.usd(budget), "no featured machine at or under this price runs a Qwen 3.5 model "
                         "the way the policy asks", "", "", "", ""])
            continue
        _, i, mid, rec, price = best
        rows.append([fmt.usd(budget), site.machine_link(i, BASE), f"{fmt.usd(price)} ({esc(_price_date(site, i))})",
                     f"{site.model_link(mid, BASE)} `{esc(rec.quant)}`, {fmt.tokens(rec.context)} tokens",
                     site.speed_text(rec.estimate, 'decode'), advice_text.quality_figure(site, mid, rec.quant)])
    out = table(["budget up to", "machine", "price (date read)", "largest Qwen 3.5 model recommended",
                 "decode (estimate)", "quality cost"], rows)
    return out + details("Among the featured hardware and rigs priced at or under the budget (a rig priced for "
                         "its GPUs alone is left out), the engine picks the one on which the recommendation policy "
                         f"recommends the largest Qwen 3.5 model for {esc(use)}; ties go to the faster, then the "
                         "cheaper.\n\n" + advice_text.policy_note(site))


def _price_date(site: Site, machine_id: str) -> str:
    """When the price was read: the hardware record's price date, or the rig's (else its parts')."""
    rec = site.catalog.hardware.get(machine_id) or site.catalog.rigs.get(machine_id)
    d = getattr(rec, "price_date", None)
    if d is None and machine_id in site.catalog.rigs:
        dates = [site.catalog.hardware[p.hardware].price_date for p in site.catalog.rigs[machine_id].parts
                 if getattr(site.catalog.hardware[p.hardware], "price_date", None)]
        d = min(dates) if dates else None
    return str(d) if d else "date not given"


def split_modes(site: Site, model_id: str, quant: str, machine_ids: list[str], context: int = 4096) -> str:
    rows = []
    for i in machine_ids:
        if i not in site.entries():
            continue
        m = site.entry(i).machine
        for mode in ("layer_split", "tensor_parallel"):
            e = site.estimate(model_id, quant, context=context, machine=m, mode=mode)
            rows.append([site.machine_link(i, BASE), esc(m.gpu_link), mode.replace("_", " "),
                         fmt.placement(e.placement.placement), site.speed_text(e, 'decode')])
    out = table(["machine", "GPU link", "mode", "placement", "decode (estimate)"], rows,
                caption=f"{site.catalog.models[model_id].name} at {quant}, {fmt.tokens(context)} tokens of context")
    sm = site.engine.speed_model
    body = (f"Layer split adds one hop per GPU boundary per token ({sm.gpu_hop_s * 1e6:.0f} µs, `gpu_hop_us`); tensor "
            "parallel reads each layer's weights from all GPUs at once but adds two all-reduces per layer (" +
            ", ".join(f"{k} {v * 1e6:.0f} µs" for k, v in sm.allreduce_s.items() if v) + ").")
    return out + details(body)


def offload_compare(site: Site, model_id: str, quant: str, machine_ids: list[str]) -> str:
    rows = []
    for i in machine_ids:
        if i not in site.entries():
            continue
        e = site.estimate(model_id, quant, machine=site.entry(i).machine)
        p = e.placement
        rows.append([site.machine_link(i, BASE), fmt.placement(p.placement), str(p.gpu_layers) if p.gpu_layers is not None else "-",
                     str(p.n_cpu_moe) if p.n_cpu_moe else "-", fmt.pct(p.offloaded_fraction), fmt.gb(p.ram_bytes),
                     site.speed_text(e, 'decode')])
    out = (f"{site.model_link(model_id, BASE)} at `{esc(quant)}` ({advice_text.quality_figure(site, model_id, quant)}):\n\n" +
           table(["machine", "placement", "-ngl", "--n-cpu-moe", "weights in RAM", "in RAM, GB", "decode (estimate)"],
                 rows))
    return out + details("The engine first keeps attention, shared weights and the KV cache on the GPUs and moves "
                         "the routed experts of whole layers to RAM (`--n-cpu-moe`), because per token only the "
                         "top-k experts of each layer are read; only if that is not enough does it move whole layers.")


def software(site: Site) -> str:
    rows = []
    for rid, r in site.catalog.runtimes.items():
        f = r.flags
        rows.append([esc(r.name), f"`{esc(r.command)}`", esc(", ".join(r.formats)), esc(", ".join(r.backends)),
                     esc(", ".join(x.replace("_", " ") for x in r.offload_modes)) or "-",
                     esc(", ".join(r.kv_types)),
                     "<br>".join(esc(v) for v in (f.gpu_layers, f.cpu_moe, f.context, f.tensor_parallel) if v) or "-"])
    return table(["runtime", "command", "formats", "backends", "offload modes", "KV types", "flags"], rows,
                 ["l"] * 7)


def example_commands(site: Site, model_id: str, machine_id: str, quant: str | None = None,
                     context: int | None = None, use: str = "chat") -> str:
    """Download and run commands for the policy's setup of `model_id` on `machine_id` (the quant and
    context arguments are kept for old pages and ignored: the policy chooses them)."""
    rec = site.recommend(model_id, site.entry(machine_id).machine, use)
    if rec.pick is None:
        return admonition(f"{esc(rec.reason)}", "info")
    return (advice_text.line(site, rec, site.machine_link(machine_id, BASE), site.model_link(model_id, BASE)) +
            f" Placement: {fmt.placement(rec.estimate.placement.placement)}.\n\n" +
            commands.setup_block(site, model_id, rec) +
            details("`-ngl` and `--n-cpu-moe` are the engine's placement for this machine and context; `-fa on` "
                    "turns flash attention on; `--parallel 1` gives the whole context to one conversation."))


# ------------------------------------------------------------------ FAQ

def faq_memory(site: Site, model_id: str, quants: list[str], context: int) -> str:
    parts = []
    for q in site.quants(quants):
        e = site.estimate(model_id, q, context=context)
        parts.append(f"`{esc(q)}` {fmt.gb(e.memory['weights'])} of weights, {fmt.gb(e.memory.total)} in all")
    return (f"At {fmt.tokens(context)} tokens of context: " + "; ".join(parts) + ". " +
            details("Total = weights + KV cache + recurrent state + compute buffer, one device. Weights = "
                    "parameters x bits per weight / 8 part by part (see the methodology)."))


def faq_fit(site: Site, model_id: str, machine_id: str, quant: str, context: int = 4096) -> str:
    m = site.entry(machine_id).machine
    e = site.estimate(model_id, quant, context=context, machine=m)
    p = e.placement
    if p.fits:
        verdict = f"**Yes**, entirely in accelerator memory, with {fmt.gb(p.headroom_bytes)} to spare"
    elif p.runs:
        verdict = (f"**Not in GPU memory**: it needs {fmt.gb(e.memory.total)} and the GPUs give "
                   f"{fmt.gb(p.budget_bytes)}; it runs with {fmt.pct(p.offloaded_fraction)} of the weights in "
                   f"system RAM ({fmt.placement(p.placement)})")
    else:
        verdict = f"**No**: it is short by {fmt.gb(p.shortfall_bytes)} even counting system RAM"
    return (f"{verdict}. {site.model_link(model_id, '')} at `{esc(quant)}` on "
            f"{site.machine_link(machine_id, '')}: {site.speed_text(e, 'decode')} decode (estimate). "
            f"{_recommended_here(site, model_id, m)}\n" +
            details(f"Memory needed {fmt.gb(e.memory.total)} at {fmt.tokens(context)} tokens; accelerator budget "
                    f"{fmt.gb(p.budget_bytes)}; system RAM {fmt.capacity(m.ram_bytes)} installed."))


def faq_cheapest(site: Site, model_id: str, target_tok_s: float | None = None, use: str = "chat") -> str:
    """The cheapest featured machine (priced whole) on which the policy recommends the model for `use`.
    `target_tok_s` is kept for old pages; the policy's own speed floor applies."""
    options = []
    for i, ent in site.featured_entries().items():
        price = model_page.priced(site, ent)
        rec = site.recommend(model_id, ent.machine, use)
        if price and rec.status == "recommended":
            options.append((price, -(rec.estimate.decode_tok_s or 0), i, rec))
    if not options:
        return "No featured, priced machine in the catalog runs it the way the recommendation policy asks.\n"
    price, _, i, rec = min(options)
    return (f"{site.machine_link(i, '')} at {fmt.usd(price)} ({esc(_price_date(site, i))}), running `{esc(rec.quant)}` "
            f"with {fmt.tokens(rec.context)} tokens of context at {site.speed_text(rec.estimate, 'decode')} (estimate), "
            f"{advice_text.quality_figure(site, model_id, rec.quant)}.\n" +
            details("Among featured machines with a price for the whole machine, the cheapest on which the "
                    f"recommendation policy recommends it for {esc(use)}.\n\n" + advice_text.policy_note(site)))


def faq_active(site: Site, model_id: str) -> str:
    m = site.catalog.models[model_id]
    c = site.engine.params(model_id)
    return (f"{fmt.params(c.active.total)} of {fmt.params(c.total.total)} (computed; the publisher says "
            f"{fmt.params(m.params_active_official_b * 1e9)} of {fmt.params(m.params_total_official_b * 1e9)}).\n")


def macros(site: Site) -> dict:
    return {
        "build_table": lambda model, ids, quant, context=4096: build_table(site, model, ids, quant, BASE, context),
        "long_context_table": lambda models, contexts: long_context_table(site, models, contexts),
        "prefill_table": lambda model, machine, quant, prompts: prefill_table(site, model, machine, quant, prompts),
        "break_even": lambda model, machine, quant, input_share=0.9, months=36, hours_per_day=8:
            break_even(site, model, machine, quant, input_share, months, hours_per_day),
        "mac_table": lambda: mac_table(site),
        "budget_tiers": lambda budgets, use="chat": budget_tiers(site, budgets, use),
        "policy_note": lambda: advice_text.policy_note(site),
        "quality_sources": lambda: advice_text.quality_sources(site),
        "split_modes": lambda model, quant, ids: split_modes(site, model, quant, ids),
        "offload_compare": lambda model, quant, ids: offload_compare(site, model, quant, ids),
        "runtimes_table": lambda: software(site),
        "example_commands": lambda model, machine, quant=None, context=None, use="chat":
            example_commands(site, model, machine, quant, context, use),
        "faq_memory": lambda model, quants, context=4096: faq_memory(site, model, quants, context),
        "faq_fit": lambda model, machine, quant, context=4096: faq_fit(site, model, machine, quant, context),
        "faq_cheapest": lambda model, target=None, use="chat": faq_cheapest(site, model, target, use),
        "faq_active": lambda model: faq_active(site, model),
        "estimate_note": lambda base="": estimate_note(base),
    }


def _recommended_here(site: Site, model_id: str, machine) -> str:
    """One sentence: what the policy recommends on this machine (the answer every page gives)."""
    rec = site.recommend(model_id, machine)
    if rec.pick is None:
        return f"The recommended setup for chat: none ({esc(rec.reason)})"
    return (f"The recommended setup for chat on it is `{esc(rec.quant)}` with {fmt.tokens(rec.context)} tokens of "
            f"context ({advice_text.quality_figure(site, model_id, rec.quant)}).")
