"""The command line is a contract: its flags, its JSON keys and its errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT
from macros.cli import main

REQUIRED_KEYS = {"params_total", "params_active", "memory", "fit", "decode_tok_s", "prefill_tok_s", "assumptions"}
MEMORY_KEYS = {"weights_bytes", "kv_cache_bytes", "recurrent_state_bytes", "overhead_bytes", "total_bytes"}
FIT_KEYS = {"fits", "placement", "gpu_bytes", "ram_bytes", "offloaded_fraction", "gpu_layers"}


def run(capsys, *args):
    code = main(list(args))
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
