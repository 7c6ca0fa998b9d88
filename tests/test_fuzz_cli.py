"""Fuzz the command line's numeric flags (Hypothesis, in-process): every run ends in exit 0 with finite
numbers and strict JSON, or in exit 1/2 with one line; never a traceback (exit 3), NaN or a hang."""

from __future__ import annotations

import json
import math
import time

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import macros.cli
from macros.cli import main


@pytest.fixture(scope="module", autouse=True)
def _one_catalog_and_engine(engine):
    """Load the catalog and fit the engine once: the fuzz is about flags, not about loading."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(macros.cli, "load_catalog", lambda root: engine.catalog)
        mp.setattr(macros.cli, "Engine", lambda catalog: engine)
        yield

# Text a user might type for a number: ordinary values, edges, and the hostile ones.
NUMBER_TEXT = st.one_of(
    st.integers(1, 300_000).map(str), st.floats(0.01, 5000).map(str),  # plausible values: estimates run
    st.integers(-10**12, 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-0", "0", "0.0", "1e-320", "", " ", "1_000",
                     "0x10", "12abc", "１２", "1e3", "256", "257", "4096", "262144", "16777217"]),
)
FLAGS = ["--context", "--batch", "--count", "--ram-gb", "--memory-gb", "--bandwidth-gb-s", "--tflops", "--depth",
         "--prompt", "--n-gpu-layers", "--n-cpu-moe", "--ram-bandwidth-gb-s", "--parallel"]
MACHINES = st.sampled_from([
    ["--hardware", "rtx-4090"], ["--hardware", "apple-m4-max-128gb"], ["--hardware", "2x-rtx-4090-128gb-ddr5"],
    ["--hardware", "rtx-4090,rtx-3090", "--ram-gb", "128"], ["--hardware", "rtx-3060-12gb", "--ram-gb", "64"],
    ["--bandwidth-gb-s", "1000", "--memory-gb", "24", "--kind", "gpu"],
    ["--bandwidth-gb-s", "400", "--memory-gb", "128", "--kind", "unified"],
    ["--bandwidth-gb-s", "90", "--memory-gb", "256", "--kind", "cpu"], [],
])
MODELS = st.sampled_from([["--model", "qwen3.5-9b"], ["--model", "qwen3.5-397b-a17b"], ["--model", "gpt-oss-20b"]])


def _finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


@settings(max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", 150)), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(model=MODELS, machine=MACHINES, flags=st.dictionaries(st.sampled_from(FLAGS), NUMBER_TEXT, max_size=3),
       as_json=st.booleans())
def test_numeric_flags_never_crash(capsys, model, machine, flags, as_json):
    args = ["estimate", *model, "--quant", "Q4_K_M", *machine]
    for flag, text in flags.items():
        if flag in args:  # the machine sets it already: replace its value
            args[args.index(flag) + 1] = text
        else:
            args += [f"{flag}={text}"]  # `=` keeps a leading '-' a value, not a flag
    if as_json:
        args.append("--json")
    t0 = time.perf_counter()
    try:
        code = main(args)
    except SystemExit as stop:
        code = stop.code
    elapsed = time.perf_counter() - t0
    out, err = capsys.readouterr()
    event(f"exit {code}")
    assert code in (0, 1, 2), (args, code, err)
    assert "Traceback" not in err and "internal error" not in err, (args, err)
    assert elapsed < 20, (args, elapsed)
    if code:
        assert len(err.strip().splitlines()) == 1, (args, err)
        return
    if as_json:
        data = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in JSON for {args}"))
        assert _finite(data)
    else:
        words = out.replace(",", " ").split()
        assert "nan" not in words and "inf" not in words and "NaN" not in words, (args, out)
