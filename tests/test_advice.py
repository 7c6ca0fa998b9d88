"""The recommendation policy (engine/advice.py): unit cases worked by hand on a fake engine, the KLD fit,
and site-wide checks that every page's recommendation meets the policy it states."""

from __future__ import annotations

import math
import re
import types
from pathlib import Path

import pytest

from macros.engine import advice
from macros.render import advice_text, commands

ROOT = Path(__file__).resolve().parents[1]
GIB = 2**30
QUANTS = ("BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")

# ------------------------------------------------------------------ a fake engine with hand-set numbers

CONSTANTS = {
    "advice_chat_decode_min_tok_s": 10, "advice_agent_decode_min_tok_s": 20, "advice_documents_decode_min_tok_s": 8,
    "advice_usable_decode_min_tok_s": 3, "advice_chat_context_tokens": 32768, "advice_agent_context_tokens": 65536,
    "advice_documents_context_tokens": 131072, "advice_min_context_tokens": 8192, "advice_headroom_min_gib": 1.0,
    "advice_headroom_min_share": 0.04, "advice_chat_kld_max": 0.03, "advice_agent_kld_max": 0.02,
    "advice_documents_kld_max": 0.03, "advice_kld_negligible": 0.005, "advice_kld_noticeable": 0.025,
}


class FakeQuality:
    def __init__(self, klds):
        self.klds = klds

    def quality(self, model_id, quant_id):
        return advice.Quality(self.klds[quant_id], "measured")


def fake_engine(klds: dict[str, float], native: int = 262144):
    arch = types.SimpleNamespace(max_position_embeddings=native)
    catalog = types.SimpleNamespace(constant=CONSTANTS.__getitem__,
                                    models={"m": types.SimpleNamespace(architecture=arch)})
    bpw = {"Q8_0": 8.5, "Q6_K": 6.56, "Q5_K_M": 5.65, "Q4_K_M": 4.8, "Q3_K_M": 3.85, "Q2_K": 2.94}
    eng = types.SimpleNamespace(catalog=catalog, settings=types.SimpleNamespace(os_reserve_bytes=6 * GIB),
                                bits=lambda q: types.SimpleNamespace(body_bpw=bpw[q]))
    eng._advice_quality_model = FakeQuality(klds)
    return eng


def fake_estimate(table: dict[str, tuple[float, float]], pool_gib: float = 24.0, max_context: int = 10**9):
    """estimate(model, quant, context, machine) -> decode tok/s and free GiB from `table`; contexts above
    `max_context` do not run."""
    machine = types.SimpleNamespace(id="fake", ram_bytes=0.0, host=None)

    def est(mid, q, context, machine=machine):
        tok_s, free_gib = table[q]
        runs = context <= max_context
        p = types.SimpleNamespace(placement="gpu" if runs else "does_not_fit", runs=runs, fits=runs,
                                  headroom_bytes=free_gib * GIB, budget_bytes=pool_gib * GIB, ram_bytes=0.0)
        return types.SimpleNamespace(placement=p, machine=machine, decode_tok_s=tok_s if runs else None)
    return est, machine


def test_best_quality_within_the_floor_ties_go_to_the_faster():
    """Chat: floor 10 tok/s, KLD <= 0.03, ties within 0.005.
    Q8_0 KLD 0.001 at 8 tok/s fails speed; Q6_K 0.003 at 12 and Q4_K_M 0.006 at 15 pass; Q2_K 0.05 fails
    quality. Best KLD among passing = 0.003; Q4_K_M's 0.006 <= 0.003 + 0.005 = 0.008 is a tie, and it is
    faster (15 > 12), so Q4_K_M is recommended, Q6_K is an alternative."""
    eng = fake_engine({"Q8_0": 0.001, "Q6_K": 0.003, "Q4_K_M": 0.006, "Q2_K": 0.05})
    est, mach = fake_estimate({"Q8_0": (8, 5), "Q6_K": (12, 5), "Q4_K_M": (15, 5), "Q2_K": (25, 5)})
    r = advice.recommend(eng, "m", mach, "chat", ["Q8_0", "Q6_K", "Q4_K_M", "Q2_K"], estimate=est)
    assert (r.status, r.quant, r.context) == ("recommended", "Q4_K_M", 32768)
    assert [o.quant for o in r.alternatives] == ["Q6_K"]
    assert r.reason


def test_headroom_rule_rejects_a_tight_fit():
    """Pool 24 GiB: headroom needed = max(1 GiB, 0.04 x 24 = 0.96 GiB) = 1 GiB. Q5_K_M leaves 0.01 GiB
    (rejected although it is better), Q4_K_M leaves 2 GiB (kept)."""
    eng = fake_engine({"Q5_K_M": 0.002, "Q4_K_M": 0.009})
    est, mach = fake_estimate({"Q5_K_M": (30, 0.01), "Q4_K_M": (35, 2.0)})
    r = advice.recommend(eng, "m", mach, "chat", ["Q5_K_M", "Q4_K_M"], estimate=est)
    assert r.quant == "Q4_K_M"


def test_too_slow_everywhere_gives_a_labelled_compromise_within_the_quality_floor():
    """Chat floor 10 tok/s: Q4_K_M 6 tok/s and Q5_K_M 5 tok/s both miss it; Q2_K at 9 tok/s is faster but
    its KLD 0.2 is above 0.03. The compromise is the fastest within the quality floor: Q4_K_M at 6 (>= 3)."""
    eng = fake_engine({"Q5_K_M": 0.002, "Q4_K_M": 0.006, "Q2_K": 0.2})
    est, mach = fake_estimate({"Q5_K_M": (5, 4), "Q4_K_M": (6, 4), "Q2_K": (9, 4)})
    r = advice.recommend(eng, "m", mach, "chat", ["Q5_K_M", "Q4_K_M", "Q2_K"], estimate=est)
    assert (r.status, r.quant) == ("compromise", "Q4_K_M")
    assert "below the 10 tok/s" in r.reason


def test_context_fallback_halves_until_it_fits():
    """Documents want 131,072 tokens; the machine holds at most 40,000. Halving: 65,536 no, 32,768 yes, so the
    compromise offers 32,768 tokens and says it is below the target."""
    eng = fake_engine({"Q4_K_M": 0.006})
    est, mach = fake_estimate({"Q4_K_M": (30, 4)}, max_context=40000)
    r = advice.recommend(eng, "m", mach, "long documents", ["Q4_K_M"], estimate=est)
    assert (r.status, r.context) == ("compromise", 32768)
    assert "below the 128K target" in r.reason


def test_nothing_usable_says_so_plainly():
    """BF16-class quality at 1 tok/s and Q4_K_M at 2 tok/s are both below the 3 tok/s usable minimum: no pick."""
    eng = fake_engine({"Q8_0": 0.001, "Q4_K_M": 0.006})
    est, mach = fake_estimate({"Q8_0": (1, 4), "Q4_K_M": (2, 4)})
    r = advice.recommend(eng, "m", mach, "chat", ["Q8_0", "Q4_K_M"], estimate=est)
    assert r.status == "none" and r.pick is None
    assert r.reason.startswith("Not usefully")


def test_offload_keeps_headroom_by_moving_one_more_layer_to_ram():
    """One 24 GiB GPU (budget 24 - 1 = 23 GiB in this fake) and 64 GiB of RAM (58 usable after the 6 GiB
    the OS keeps). Needed headroom = max(1 GiB, 0.04 x 23 = 0.92 GiB) = 1 GiB. The plain expert-offload
    placement leaves 0.2 GiB: too little. Placed again with 1 GiB set aside, it keeps 11 layers' experts in
    RAM (not 10) and leaves 0.1 GiB of the smaller budget, so 1.1 GiB on the real card (share 1.1 / 23 =
    0.048, tighter than RAM's 36 / 58): it passes, and the shown setup is the re-placed one at 28 tok/s."""
    from macros.engine.machine import Device, Machine
    gpu = Device("g", "g", "gpu", 24 * GIB, 1e12, 1e14, "cuda", 450)
    ram = Device("r", "r", "cpu", 64 * GIB, 8e10, None, "cpu", None)
    machine = Machine("m", "m", (gpu,), ram)

    def est(mid, q, context, machine):
        mem = machine.accelerators[0].memory_bytes
        plain = mem == 24 * GIB
        p = types.SimpleNamespace(placement="moe_expert_offload", runs=True, fits=False,
                                  headroom_bytes=(0.2 if plain else 0.1) * GIB, budget_bytes=mem - GIB,
                                  ram_bytes=(20 if plain else 22) * GIB, n_cpu_moe=10 if plain else 11)
        return types.SimpleNamespace(placement=p, machine=machine, decode_tok_s=30.0 if plain else 28.0)

    eng = fake_engine({"Q4_K_M": 0.006})
    r = advice.recommend(eng, "m", machine, "chat", ["Q4_K_M"], estimate=est)
    assert r.status == "recommended"
    assert r.estimate.placement.n_cpu_moe == 11 and r.estimate.decode_tok_s == 28.0
    assert r.pick.free_bytes == pytest.approx(1.1 * GIB)


def test_fit_recovers_a_known_rule():
    """Points made from ln KLD = 1 - 1.0 x bpw - 0.5 x ln(params): the fit returns a=1, b=-1, c=-0.5, factor 1."""
    pts = [(b, p, math.exp(1 - b - 0.5 * math.log(p))) for b in (3.0, 4.5, 6.0, 8.5) for p in (8.0, 27.0)]
    f = advice.fit_kld(pts)
    assert f.a == pytest.approx(1.0, abs=1e-9) and f.b == pytest.approx(-1.0, abs=1e-9)
    assert f.c == pytest.approx(-0.5, abs=1e-9) and f.factor == pytest.approx(1.0, abs=1e-9)
    # a 400 B model is held at the largest measured size (27 B): exp(1 - 4 - 0.5 ln 27)
    assert f.kld(4.0, 400.0) == pytest.approx(math.exp(1 - 4 - 0.5 * math.log(27)))


def test_measured_quality_is_the_published_figure(engine):
    """catalog/quality.yaml: unsloth's Qwen3.5-27B Q4_K_M, KLD 0.006193 on the chat corpus (reddit sweep);
    unsloth is the repository the commands download from, so its file is the one shown."""
    q = advice.quality(engine, "qwen3.5-27b", "Q4_K_M")
    assert q.kind == "measured" and q.kld == pytest.approx(0.006193) and q.publisher == "unsloth"
    assert advice.quality(engine, "qwen3.5-27b", "BF16").kld == 0.0


def test_policy_thresholds_come_from_the_catalog(catalog):
    """catalog/constants/advice.yaml: chat 10 tok/s, 32,768 tokens, KLD 0.03; agent 20 tok/s, 65,536 tokens."""
    p = advice.policy(catalog, "chat")
    assert (p.decode_min_tok_s, p.context_tokens, p.kld_max) == (10, 32768, 0.03)
    a = advice.policy(catalog, "coding agent")
    assert (a.decode_min_tok_s, a.context_tokens) == (20, 65536)


# ------------------------------------------------------------------ the site's recommendations

@pytest.fixture(scope="module")
def site():
    from macros.render.common import site_for
    from macros.context import BuildContext
    return site_for(BuildContext.load(ROOT / "catalog"))


def _recommendations(site):
    for mid in site.featured_models():
        for ent in site.featured_entries().values():
            for use in advice.USES:
                yield mid, ent, site.recommend(mid, ent.machine, use)


def real_headroom(engine, mid, machine, rec):
    """Free bytes and pool on the machine itself, worked out apart from the policy: the accelerator budget
    of a plain estimate on the real machine less what the shown placement keeps resident there (budget
    minus its headroom, on whatever machine it was placed), or free system RAM when that is tighter."""
    p = rec.estimate.placement
    real = engine.estimate(mid, rec.quant, context=rec.context, machine=machine).placement
    ram_pool = machine.ram_bytes - engine.settings.os_reserve_bytes
    if p.placement == "cpu":
        return p.headroom_bytes, machine.ram_bytes
    gpu = (real.budget_bytes - (p.budget_bytes - p.headroom_bytes), real.budget_bytes)
    if p.ram_bytes:
        ram = (ram_pool - p.ram_bytes, ram_pool)
        return min(gpu, ram, key=lambda fp: fp[0] / fp[1])
    return gpu


def test_no_recommended_setup_below_the_speed_floor_or_headroom(site):
    n = 0
    for mid, ent, rec in _recommendations(site):
        if rec.status != "recommended":
            continue
        n += 1
        pol = rec.policy
        assert rec.pick.decode_low_tok_s >= pol.decode_min_tok_s, (mid, ent.id, rec.quant)
        free, pool = real_headroom(site.engine, mid, ent.machine, rec)
        assert free >= max(pol.headroom_min_bytes, pol.headroom_min_share * pool), (mid, ent.id, rec.quant)
        assert rec.pick.quality.kld <= pol.kld_max
        if rec.quant in ("BF16", "F16"):
            assert advice.decode_low_tok_s(site.engine, rec.estimate) >= pol.decode_min_tok_s
    assert n > 50


def test_compromises_stay_usable_and_say_what_they_miss(site):
    for mid, ent, rec in _recommendations(site):
        if rec.status == "compromise":
            assert rec.pick.decode_low_tok_s >= rec.policy.usable_min_tok_s
            assert rec.reason.startswith("Compromise") and "below" in rec.reason
        if rec.status == "none":
            assert rec.pick is None and rec.reason


def test_every_recommended_quant_shows_a_quality_figure_with_source_or_estimate(site):
    for mid, ent, rec in _recommendations(site):
        if rec.pick is None:
            continue
        text = advice_text.quality_figure(site, mid, rec.quant)
        assert ("source" in text and "measured" in text) or "(estimate)" in text or "unquantized" in text, text


def test_commands_match_the_recommended_machine(site):
    """The llama-server line carries the placement's own -c, -ngl and --n-cpu-moe for this machine."""
    for mid, ent, rec in _recommendations(site):
        if rec.pick is None or rec.policy.use != "chat":
            continue
        p = rec.estimate.placement
        line = commands.llama_server(site.catalog, site.catalog.models[mid], rec.quant, rec.estimate, rec.context)
        assert f"-c {rec.context} " in line
        assert f"-ngl {0 if p.placement == 'cpu' else p.gpu_layers} " in line
        assert ("--n-cpu-moe" in line) == bool(p.n_cpu_moe)
        if p.n_cpu_moe:
            assert f"--n-cpu-moe {p.n_cpu_moe} " in line
        assert "-fa on" in line and "--parallel 1" in line


def test_model_page_commands_are_for_its_best_for_you_machine(site):
    from macros.render import model_page
    for mid in site.featured_models():
        page = model_page.model_page(site, mid)
        _, pick = model_page.best_for_you(site, mid)
        if pick is None:
            continue
        ent, rec = pick
        cmds = page[page.index("## Commands"):page.index("## Caveats")]
        assert f"hardware/{ent.id}.md" in cmds.splitlines()[2]
        assert f"-c {rec.context} " in cmds
        assert "vLLM" not in cmds or ent.machine.kind == "gpu"
        assert "mlx" not in cmds.lower() or ent.machine.kind == "unified"


def test_one_machine_one_setup_everywhere(site):
    """The home matrix cell and the hardware page row for the same model and machine name the same quant."""
    from macros.render import hardware_page, overview
    mach = "rtx-4090"
    home = overview.what_can_i_run(site, [mach])
    for mid, rec in hardware_page.fit_rows(site, mach):
        if site.catalog.models[mid].family != "qwen3.5":
            continue
        row = next(l for l in home.splitlines() if f"models/{mid}.md" in l)
        assert f"`{rec.quant}`" in row


def test_budget_tiers_start_at_300_and_show_price_dates(site):
    text = (ROOT / "docs/guides/budget.md").read_text()
    budgets = [int(x) for x in re.search(r"budget_tiers\(\[([^\]]*)\]", text).group(1).split(",")]
    assert min(budgets) == 300
    from macros.render import guides
    out = guides.budget_tiers(site, budgets)
    for row in out.splitlines()[2:]:
        if "hardware/" in row:
            assert re.search(r"\(\d{4}-\d{2}-\d{2}\)|date not given", row), row
