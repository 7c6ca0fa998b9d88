"""The command line is a contract: its flags, its JSON keys and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from macros.cli import main

REQUIRED_KEYS = {"params_total", "params_active", "memory", "fit", "decode_tok_s", "prefill_tok_s", "assumptions"}
MEMORY_KEYS = {"weights_bytes", "kv_cache_bytes", "recurrent_state_bytes", "overhead_bytes", "total_bytes"}
FIT_KEYS = {"fits", "placement", "gpu_bytes", "ram_bytes", "offloaded_fraction", "gpu_layers"}


@pytest.fixture(autouse=True)
def _shared_engine(engine, monkeypatch):
    """In-process runs on the real catalog reuse the session's catalog and fitted engine (seconds each
    otherwise); a run on any other folder loads it for real."""
    import macros.cli as cli
    from conftest import CATALOG
    load, make = cli.load_catalog, cli.Engine
    monkeypatch.setattr(cli, "load_catalog",
                        lambda root: engine.catalog if Path(root).resolve() == CATALOG.resolve() else load(root))
    monkeypatch.setattr(cli, "Engine", lambda catalog: engine if catalog is engine.catalog else make(catalog))


def run(capsys, *args):
    try:
        code = main(list(args))
    except SystemExit as stop:  # argparse refuses a flag's value before main() runs
        code = stop.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_estimate_json_keys(capsys):
    code, out, _ = run(capsys, "estimate", "--model", "qwen3.5-397b-a17b", "--quant", "Q4_K_M", "--context",
                       "32768", "--hardware", "rtx-5090", "--count", "2", "--ram-gb", "512", "--json")
    assert code == 0
    data = json.loads(out)
    assert REQUIRED_KEYS <= set(data)
    assert MEMORY_KEYS <= set(data["memory"]) and FIT_KEYS <= set(data["fit"])
    assert data["fit"]["placement"] == "moe_expert_offload"
    # The 397B's KV cache at 32K: 15 attention layers x 2 KV heads x 256 x 2 (K, V) x 2 bytes per token.
    assert data["memory"]["kv_cache_bytes"] == 15 * 2 * 256 * 2 * 2 * 32768


def test_estimate_without_hardware_has_no_speed(capsys):
    code, out, _ = run(capsys, "estimate", "--model", "qwen3.5-9b", "--quant", "Q8_0", "--json")
    data = json.loads(out)
    assert code == 0 and data["fit"] is None and data["decode_tok_s"] is None and data["prefill_tok_s"] is None


def test_custom_machine_and_config(capsys, tmp_path):
    config = {"num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 32,
              "intermediate_size": 11008, "vocab_size": 32000, "max_position_embeddings": 4096,
              "tie_word_embeddings": False}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    code, out, _ = run(capsys, "estimate", "--config", str(path), "--quant", "Q4_0", "--bandwidth-gb-s", "1000",
                       "--memory-gb", "24", "--kind", "gpu", "--tflops", "80", "--json")
    data = json.loads(out)
    assert code == 0
    # Llama-2-7B's shape: 6,738,415,616 parameters (the published count).
    assert data["params_total"] == 6_738_415_616
    assert data["fit"]["fits"] and data["decode_tok_s"] > 0


@pytest.mark.parametrize("args, words", [
    (["--model", "qwen3.5-10b", "--quant", "Q4_K_M"], ["unknown model", "qwen3.5-9b"]),
    (["--model", "qwen3.5-9b", "--quant", "Q4_K_Q"], ["unknown quant", "Q4_K_M"]),
    (["--model", "qwen3.5-9b", "--quant", "Q4_K_M", "--context", "-5"], ["context"]),
    (["--model", "qwen3.5-9b", "--quant", "Q4_K_M", "--context", "5000000"], ["above", "262144"]),
    (["--model", "qwen3.5-9b", "--quant", "Q4_K_M", "--hardware", "rtx-9090"], ["unknown hardware", "rtx-5090"]),
    (["--model", "qwen3.5-9b", "--quant", "Q4_K_M", "--kv-type", "q2"], ["KV cache type", "q8_0"]),
    (["--model", "qwen3.5-9b", "--quant", "Q4_K_M", "--memory-gb", "24"], ["custom machine"]),
    (["--model", "qwen3.5-9b", "--quant", "Q4_K_M", "--hardware", "rtx-4090", "--count", "0"], ["count"]),
])
def test_bad_input_is_one_line_and_exit_2(capsys, args, words):
    code, out, err = run(capsys, "estimate", *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    for word in words:
        assert word in err


def test_list_json(capsys):
    code, out, _ = run(capsys, "list", "hardware", "--json")
    data = json.loads(out)
    assert code == 0 and data["rtx-5090"]["memory_gb"] == 32


def test_module_entry_point():
    result = subprocess.run([sys.executable, "-m", "macros", "estimate", "--model", "nope", "--quant", "Q4_K_M"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "unknown model" in result.stderr


def test_broken_catalog_exits_nonzero(catalog_copy, capsys):
    (catalog_copy / "models.yaml").write_text("- id: [unclosed\n")
    code, _, err = run(capsys, "--catalog", str(catalog_copy), "list", "models")
    assert code == 1 and "models.yaml:" in err and "malformed YAML" in err
    assert len(err.splitlines()) == 2  # one problem, not a cascade of unknown references


# --------------------------------------------------------------------------- hostile and careless input (issue 15)

Q9 = ["--model", "qwen3.5-9b", "--quant", "Q4_K_M"]
CUSTOM = ["--bandwidth-gb-s", "1000", "--memory-gb", "24", "--kind", "gpu"]


def _one_line_exit_2(capsys, args, words=()):
    code, out, err = run(capsys, *args)
    assert code == 2, (code, out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return err


@pytest.mark.parametrize("flag, base", [
    ("--ram-gb", ["--hardware", "rtx-4090"]), ("--count", ["--hardware", "rtx-4090"]),
    ("--context", []), ("--batch", []),
    ("--memory-gb", ["--bandwidth-gb-s", "1000", "--kind", "gpu"]),
    ("--bandwidth-gb-s", ["--memory-gb", "24", "--kind", "gpu"]), ("--tflops", CUSTOM),
])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "1e400", "abc", "NaN", "1e99"])
def test_numeric_flags_finite_and_in_range(capsys, flag, base, value):
    """nan, infinities, negatives, huge and non-numbers: exit 2 with one line naming the flag."""
    _one_line_exit_2(capsys, ["estimate", *Q9, *base, flag, value], [flag])


@pytest.mark.parametrize("args, words", [
    (["--hardware", "2x-rtx-4090-128gb-ddr5", "--count", "2"], ["--count", "rig"]),
    (["--hardware", "2x-rtx-4090-128gb-ddr5", "--ram-gb", "64"], ["--ram-gb", "rig"]),
    (["--hardware", "rtx-4090", "--tflops", "80"], ["--tflops", "--hardware"]),
    (["--hardware", "rtx-4090", "--memory-gb", "48"], ["--memory-gb", "--hardware"]),
    (["--bandwidth-gb-s", "800", "--memory-gb", "128", "--kind", "unified", "--count", "4"], ["--count", "unified"]),
    (["--bandwidth-gb-s", "800", "--memory-gb", "128", "--kind", "unified", "--ram-gb", "64"], ["--ram-gb"]),
    (["--hardware", "apple-m4-max-128gb", "--count", "2"], ["count"]),
    (["--count", "2"], ["--count", "--hardware"]),
    (["--tflops", "80"], ["custom machine", "--memory-gb"]),
])
def test_conflicting_or_ignored_flags_refused(capsys, args, words):
    _one_line_exit_2(capsys, ["estimate", *Q9, *args], words)


def test_mlx_quant_on_cuda_refused(capsys, catalog):
    mlx = next(q.id for q in catalog.quants.values() if q.format == "mlx")
    for extra in ([], ["--runtime", "vllm"]):
        _one_line_exit_2(capsys, ["estimate", "--model", "qwen3.5-9b", "--quant", mlx, "--hardware", "rtx-4090",
                                  *extra], ["MLX", "cuda"])


def test_count_is_capped_and_linear(capsys):
    """--count 1000000 used to grow quadratically and hang: now capped with a clear line, and the time of an
    estimate at the cap stays within a few times that at 8 GPUs (linear placement)."""
    import time
    _one_line_exit_2(capsys, ["estimate", *Q9, "--hardware", "rtx-4090", "--count", "1000000"], ["--count", "256"])
    times = {}
    for n in (8, 256):
        t0 = time.perf_counter()
        code, _, _ = run(capsys, "estimate", "--model", "qwen3.5-397b-a17b", "--quant", "Q4_K_M",
                         "--hardware", "rtx-4090", "--count", str(n))
        times[n] = time.perf_counter() - t0
        assert code == 0
    assert times[256] < 10, times


CONFIGS = {
    "list": b"[1, 2]", "null": b"null", "string": b'"config"', "number": b"5",
    "binary": bytes(range(256)) * 4, "deep": b"[" * 100000 + b"]" * 100000,
    "nan": b'{"num_hidden_layers": NaN}', "infinity": b'{"rope_theta": Infinity}',
    "text_config": b'{"text_config": [1]}', "truncated": b'{"hidden_size": 4',
    "empty": b"", "shape": b'{"num_hidden_layers": "many"}',
    "huge": json.dumps({"num_hidden_layers": 10**9, "hidden_size": 4096, "num_attention_heads": 32,
                        "num_key_value_heads": 8, "intermediate_size": 11008, "vocab_size": 32000,
                        "max_position_embeddings": 4096}).encode(),
    "long_digits": b'{"num_hidden_layers": ' + b"9" * 4000 + b"}",
}


@pytest.mark.parametrize("name", CONFIGS)
def test_bad_config_is_one_line(capsys, tmp_path, name):
    path = tmp_path / f"{name}.json"
    path.write_bytes(CONFIGS[name])
    _one_line_exit_2(capsys, ["estimate", "--config", str(path), "--quant", "Q4_K_M"], [str(path)])


def test_empty_catalog_folder_is_one_clear_error(capsys, tmp_path):
    code, out, err = run(capsys, "--catalog", str(tmp_path), "estimate", *Q9)
    assert code == 1 and "Traceback" not in err and str(tmp_path.name) in err, err
    assert len(err.strip().splitlines()) <= 3, err


def test_broken_pipe_is_quiet():
    """`list hardware | head -1`: no BrokenPipeError traceback."""
    proc = subprocess.run(f"{sys.executable} -m macros list hardware | head -1", shell=True, cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.stdout.count("\n") == 1 and proc.stderr == "", proc.stderr


def _strict_loads(text: str):
    def refuse(name):
        raise ValueError(f"invalid JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def test_json_is_strict():
    from macros.jsonout import strict_json
    assert _strict_loads(strict_json({"a": float("nan"), "b": [float("inf"), 1.5], "c": (float("-inf"),)})) == \
        {"a": None, "b": [None, 1.5], "c": [None]}


@pytest.mark.parametrize("args", [["claims", "--json"], ["accuracy", "--json"],
                                  ["estimate", *Q9, "--hardware", "rtx-4090", "--json"],
                                  ["estimate", *Q9, *CUSTOM, "--json"]])
def test_every_json_output_is_strict(capsys, args):
    code, out, _ = run(capsys, *args)
    assert code == 0
    _strict_loads(out)


def test_build_names_catalog_errors_first(catalog_copy):
    """`python -m macros build` with a broken catalog: the problem list (file:line: field), no MkDocs traceback."""
    from conftest import plant
    line = plant(catalog_copy, "hardware.yaml", r"^(  memory_bandwidth_gb_s: )1792$", r"\1-1")
    env = {**__import__("os").environ, "GUIDE_CATALOG": str(catalog_copy)}
    proc = subprocess.run([sys.executable, "-m", "macros", "build", "--site-dir", str(catalog_copy.parent / "site")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"hardware.yaml:{line}: rtx-5090: memory_bandwidth_gb_s" in proc.stderr, proc.stderr


def test_internal_error_is_one_line(capsys, monkeypatch):
    """A bug (not bad input) still ends in one line, exit 3; GUIDE_DEBUG=1 shows the traceback."""
    import macros.cli as cli
    monkeypatch.setattr(cli, "cmd_list", lambda *a: 1 / 0)
    code, _, err = run(capsys, "list", "models")
    assert code == 3 and "ZeroDivisionError" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("GUIDE_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["list", "models"])


# --------------------------------------------------------------------------- honest --config (issue 15 item 5)

MIXTRAL_8X7B = {  # https://huggingface.co/mistralai/Mixtral-8x7B-v0.1/blob/main/config.json
    "architectures": ["MixtralForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336,
    "max_position_embeddings": 32768, "model_type": "mixtral", "num_attention_heads": 32, "num_experts_per_tok": 2,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "num_local_experts": 8, "rope_theta": 1e6,
    "sliding_window": None, "tie_word_embeddings": False, "vocab_size": 32000}
DEEPSEEK_V3 = {  # https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json (the shape fields)
    "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "hidden_size": 7168,
    "intermediate_size": 18432, "moe_intermediate_size": 2048, "kv_lora_rank": 512, "q_lora_rank": 1536,
    "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128, "n_routed_experts": 256,
    "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 3, "num_hidden_layers": 61,
    "num_attention_heads": 128, "num_key_value_heads": 128, "vocab_size": 129280,
    "max_position_embeddings": 163840, "tie_word_embeddings": False, "num_nextn_predict_layers": 1}
GPT_OSS_20B = {  # https://huggingface.co/openai/gpt-oss-20b/blob/main/config.json (the shape fields)
    "architectures": ["GptOssForCausalLM"], "model_type": "gpt_oss", "hidden_size": 2880, "intermediate_size": 2880,
    "num_hidden_layers": 24, "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64,
    "num_local_experts": 32, "num_experts_per_tok": 4, "sliding_window": 128,
    "layer_types": ["sliding_attention", "full_attention"] * 12, "vocab_size": 201088,
    "max_position_embeddings": 131072, "tie_word_embeddings": False}
GEMMA_2_9B = {  # https://huggingface.co/google/gemma-2-9b/blob/main/config.json (the shape fields)
    "architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2", "hidden_size": 3584, "intermediate_size": 14336,
    "num_hidden_layers": 42, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 256,
    "sliding_window": 4096, "vocab_size": 256000, "max_position_embeddings": 8192, "tie_word_embeddings": True}
QWEN3_30B_A3B = {  # https://huggingface.co/Qwen/Qwen3-30B-A3B/blob/main/config.json (the shape fields)
    "architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "hidden_size": 2048, "num_hidden_layers": 48,
    "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128, "intermediate_size": 6144,
    "moe_intermediate_size": 768, "num_experts": 128, "num_experts_per_tok": 8, "decoder_sparse_step": 1,
    "mlp_only_layers": [], "vocab_size": 151936, "max_position_embeddings": 40960, "sliding_window": None,
    "use_sliding_window": False, "tie_word_embeddings": False}


def _estimate_config(capsys, tmp_path, config, *extra):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return run(capsys, "estimate", "--config", str(path), "--quant", "Q4_K_M", *extra)


def test_mixtral_config_matches_published_counts_and_llama_cpp_kv(capsys, tmp_path):
    """Mixtral 8x7B: Mistral AI publishes 46.7B total and 12.9B per token (https://mistral.ai/news/mixtral-of-experts).
    By hand: attention 32 x (4096x4096 x 2 + 4096x1024 x 2) = 1.342 B; experts 32 x 8 x 3 x 4096 x 14336 = 45.097 B;
    routers 32 x 4096 x 8 = 1.0 M; embeddings and output 2 x 32000 x 4096 = 0.262 B: 46.70 B; per token 2 of 8
    experts: 11.274 + 1.342 + 0.262 = 12.88 B.
    KV cache as llama.cpp sizes it: per layer n_embd_k_gqa = n_embd_v_gqa = 8 KV heads x 128 = 1024 (llama.cpp's
    metadata for this model: block_count 32, head_count 32, head_count_kv 8, embedding_length 4096, printed in
    https://github.com/ggml-org/llama.cpp/issues/4495), f16: 32 x 2 x 1024 x 2 bytes = 128 KiB per token, so
    32,768 tokens = 4096.00 MiB, the "KV self size" llama.cpp prints for -c 32768."""
    code, out, err = _estimate_config(capsys, tmp_path, MIXTRAL_8X7B, "--context", "32768", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["params_total"] == pytest.approx(46.7e9, rel=0.01)
    assert data["params_active"] == pytest.approx(12.9e9, rel=0.01)
    assert data["memory"]["kv_cache_bytes"] == 4096 * 2**20


def test_qwen3_moe_config_accepted(capsys, tmp_path):
    """Qwen3-30B-A3B (use_sliding_window false, every layer MoE): 30.5B total, 3.3B active (its model card)."""
    code, out, err = _estimate_config(capsys, tmp_path, QWEN3_30B_A3B, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["params_total"] == pytest.approx(30.5e9, rel=0.01)
    assert data["params_active"] == pytest.approx(3.3e9, rel=0.03)


@pytest.mark.parametrize("config, words", [
    ({**DEEPSEEK_V3, "v_head_dim": None}, ["MLA attention without", "v_head_dim"]),
    (GPT_OSS_20B, ["sliding-window attention", "sliding_window 128"]),
    (GEMMA_2_9B, ["sliding-window attention", "sliding_window 4096"]),
    ({**QWEN3_30B_A3B, "mlp_only_layers": [0, 1]}, ["mlp_only_layers"]),
    ({**QWEN3_30B_A3B, "decoder_sparse_step": 2}, ["decoder_sparse_step 2"]),
], ids=["mla-incomplete", "gpt-oss-20b", "gemma-2-9b", "qwen3-dense-layers", "qwen3-sparse-step"])
def test_unsupported_architectures_refused_naming_the_feature(capsys, tmp_path, config, words):
    """What the engine cannot model is refused, naming it, instead of estimated as something else."""
    code, out, err = _estimate_config(capsys, tmp_path, config)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, err


def test_constant_missing_at_use_is_a_catalog_error(capsys, monkeypatch):
    """A constant the engine reads that the loader did not require: exit 1 naming it, not an internal error."""
    import macros.cli as cli
    from macros.catalog import CatalogError
    from macros.catalog.loader import Problem

    def engine_without(catalog):
        raise CatalogError([Problem("catalog/constants", 1, "made_up_constant", "missing constant")])
    monkeypatch.setattr(cli, "Engine", engine_without)
    code, _, err = run(capsys, "estimate", *Q9)
    assert code == 1 and "made_up_constant" in err and "internal error" not in err


def test_deepseek_v3_config_mla_and_moe(capsys, tmp_path):
    """DeepSeek-V3 used to get 702B parameters and a KV cache about 25 times too large, silently. Published:
    671B total, 37B activated per token (https://huggingface.co/deepseek-ai/DeepSeek-V3, MTP module apart).
    By hand: MLA attention per layer q_a 7168x1536 + q_b 1536x128x192 + kv_a 7168x576 + kv_b 512x128x256 +
    o 128x128x7168 (+ norms) = 187.1 M, x 61 = 11.41 B; dense FFN 3 x 3 x 7168 x 18432 = 1.19 B; 58 MoE layers of
    256 experts x 3 x 7168 x 2048 = 653.9 B, one shared expert 2.55 B, routers 0.11 B; embeddings and output
    2 x 129280 x 7168 = 1.85 B: 671.0 B. Per token 8 of 256 experts: 37.5 B (the published 37B is rounded; it is
    36.6 B without the embedding table).
    KV cache: MLA keeps kv_lora_rank + qk_rope_head_dim = 576 values per layer per token. ik_llama.cpp (a llama.cpp
    fork) prints "KV self size = 1166.62 MiB, c^KV (q8_0)" for this model at 32,768 tokens
    (https://github.com/ikawrakow/ik_llama.cpp/pull/259): 61 x 576 x 32768 x 34/32 bytes = 1166.625 MiB."""
    code, out, err = _estimate_config(capsys, tmp_path, DEEPSEEK_V3, "--context", "32768", "--kv-type", "q8_0",
                                      "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["params_total"] == pytest.approx(671e9, rel=0.01)
    assert data["params_active"] == pytest.approx(37e9, rel=0.02)
    assert data["memory"]["kv_cache_bytes"] / 2**20 == pytest.approx(1166.62, abs=0.01)
