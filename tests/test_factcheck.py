"""The fact-check: verdicts against hand-worked values, the page against the CLI, checked sentences."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from macros.claims import check_all, check_claim, coverage, judge, judge_speed, speed_band
from macros.engine.bands import SpeedBand
from macros.render.factcheck import VERDICT_LABEL, claims_by_guide, summary_table
from macros.catalog.schema import Claim


def _claim(**kw):
    base = {"id": "t", "quote": "q", "published_in": "test", "place": "here", "topic": "memory"}
    return Claim.model_validate({**base, **kw})


def test_verdict_rules():
    """Non-speed numbers: the claim's tolerance as a symmetric ratio; error ln(ours / claimed)."""
    q = {"output": "weights_gb", "model": "qwen3.5-9b", "quant": "Q4_K_M"}
    assert judge(_claim(query=q, claimed_value=104), 100) == ("holds", pytest.approx(math.log(100 / 104)))
    assert judge(_claim(query=q, claimed_value=110), 100)[0] == "close"
    assert judge(_claim(query=q, claimed_value=150), 100)[0] == "wrong"
    assert judge(_claim(query=q, claimed_low=90, claimed_high=120), 100)[0] == "holds"
    assert judge(_claim(query=q, claimed_low=1, claimed_high=6), 100)[0] == "wrong"
    assert judge(_claim(query=q, claimed_bool=True), False)[0] == "wrong"
    # symmetric: 5% either way, as a ratio (100/105 and 105/100 are the same distance)
    assert judge(_claim(query=q, claimed_value=105), 100)[0] == judge(_claim(query=q, claimed_value=100), 105)[0]


SPEED = {"output": "decode_tok_s", "model": "qwen3.5-27b", "quant": "Q4_K_M", "hardware": "rtx-4090"}


def _band(factor=1.35, points=20):
    return SpeedBand(kind="decode", speed_class="test", points=points, factor=factor, median_factor=1.1)


@pytest.mark.parametrize("ours, verdict", [
    (134, "holds"),          # ln 1.34 = 0.293 <= ln 1.35 = 0.300
    (100 / 1.34, "holds"),   # the same distance below
    (136, "close"),          # 0.307 > 0.300, <= 2 x 0.300 (x1.8225)
    (100 / 1.36, "close"),
    (182, "close"),          # x1.82 < x1.8225
    (183, "wrong"),          # x1.83 > x1.8225
    (100 / 1.83, "wrong"),
])
def test_speed_band_rule_by_hand(ours, verdict):
    """A 100 tok/s point claim against a class band of x1.35 resting on enough measurements."""
    got, err = judge_speed(_claim(topic="speed", query=SPEED, claimed_value=100), ours, _band())
    assert got == verdict
    assert err == pytest.approx(math.log(ours / 100))  # positive when the engine is above


@pytest.mark.parametrize("ours, verdict", [(47, "holds"), (48, "close"), (25, "holds"), (14.9, "holds"),
                                           (14.5, "close")])
def test_speed_range_claims_use_the_same_band(ours, verdict):
    """20–35 tok/s with a x1.35 band holds while the band around ours overlaps the range:
    47 / 1.35 = 34.8 <= 35 (holds); 48 / 1.35 = 35.6 > 35 (close); 14.9 x 1.35 = 20.1 >= 20 (holds);
    14.5 x 1.35 = 19.6 < 20 (close)."""
    got, _ = judge_speed(_claim(topic="speed", query=SPEED, claimed_low=20, claimed_high=35), ours, _band())
    assert got == verdict


@pytest.mark.parametrize("ours, enough, verdict", [
    (190, True, "wrong"),        # x1.9 > x1.8225: wrong on a class with enough measurements
    (190, False, "can't tell"),  # too few measurements, and off by less than a factor of two
    (201, False, "wrong"),       # off by more than a factor of two
    (100 / 2.01, False, "wrong"),
    (130, False, "holds"),
])
def test_too_few_measurements_give_cant_tell(ours, enough, verdict):
    band = _band(points=20 if enough else 2)
    assert band.enough is enough
    assert judge_speed(_claim(topic="speed", query=SPEED, claimed_value=100), ours, band)[0] == verdict


def test_speed_claims_use_the_engines_band(engine):
    """Every speed verdict carries the band the engine prints beside that setup's speed."""
    speed = [v for v in check_all(engine) if v.speed_band is not None]
    classes = {b.speed_class for b in engine.band_table.values()}
    assert speed and all(v.speed_band.speed_class in classes for v in speed)


def test_no_speed_claim_is_wrong_within_its_band(engine):
    speed = [v for v in check_all(engine) if v.speed_band is not None]
    assert len(speed) >= 40
    for v in speed:
        width = math.log(v.speed_band.factor)
        if abs(v.error_log) <= width:
            assert v.verdict == "holds", v.claim.id
        if v.verdict == "wrong":
            assert abs(v.error_log) > 2 * width and (v.speed_band.enough or abs(v.error_log) > math.log(2)), v.claim.id
        assert v.band and v.reading, v.claim.id


def test_kv_cache_claim_needs_no_quant(engine):
    """Qwen3.5-397B-A17B (config: 60 layers, one full-attention layer in 4, 2 KV heads of 256): K and V in
    16 bits for 15 layers = 15 x 2 x 256 x 2 x 2 B = 30,720 B per token; 262,144 tokens = 8.05 GB."""
    claim = _claim(query={"output": "kv_cache_gb", "model": "qwen3.5-397b-a17b", "context": 262144}, claimed_value=120)
    v = check_claim(engine, claim)
    assert v.ours == pytest.approx(30720 * 262144 / 1e9, rel=1e-9)
    assert v.verdict == "wrong" and "quant does not matter" in " ".join(v.reading)
    small = _claim(query={"output": "kv_cache_gb", "model": "qwen3.5-397b-a17b", "context": 8192},
                   claimed_value=30720 * 8192 / 1e9)
    assert check_claim(engine, small).verdict == "holds"


def test_vision_encoder_claim_is_checked(engine):
    """The 27B's vision tower (27 layers, width 1152, MLP 4304): 27 x (4 x 1152^2 + 2 x 1152 x 4304) = 411M in
    its blocks, plus about 45M in the patch merger and embeddings: ~0.456B parameters, 0.91 GB in 16 bits."""
    v = check_claim(engine, _claim(query={"output": "vision_gb", "model": "qwen3.5-27b"}, claimed_value=0.5,
                                   tolerance_pct=10, close_pct=50))
    assert v.ours == pytest.approx(0.91, rel=0.03)
    assert v.verdict == "wrong"


def test_registry_kv_and_vision_claims_are_checked(engine):
    rows = [v for v in check_all(engine) if v.claim.query and v.claim.query.output in ("kv_cache_gb", "vision_gb")]
    assert {v.claim.query.output for v in rows} == {"kv_cache_gb", "vision_gb"}
    assert all(v.verdict != "not checkable" for v in rows)


def test_no_such_model_or_device_is_wrong(engine):
    verdicts = check_all(engine)
    named = {v.claim.no_such.name: v for v in verdicts if v.claim.no_such}
    for name in ("Qwen 3.5 14B", "Qwen 3.5 1.5B", "M4 Ultra", "512 GB Mac Pro"):
        assert name in named, name
        assert named[name].verdict == "wrong" and f"no such {named[name].claim.no_such.kind}" in named[name].why
    claim = _claim(no_such={"kind": "model", "name": "Qwen 3.5 14B", "exists": "0.8B, 2B, 4B, 9B, 27B, ..."})
    assert check_claim(engine, claim).verdict == "wrong"


def test_published_file_wins_over_the_estimate(engine):
    """unsloth's UD-Q4_K_XL of the 397B: its Hugging Face file listing totals 245,272,148,448 bytes."""
    v = check_claim(engine, _claim(query={"output": "file_size_gb", "model": "qwen3.5-397b-a17b",
                                          "quant": "UD-Q4_K_XL"}, claimed_value=214))
    assert v.ours == pytest.approx(245.272148448, rel=1e-6)
    assert "published file" in v.why and v.verdict == "close"  # 214 is 13% below: the size before the re-upload


def test_speed_at_a_quant_that_does_not_fit_uses_the_nearest_that_does(engine):
    """27B at Q4_K_M (16.7 GB file) does not fit a 16 GB RTX 5080; a smaller 4-bit quant does, and is said."""
    q = {**SPEED, "hardware": "rtx-5080"}
    v = check_claim(engine, _claim(topic="speed", query=q, claimed_value=45))
    assert v.ours is not None and "nearest quant that does" in " ".join(v.reading)
    assert check_claim(engine, _claim(topic="fit", query={**q, "output": "fits"}, claimed_bool=False)).verdict == "holds"


def test_near_miss_fit_is_close(engine):
    """The 27B Q4_K_M on a 16 GB card misses by less than the driver and compute-buffer reserve: close."""
    q = {**SPEED, "output": "fits", "hardware": "rtx-5080", "context": 4096}
    v = check_claim(engine, _claim(topic="fit", query=q, claimed_bool=True))
    assert v.verdict == "close" and "kept free" in v.band


def test_coverage_per_guide(engine):
    cover = coverage(engine)
    assert len(cover) == 5
    for c in cover:
        assert c.share >= 0.9, (c.guide, c.registered, c.numeric_claims)
        assert (ROOT / "catalog" / "claims" / f"{c.guide}.yaml").exists()
        seed = engine.catalog.claim_guides[c.guide].seed
        assert seed in (ROOT / "catalog" / "claims" / f"{c.guide}.yaml").read_text()
    assert all(v.claim.guide in engine.catalog.claim_guides for v in check_all(engine))


def test_page_shows_reading_band_and_reason(engine):
    verdicts = check_all(engine)
    cover = coverage(engine)
    page = claims_by_guide(verdicts, cover)
    assert "| Verdict | Claim | Claimed | Ours | Reason | Band | Reading |" in page
    rows = [line for line in page.splitlines() if line.startswith("| ") and "<span id=" in line]
    assert len(rows) == len(verdicts)
    assert all(any(line.startswith(f"| {label}") for label in VERDICT_LABEL.values()) for line in rows)
    summary = summary_table(verdicts, cover)
    for c in cover:
        assert f"{c.share:.0%}" in summary
    assert "Q4_K_M does not fit" in page or "nearest quant" in page


def _by_id(engine):
    return {v.claim.id: v for v in check_all(engine)}


def test_registry_size_and_coverage(engine):
    verdicts = check_all(engine)
    checkable = [v for v in verdicts if v.claim.query is not None]
    assert len(checkable) >= 60
    assert {v.claim.topic for v in checkable} >= {"specs", "memory", "fit", "speed", "context", "power", "cost"}
    assert {v.verdict for v in verdicts} >= {"holds", "close", "wrong", "not checkable"}


def test_rtx_5090_memory_claims(engine):
    """The RTX 5090 has 32 GB (NVIDIA's spec page): a guide's 48 GB is wrong, 32 GB holds."""
    for v in check_all(engine):
        q = v.claim.query
        if q and q.output == "fact:hardware.memory_gb" and q.hardware == "rtx-5090" and v.claim.claimed_value:
            expected = "holds" if v.claim.claimed_value == 32 else "wrong"
            assert v.verdict == expected, v.claim.id


def test_397b_weights_claim_by_hand(engine):
    """397B parameters at Q8_0 (34 bytes per 32 weights) is 397e9 x 8.5 / 8 = 421.8 GB; a claim of
    421.58 GB (bartowski's published file) must hold."""
    claim = _claim(query={"output": "weights_gb", "model": "qwen3.5-397b-a17b", "quant": "Q8_0"},
                   claimed_value=397e9 * 8.5 / 8 / 1e9, tolerance_pct=1)
    assert check_claim(engine, claim).verdict == "holds"


def test_speed_for_a_setup_that_does_not_run_is_wrong(engine):
    claim = _claim(topic="speed", query={"output": "decode_tok_s", "model": "qwen3.5-397b-a17b", "quant": "Q4_K_M",
                                         "hardware": "rtx-5090", "count": 2}, claimed_value=48)
    v = check_claim(engine, claim)
    assert v.verdict == "wrong" and v.ours is None and "does not run" in v.why


def test_alibi_claim_is_wrong(engine):
    claim = _claim(topic="specs", query={"output": "fact:model.architecture.position_encoding",
                                         "model": "qwen3.5-397b-a17b"}, claimed_text="alibi")
    assert check_claim(engine, claim).verdict == "wrong"


def test_cli_json_matches_checker(engine):
    out = subprocess.run([sys.executable, "-m", "macros", "claims", "--json"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    cli = {row["id"]: row for row in json.loads(out)}
    for cid, v in _by_id(engine).items():
        assert cli[cid]["verdict"] == v.verdict
        if isinstance(v.ours, float):
            assert cli[cid]["ours"] == pytest.approx(v.ours)


MINI_CONFIG = """
site_name: check
docs_dir: docs
site_dir: site
plugins:
  - macros:
      module_name: macros/glue
      on_undefined: strict
      on_error_fail: true
"""


def _mini_site(tmp_path: Path, page: str) -> Path:
    """A one-page site using the project's macros (no generated pages), for fast build checks."""
    (tmp_path / "docs").mkdir(parents=True)
    (tmp_path / "docs" / "index.md").write_text(page)
    (tmp_path / "mkdocs.yml").write_text(MINI_CONFIG)
    (tmp_path / "macros").symlink_to(ROOT / "macros")
    return tmp_path


def _build(site: Path, catalog: Path):
    env = {**os.environ, "GUIDE_CATALOG": str(catalog), "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=site, env=env,
                          capture_output=True, text=True)


SENTENCE = ('{{ checked("Qwen3.5-27B at Q4_K_M fits entirely on one RTX 4090 at an 8K context.", True, '
            'output="fits", model="qwen3.5-27b", quant="Q4_K_M", hardware="rtx-4090", context=8192) }}')


def test_checked_sentence_renders_when_true(tmp_path, catalog_copy):
    site = _mini_site(tmp_path / "s", SENTENCE)
    result = _build(site, catalog_copy)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "fits entirely on one RTX 4090" in (site / "site" / "index.html").read_text()


def test_checked_sentence_fails_the_build_when_false(tmp_path, catalog_copy):
    path = catalog_copy / "hardware.yaml"
    text = path.read_text()
    start = text.index("- id: rtx-4090\n")
    block_end = text.index("\n- id:", start + 1)
    block = text[start:block_end].replace("memory_gb: 24\n", "memory_gb: 12\n", 1)
    path.write_text(text[:start] + block + text[block_end:])
    site = _mini_site(tmp_path / "s", SENTENCE)
    result = _build(site, catalog_copy)
    assert result.returncode != 0
    log = result.stdout + result.stderr
    assert "is no longer true" in log and "fits entirely on one RTX 4090" in log and "index.md" in log


def test_gb_read_as_gib_only_when_the_claim_allows_it(engine):
    """unsloth's Qwen3.5-27B Q4_K_M file is 16,740,812,704 bytes (its file listing): 16.74 GB but 15.59 GiB.
    A guide's "15 GB" holds read as GiB (4% off); when its own arithmetic fixes decimal GB it is 12% off: close."""
    q = {"output": "file_size_gb", "model": "qwen3.5-27b", "quant": "Q4_K_M"}
    loose = check_claim(engine, _claim(query=q, claimed_value=15, unit="GB"))
    assert loose.verdict == "holds" and any("GiB" in r for r in loose.reading)
    strict = check_claim(engine, _claim(query=q, claimed_value=15, unit="GB (10^9 bytes)"))
    assert strict.verdict == "close" and strict.ours == pytest.approx(16.740812704, rel=1e-6)
