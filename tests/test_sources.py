"""Sources a reader can follow, and the catalog corrections pinned against their published figures."""

from __future__ import annotations

import re

import pytest

from macros import sources
from macros.engine.params import count_params


# --------------------------------------------------------------------------- sources


def test_no_source_cites_a_path_outside_the_repository(catalog):
    outside = [f"{c.kind}/{c.record}: {c.source.doc}" for c in sources.cited(catalog)
               if sources.outside_repository(c.source.doc)]
    assert not outside, f"{len(outside)} sources cite a path outside the repository, e.g. {outside[:5]}"


def test_no_source_text_points_at_the_shared_notes(catalog):
    """Notes and quotes name public pages, not the working notes this catalog was drafted from."""
    bad = [f"{c.kind}/{c.record}" for c in sources.cited(catalog)
           if re.search(r"shared/(reference|seeds)/", f"{c.source.note or ''} {c.source.quote or ''}")]
    assert not bad, bad[:5]


def test_no_source_uses_a_deny_listed_domain(catalog):
    bad = [f"{c.kind}/{c.record}: {c.source.url}" for c in sources.cited(catalog)
           if c.source.url and sources.denied(c.source.url)]
    assert not bad, f"{len(bad)} sources on deny-listed domains, e.g. {bad[:5]}"


def test_every_deny_listed_domain_has_a_reason():
    for dom, reason in sources.DENY_DOMAINS.items():
        assert re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", dom), dom
        assert len(reason) > 8, dom


@pytest.mark.parametrize(("doc", "outside"), [
    ("shared/reference/hardware-facts.yaml (rtx-3090)", True),
    ("../shared/seeds/000.txt", True),
    ("/work/shared/reference/qwen-models.md", True),
    ("catalog/hardware.yaml", False),  # a file in this repository
    ("docs/no-such-file.md", True),  # looks like a repository path but is not one
    ("ggml-org/llama.cpp discussion #4167 summary table", False),  # a description, not a path
])
def test_outside_repository_rule(doc, outside):
    assert sources.outside_repository(doc) is outside


@pytest.mark.parametrize(("url", "is_denied"), [
    ("https://www.manhattanreefs.com/threads/x", True),
    ("https://fast.hugflare.com/org/repo", True),
    ("https://huggingface.co/Qwen/Qwen3.5-2B", False),
    ("https://github.com/ggml-org/llama.cpp/discussions/4167", False),
])
def test_deny_list_matches_domains_and_subdomains(url, is_denied):
    assert bool(sources.denied(url)) is is_denied


def test_report_lists_every_field_kind_and_the_weak_records(catalog):
    text = sources.report(catalog)
    for kind in ("hardware", "models", "artifacts", "measurements", "prices", "constants", "rigs"):
        assert re.search(rf"^{kind} \(\d+ sources\)$", text, re.M), kind
    assert "Records resting on a weak source:" in text


def test_a_marked_weak_source_is_listed(catalog):
    # The bartowski Q6_K size is read from the model card's table, not summed from the file listing.
    assert ("artifacts", "bartowski-qwen3.5-397b-q6_k") in sources.weak_records(catalog)


# --------------------------------------------------------------------------- corrections


def test_qwen35_2b_params_match_the_published_safetensors_total(catalog):
    """The Hugging Face safetensors total of Qwen/Qwen3.5-2B is 2,274,069,824 parameters (text 1,881,825,088
    + MTP 60,828,160 + vision 331,416,576). The architecture, with the 24 x 1024 vision tower, gives the same
    within 0.01% (the MTP block's small norms differ by a few thousand); the 27 x 1152 tower would overshoot by
    about 116M (5%)."""
    counts = count_params(catalog.models["qwen3.5-2b"].architecture)
    assert counts.total.total + counts.mtp == pytest.approx(2_274_069_824, rel=1e-4)
    assert counts.total["vision"] == pytest.approx(331_416_576, rel=1e-4)


@pytest.mark.parametrize(("artifact_id", "listing_bytes"), [
    # Sum of the split parts in unsloth/Qwen3.5-397B-A17B-GGUF's file listing (4 and 6 parts).
    ("unsloth-qwen3.5-397b-ud-iq2_xxs", 114_872_940_736),
    ("unsloth-qwen3.5-397b-ud-q4_k_xl", 245_272_148_448),
])
def test_397b_ud_sizes_match_their_file_listing(catalog, artifact_id, listing_bytes):
    art = catalog.artifacts[artifact_id]
    assert art.size_bytes == listing_bytes
    assert "/tree/main/" in art.source[0].url


def test_ud_iq2_xxs_reference_bpw_follows_the_listing(catalog):
    """114,872,940,736 B x 8 / 396.346e9 text parameters = 2.319 bits per weight."""
    assert catalog.quants["UD-IQ2_XXS"].reference_file_bpw.bpw == pytest.approx(2.319, abs=0.001)


def test_m3_family_fp16_uses_one_gpu_clock(catalog):
    """FP32 (= FP16) rate = cores x 128 ALUs x 2 FLOP x clock; every M3 Max/Ultra record gives 1.398 GHz."""
    ids = [i for i in catalog.hardware if re.match(r"apple-m3-(max|ultra)", i)]
    assert ids
    for i in ids:
        hw = catalog.hardware[i]
        if hw.gpu_cores and hw.fp16_tflops:
            clock_ghz = hw.fp16_tflops * 1e12 / (hw.gpu_cores * 256) / 1e9
            assert clock_ghz == pytest.approx(1.398, abs=0.002), i


def test_apple_prices_rise_with_memory_within_a_chip(catalog):
    """A configuration is priced at its own memory size: within one chip, more memory never costs less, and
    two sizes never share a price (the old records paired the largest memory with the base price)."""
    by_chip: dict[str, list[tuple[float, float, str]]] = {}
    for i, hw in catalog.hardware.items():
        m = re.match(r"apple-(m\d+(?:-pro|-max|-ultra)?)", i)
        if m and hw.price_usd:
            by_chip.setdefault(m.group(1), []).append((hw.memory_gb, hw.price_usd, i))
    for chip, rows in by_chip.items():
        rows.sort()
        for (mem_a, price_a, a), (mem_b, price_b, b) in zip(rows, rows[1:]):
            if mem_b > mem_a:
                assert price_b > price_a, f"{chip}: {b} ({mem_b} GB) priced at or below {a} ({mem_a} GB)"


def test_large_mac_studios_are_priced(catalog):
    for i in ("apple-m3-ultra-256gb", "apple-m3-ultra-80c-512gb"):
        hw = catalog.hardware[i]
        assert hw.price_usd and hw.price_kind == "list" and hw.price_date, i


def test_priced_rigs_say_what_the_price_covers(catalog):
    for rid, rig in catalog.rigs.items():
        if rig.price_usd:
            assert rig.price_scope in ("whole", "gpus_only"), rid
            assert rig.price_kind, rid


def test_hardware_header_reads_capacities_as_gib():
    from pathlib import Path
    head = "".join((Path(sources.ROOT) / "catalog" / "hardware.yaml").read_text().splitlines(True)[:8])
    assert "GiB" in head and "memory_gb 1e9" not in head


def test_rigs_priced_from_parts_say_what_the_price_covers(catalog):
    """A rig without its own price gets one from its parts (8 RTX 5090s at $1,999 = $15,992); that price must
    say whether it is the whole machine (a Mac is its one part) or the GPUs alone (kept out of rankings)."""
    from macros.engine.machine import machine_from_rig
    for rid, rig in catalog.rigs.items():
        if rig.price_usd is None and machine_from_rig(rig, catalog.hardware).price_usd:
            assert rig.price_scope in ("whole", "gpus_only"), rid
    assert catalog.rigs["8x-rtx-5090"].price_scope == "gpus_only"
