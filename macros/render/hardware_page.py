"""One page per catalog hardware item and rig, same skeleton: specs, best model, what fits, caveats."""

from __future__ import annotations

from ..engine import advice, money
from . import advice_text, commands, fmt
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
                 ["Memory", f"{fmt.capacity(_mem(m))} as sold ([units]({BASE}methodology.md#units))"],
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


def fit_rows(site: Site, mid: str, use: str = "chat"):
    """(model id, recommendation) for every featured model with a usable setup here, Qwen 3.5 first,
    largest first."""
    m = site.entry(mid).machine
    models = sorted(site.featured_models(), key=lambda x: (site.catalog.models[x].family != FAMILY,
                                                           -site.engine.params(x).total.total))
    out = []
    for model_id in models:
        rec = site.recommend(model_id, m, use)
        if rec.pick is not None:
            out.append((model_id, rec))
    return out


def best_model(site: Site, mid: str, use: str = "chat"):
    """The featured Qwen 3.5 model with the most parameters that the policy recommends here; else the
    largest with a compromise; None when none is usable."""
    m = site.entry(mid).machine
    fam = sorted((x for x in site.featured_models() if site.catalog.models[x].family == FAMILY),
                 key=lambda x: -site.engine.params(x).total.total)
    compromise = None
    for model_id in fam:
        rec = site.recommend(model_id, m, use)
        if rec.status == "recommended":
            return model_id, rec
        if rec.status == "compromise" and compromise is None:
            compromise = (model_id, rec)
    return compromise


def best_section(site: Site, mid: str) -> str:
    out = [featured_note()]
    for use in advice.USES:
        b = best_model(site, mid, use)
        if b is None:
            out.append(f"- **{esc(use.capitalize())}:** no featured Qwen 3.5 model runs on it usefully.")
            continue
        model_id, rec = b
        out.append("- " + advice_text.line(site, rec, "this machine", site.model_link(model_id, BASE)))
    text = "\n".join(out) + "\n"
    b = best_model(site, mid, "chat")
    if b is not None:
        model_id, rec = b
        text += "\n**Set it up** (chat):\n\n" + commands.setup_block(site, model_id, rec)
    return text + details("The featured Qwen 3.5 models are tried from the largest down; the first the policy "
                          "recommends for each use is shown (else the largest compromise).\n\n" +
                          advice_text.policy_note(site))


def fits_section(site: Site, mid: str) -> str:
    rows = fit_rows(site, mid)
    if not rows:
        return featured_note() + "\nNo featured model runs on it usefully.\n"
    t = []
    for model_id, rec in rows:
        e = rec.estimate
        p = e.placement
        how = fmt.placement(p.placement)
        if p.ram_bytes and p.placement != "cpu":
            how += f" ({fmt.pct(p.offloaded_fraction)} in RAM)"
        free = rec.pick.free_bytes
        t.append([site.model_link(model_id, BASE), esc(rec.status), f"`{esc(rec.quant)}`", fmt.tokens(rec.context), how,
                  fmt.gb(e.memory.total), fmt.gb(free), site.speed_text(e, 'decode'),
                  advice_text.quality_figure(site, model_id, rec.quant)])
    out = featured_note() + "\n"
    out += table(["model", "verdict", "quant", "context, tokens", "placement", "memory, GB", "headroom, GB",
                  "decode (estimate)", "quality cost"], t)
    body = ("For each featured model, the setup the recommendation policy picks for chat on this machine, "
            "among " + ", ".join(f"`{esc(x)}`" for x in site.quants()) + ". Memory is at the context shown; "
            "headroom is what stays free in the tightest memory the placement uses. GB = 10^9 bytes.\n\n" +
            advice_text.policy_note(site))
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
        "## Best for you\n", best_section(site, mid),
        estimate_note(BASE),
        "## Specs\n", specs(site, mid),
        "## What fits\n", fits_section(site, mid),
        "## Caveats\n", caveats(site, mid),
    ])
