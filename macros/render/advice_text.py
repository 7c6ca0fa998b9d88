"""How a recommendation (engine/advice.py) reads on a page: a table cell, a one-line answer, a
quality figure with its source or the word "estimate". Every page that recommends uses these."""

from __future__ import annotations

from ..engine import advice
from . import fmt
from .fmt import esc

STATUS_WORD = {"recommended": "recommended", "compromise": "compromise", "none": "not usefully"}


def quality_figure(site, model_id: str, quant: str) -> str:
    """'KLD 0.0062 vs BF16 (measured, <source>)' or 'KLD about 0.016 vs BF16 (estimate)'."""
    q = advice.quality(site.engine, model_id, quant)
    if q.kind == "baseline":
        return "unquantized (the reference)"
    if q.kind == "measured":
        src = f'<a href="{esc(q.source_url)}">source</a>' if q.source_url else "source in the catalog"
        return f"KLD {q.kld:.2g} vs BF16 (measured on the {esc(q.publisher or '')} file, {src})"
    return f"KLD about {q.kld:.2g} vs BF16 (estimate)"


def cell(site, rec, base: str = "") -> str:
    """A short table cell: quant, context, decode, quality; compromises and refusals say so."""
    if rec.pick is None:
        return "not usefully"
    e = rec.estimate
    q = rec.pick.quality
    qual = "BF16" if q.kind == "baseline" else (f"KLD {q.kld:.2g}" + (" est." if q.estimated else ""))
    text = (f"`{esc(rec.quant)}`, {fmt.tokens(rec.context)} ctx, {site.speed_text(e, 'decode')}, {qual}")
    if rec.status == "compromise":
        text = "compromise: " + text
    return text


def line(site, rec, machine_link: str, model_link: str) -> str:
    """The one-line answer: what to run, where, how fast, at what quality cost, and why."""
    pol = rec.policy
    if rec.pick is None:
        return f"**{esc(pol.use.capitalize())}:** {model_link} on {machine_link}: {esc(rec.reason.rstrip('.'))}."
    e = rec.estimate
    lead = "Best for" if rec.status == "recommended" else "Compromise for"
    return (f"**{lead} {esc(pol.use)}:** {model_link} at `{esc(rec.quant)}` on {machine_link}, "
            f"{fmt.tokens(rec.context)} tokens of context, {site.speed_text(e, 'decode')} decode (estimate), "
            f"{quality_figure(site, rec.model_id, rec.quant)}. *Why:* {esc(rec.reason.rstrip('.'))}.")


def policy_note(site) -> str:
    """The policy in one paragraph, with its thresholds as the catalog gives them."""
    parts = []
    for use in advice.USES:
        p = advice.policy(site.catalog, use)
        parts.append(f"{use}: at least {p.decode_min_tok_s:g} tok/s at the low end of the speed band, "
                     f"{fmt.tokens(p.context_tokens)} tokens of context, KLD to BF16 at most {p.kld_max:g}")
    p = advice.policy(site.catalog, "chat")
    return ("The recommendation policy (one function for every page): " + "; ".join(parts) +
            f". Headroom: at least {fmt.capacity(p.headroom_min_bytes)} or {fmt.pct(p.headroom_min_share)} of the "
            f"memory the model sits in, whichever is larger. It picks the best quality meeting all of these "
            f"(differences under KLD {p.kld_negligible:g} count as ties and go to the faster); else the fastest "
            f"setup within the quality floor, labelled a compromise; below {p.usable_min_tok_s:g} tok/s or "
            f"{fmt.tokens(p.min_context_tokens)} tokens of context it says the machine cannot run the model "
            "usefully. KLD is the mean KL divergence of the next-token distribution from the unquantized model: "
            "published where the catalog has a measurement, else estimated from a rule fitted to those "
            "measurements by bits per weight and model size. Thresholds: `catalog/constants/advice.yaml`.")


METRIC_LABELS = {"kld_mean": "mean KLD, nats", "ppl_ratio": "PPL ratio", "top_token_pct": "same top token, %",
                 "benchmark_error_increase_pct": "benchmark error increase, %",
                 "benchmark_recovery_pct": "benchmark score recovered, %"}


def quality_sources(site) -> str:
    """Every published quality measurement in the catalog, and the rule fitted to the KLD ones."""
    from .common import details, source_html, table
    rows = []
    for r in site.catalog.quality.values():
        src = "; ".join(dict.fromkeys(s for s in (source_html(x) for x in r.source) if s)) or "-"
        rows.append([esc(site.catalog.models[r.model].name), f"`{esc(r.quant)}`", esc(r.publisher),
                     esc(METRIC_LABELS[r.metric]), f"{r.value:g}", esc(r.baseline), esc(r.dataset),
                     "yes" if r.fit and r.metric == "kld_mean" else "no", src])
    out = table(["model", "quant", "whose file", "metric", "value", "against", "measured on", "in the fit", "source"],
                rows, ["l", "l", "l", "l", "r", "l", "l", "l", "l"])
    fit = advice.quality_model(site.engine).fit
    if fit:
        lo, hi = fit.params_b_range
        out += (f"\nFitted rule for quants nobody measured: ln(KLD) = {fit.a:.3f} + ({fit.b:.3f}) x body bits per "
                f"weight + ({fit.c:.3f}) x ln(total parameters, billions), over {fit.points} KLD measurements; "
                f"their root-mean-square error is a factor of {fit.factor:.2f}. Model size is held to the "
                f"measured range ({lo:.1f} to {hi:.1f} B): a larger model is given the figure of the largest "
                "measured one, so the rule never credits a size it has not seen. Pages label these figures "
                "'estimate'.\n")
    return out + details("KLD compares next-token distributions of the quantized and the unquantized model over a "
                         "text; measurements on different texts are not strictly comparable, and files of the same "
                         "name differ between uploaders (the table names whose file was measured). Where several "
                         "files of one model and quant were measured, pages show the file from the repository the "
                         "commands download, else the median.")
