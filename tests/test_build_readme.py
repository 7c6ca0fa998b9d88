"""Every command the README shows runs: the engine commands for real (a placeholder config path gets
a real config), the cheap `make` verbs for real, and the long ones (serve, test, build, bench,
lock, clean, diff, ...) as a dry run that must resolve to a recipe. Those run for real elsewhere:
serve in test_build_serve, build in the site builds and test_build_lock, diff in test_build_diff."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
RUN_FOR_REAL = {"help", "check", "claims", "accuracy", "sources"}  # a few seconds each
# Every other verb (serve, test, build, bench, lock, clean, diff, mutants, ...) is long or needs the
# network: a dry run must resolve it to a recipe.


def readme_commands() -> list[str]:
    """Shell lines from the README's sh blocks (continuations joined, comments dropped), then every
    `make verb` and `python -m macros ...` quoted inline in its prose."""
    out = []
    for block in re.findall(r"^```sh\n(.*?)^```", README, flags=re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip()
            if line:
                out.append(" ".join(line.split()))
    for inline in re.findall(r"`((?:make [a-z]+)|(?:(?:\.venv/bin/)?python -m macros [^`]+))`", README):
        if inline not in out and "..." not in inline:  # "python -m macros ..." names the entry point
            out.append(inline)
    return out


COMMANDS = readme_commands()


def test_the_readme_shows_commands():
    verbs = {c.split()[1] for c in COMMANDS if c.startswith("make ")}
    assert {"serve", "test"} <= verbs and any("-m macros estimate" in c for c in COMMANDS)
    listed = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    assert all(f"make {v} " in listed for v in verbs), f"a README verb missing from make help: {verbs}"


LLAMA_7B = {"num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 32,
            "intermediate_size": 11008, "vocab_size": 32000, "max_position_embeddings": 4096,
            "tie_word_embeddings": False}


@pytest.mark.parametrize("command", [c for c in COMMANDS if "-m macros" in c])
def test_each_engine_command_runs(command, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(LLAMA_7B))
    args = shlex.split(command.replace("path/to/config.json", str(config)))
    if args[0].startswith(".venv/") or args[0] == "python":
        args[0] = str(ROOT / ".venv" / "bin" / "python")
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{command}\n{out.stderr[-2000:]}"
    assert out.stdout.strip()
    if "--json" in args:
        json.loads(out.stdout)


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith("make ")])
def test_each_make_verb_runs(command):
    verb = command.split()[1]
    if verb in RUN_FOR_REAL:
        out = subprocess.run(["make", "-s", verb], cwd=ROOT, capture_output=True, text=True, timeout=300)
    else:
        out = subprocess.run(["make", "-n", verb], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"{command}\n{out.stdout[-1000:]}\n{out.stderr[-2000:]}"
    assert out.stdout.strip()
