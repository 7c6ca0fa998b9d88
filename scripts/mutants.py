"""Plant one-line bugs in the engine, one at a time, and count how many the fast tests catch.

Each mutant replaces one exact line fragment (it must occur once) in a copy of the repository and
runs the tests that need no site build. A mutant is caught when they fail. Prints a table and
exits 1 when fewer than 90% are caught. Run with `make mutants`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/test_speed_physics.py", "tests/test_engine.py", "tests/test_calibrate.py",
         "tests/test_money_search.py", "tests/test_catalog.py", "tests/test_speed_accuracy.py"]
TARGET = 0.90

# (file under macros/engine, fragment, replacement, what the bug means)
MUTANTS = [
    ("speed.py", '"lm_head": output,', '"lm_head": 0.0,', "drop the output head from decode bytes"),
    ("params.py", '"shared_expert": shared_expert_params(a),', '"shared_expert": 0,',
     "drop the shared expert from the parameter count"),
    ("placement.py", "math.ceil((resident - budget) / experts_per_layer)",
     "math.floor((resident - budget) / experts_per_layer)", "floor instead of ceil for --n-cpu-moe"),
    ("placement.py", "usable = machine.ram_bytes - s.os_reserve_bytes", "usable = machine.ram_bytes",
     "no OS reserve"),
    ("placement.py", "usable = d.memory_bytes - s.gpu_runtime_overhead_bytes", "usable = d.memory_bytes",
     "no driver/runtime overhead on a GPU"),
    ("speed.py", "per_layer = 2 * model.allreduce_s", "per_layer = 1 * model.allreduce_s",
     "one all-reduce per layer instead of two"),
    ("speed.py", 'terms["gpu_hops"] = (len(devs) - 1) * model.gpu_hop_s', 'terms["gpu_hops"] = 0.0',
     "no GPU-hop cost in a layer split"),
    ("speed.py", 'terms["ram_weight_stream"] = weights_in_ram_bytes / rate / ubatch', 'terms["ram_weight_stream"] = 0.0',
     "no cost for RAM-held weights in prefill"),
    ("speed.py", '"embeddings": batch * a.hidden_size * bits.embedding_bpw / 8',
     '"embeddings": t["embeddings"] * bits.embedding_bpw / 8', "read the whole embedding table per token"),
    ("speed.py", "kv_bytes_per_token(a, kv_type) * context_fill * batch", "kv_bytes_per_token(a, kv_type) * batch",
     "KV cache read not growing with its fill"),
    ("speed.py", '"recurrent_state": 2 * recurrent_state_bytes(a, batch)',
     '"recurrent_state": recurrent_state_bytes(a, batch)', "recurrent state read but not written"),
    ("speed.py", "routed_per_layer = touched * expert_params(a) * body",
     "routed_per_layer = a.num_experts * expert_params(a) * body", "every expert read per token"),
    ("memory.py", "return 2 * n_full_attention_layers(a) * a.num_key_value_heads",
     "return 2 * a.num_hidden_layers * a.num_key_value_heads", "KV cache in Gated DeltaNet layers too"),
    ("memory.py", '"q8_0": 34 / 32', '"q8_0": 1.0', "q8_0 without its block scales"),
    ("speed.py", "attention = 4 * n_full_attention_layers(a)", "attention = 2 * n_full_attention_layers(a)",
     "half the attention FLOPs"),
    ("speed.py", 'active = counts.active.total - counts.active["embeddings"] - counts.active["vision"]',
     'active = counts.active.total - counts.active["vision"]', "embedding lookups counted as matmul FLOPs"),
    ("speed.py", 'terms["token_overhead"] = first.token_overhead_s', 'terms["token_overhead"] = 0.0',
     "no fixed cost per token"),
    ("speed.py", 'kv_weight = model.kv_quant_read_factor if kv_type != "f16" else 1.0', "kv_weight = 1.0",
     "a quantized KV cache read as fast as f16"),
    ("speed.py", 'terms["offload_round_trips"] = ram_layers * model.offload_sync_s',
     'terms["offload_round_trips"] = 0.0', "no round trip per layer with experts in RAM"),
    ("speed.py", "read / len(devs) / (slowest.bandwidth_bytes_s", "read / (slowest.bandwidth_bytes_s",
     "tensor parallel reading everything on each GPU"),
    ("params.py", 'active["routed_experts"] = n_moe * a.num_experts_per_tok * expert_params(a)',
     'active["routed_experts"] = n_moe * a.num_experts * expert_params(a)', "every expert active per token"),
    ("memory.py", "RECURRENT_STATE_BYTES_PER_ELEMENT = 4.0", "RECURRENT_STATE_BYTES_PER_ELEMENT = 2.0",
     "recurrent state in 16 bits"),
    ("placement.py", "usable = d.memory_bytes * unified_fraction(machine, s)", "usable = d.memory_bytes",
     "unified memory without the GPU's share"),
    ("speed.py", "+ layers * linear_share * f.linear_layer_s", "",
     "no extra cost for Gated DeltaNet layers in decode"),
    ("speed.py", 'terms["moe_split_sync"] = gpu_layers * model.split_sync_s', 'terms["moe_split_sync"] = 0 * model.split_sync_s',
     "no synchronisation for an MoE layer split"),
    ("calibrate.py", "DECODE_LOWER = np.array([1.0, 0.0, 0.0, 0.0])", "DECODE_LOWER = np.array([0.0, 0.0, 0.0, 0.0])",
     "bandwidth efficiency allowed above 100%"),
]


def run_tests(tree: Path) -> bool:
    """True when the fast tests pass in `tree`."""
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *TESTS]
    return subprocess.run(cmd, cwd=tree, capture_output=True, text=True).returncode == 0


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        tree = Path(tmp) / "repo"
        shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(".venv", ".git", "site", "site.*", "__pycache__",
                                                                  ".pytest_cache", ".hypothesis"))
        if not run_tests(tree):
            print("the fast tests fail before any mutation: fix them first")
            return 1
        caught = 0
        for i, (name, old, new, what) in enumerate(MUTANTS, 1):
            path = tree / "macros" / "engine" / name
            text = path.read_text()
            if text.count(old) != 1:
                print(f"{i:2}. {what}: the fragment no longer occurs exactly once in {name}; update scripts/mutants.py")
                return 1
            path.write_text(text.replace(old, new))
            start = time.time()
            killed = not run_tests(tree)
            path.write_text(text)
            caught += killed
            print(f"{i:2}. {'caught ' if killed else 'MISSED '} {what}  ({time.time() - start:.0f} s)")
        share = caught / len(MUTANTS)
        print(f"\n{caught} of {len(MUTANTS)} mutants caught ({share:.0%}; target {TARGET:.0%})")
        return 0 if share >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
