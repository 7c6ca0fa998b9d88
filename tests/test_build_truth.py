"""One source of truth, enforced in code: no figure typed into the text that macros/render puts on
pages, and no catalog constant that nothing in macros/ reads."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RENDER = ROOT / "macros" / "render"

# A number standing on its own (not part of an id such as Q4_K_M, qwen3.5 or h100), or a number word.
NUMBER = re.compile(r"(?<![\w.$/#^-])\d[\d,]*(?:\.\d+)?(?![\w.]*[A-Za-z_])")
NUMBER_WORD = re.compile(r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twice|thrice|half|"
                         r"dozen|hundred|thousand)\b", re.I)
# Numbers that define rather than report: units (10^9 bytes, 2^30 bytes), the two tensors K and V and
# the two FLOPs of a multiply-add ("2 x"), bits per byte, watts per kilowatt, "batch 1" (one sequence),
# the family's name, f16's two bytes, a command-line flag's value in a printed command.
DEFINITIONS = re.compile(r"\d+\^\d+|\b2 x\b|\b2 \(K and V\)|/ ?8\b|/ ?1000\b|\bbatch 1\b|Qwen ?3(?:\.\d)?\b|"
                         r"\b2 bytes\b|\b1 / |\b1 in\b|\(0%\)|--[\w-]+ \d+")
# Literals that are not page text: regular expressions, HTML attributes, format pieces.
NOT_TEXT = re.compile(r"\\\d|\(\?|\[\^|\w+=\"\d+\"|^\s*\d+\s*$")

# What remains after the rules above, literal by literal, with why it may stay. A new figure typed
# into a render string fails the test: compute it, or add it here with its reason.
ALLOWED = {
    "guides.py": {
        "a 15 A / 120 V circuit under the 80% continuous-load rule":
            "names the circuit the constant household_circuit_w stands for (its source's words)",
        "(1 in ": "a ratio's notation",
        "adds two all-reduces per layer": "how tensor parallelism works (one after attention, one after the MLP)",
    },
    "commands.py": {
        "files over about 50 GB come in numbered parts":
            "Hugging Face's upload limit, a fact about the host, not a figure of the site",
    },
    "factcheck.py": {
        "twice the band": "the verdict rule's definition (close = within two bands, claims.judge_speed)",
    },
    "methodology.py": {
        "a figure 30% high": "a worked example of the error measure, not a result",
        "band (90% within)": "the band's definition (the 90th percentile of held-out error)",
        "q8_0 34/32, q4_0 18/32": "llama.cpp's block sizes: definitions of the formats (bytes per 32 values)",
        "about 7% more than N": "2^30 / 10^9 - 1, a fact of the units, stated where the units are explained",
        "Attention FLOPs = 4 x": "attention's two matrix products at two FLOPs per multiply-add",
        "within which 90% of the held-out": "the band's definition (the 90th percentile of held-out error)",
        "built in powers of two": "why capacities are binary: a fact of memory chips, not a figure",
        "two all-reduces per layer": "how tensor parallelism works (one after attention, one after the MLP)",
        "A quant gives three bit widths": "a quant's three tensor classes (body, embedding, output head)",
    },
    "model_page.py": {
        "q8_0 34/32, q4_0 18/32": "llama.cpp's block sizes: definitions of the formats (bytes per 32 values)",
        "KLD": "a measure's name and its zero (identical distributions)",
    },
    "advice_text.py": {},
    "fmt.py": {
        "'0'": "the formatter's zero",
    },
    "overview.py": {},
    "hardware_page.py": {},
    "common.py": {
        "is where 90% of measurements": "the band's definition (the 90th percentile of held-out error)",
    },
    "charts.py": {},
}


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def literals(path: Path):
    """(line, text) of every string literal in a module, f-string pieces included, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value


def typed_figures(path: Path) -> list[str]:
    allowed = ALLOWED.get(path.name, {})
    bad = []
    for line, text in literals(path):
        if NOT_TEXT.search(text):
            continue
        rest = DEFINITIONS.sub(" ", text)
        hits = NUMBER.findall(rest) + NUMBER_WORD.findall(rest)
        if hits and not any(snippet in text or snippet == repr(text) for snippet in allowed):
            where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
            bad.append(f"{where}:{line}: {hits} in {text.strip()[:100]!r}")
    return bad


def test_no_figures_typed_into_render_strings():
    bad = [b for path in sorted(RENDER.glob("*.py")) for b in typed_figures(path)]
    assert not bad, ("figures typed into macros/render strings (compute them, or list them in ALLOWED "
                     "with the reason):\n" + "\n".join(bad))


def test_the_scanner_catches_what_it_should(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""Docstrings may say 4,096."""\n'
                      'A = "a context of 4,096 tokens"\n'
                      'B = f"q8_0 {x} 34/32"\n'
                      'C = "one layer in four"\n'
                      'D = "fewer than three"\n'
                      'E = "Qwen3.5-27B at Q4_K_M on an H100, 10^9 bytes, batch 1"\n'
                      'F = r"<h([1-6])>\\\\1"\n')
    found = typed_figures(sample)
    assert sorted(f.split(":")[1] for f in found) == ["2", "3", "4", "5"], found


def test_every_catalog_constant_is_read_by_the_code():
    """A constant nothing reads is a figure with a source that changes nothing: remove it or use it.
    Read means named in macros/ (by its name as a string, `catalog.constant("name")`, or as an
    attribute of the engine's constants)."""
    from macros.catalog import load_catalog

    # the loader and its checks name every constant; reading one is elsewhere
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "macros").rglob("*.py")
                     if "catalog" not in p.relative_to(ROOT / "macros").parts[:-1])
    # names built from a template, e.g. f"advice_{use}_kld_max"
    templates = [re.compile(re.sub(r"\\\{[^}]*\\\}", r"\\w+", re.escape(t)))
                 for t in re.findall(r"\bf\"([a-z][a-z_]*_\{[^}\"]+\}[a-z_{}]*)\"", code)]
    unused = [name for name in load_catalog(ROOT / "catalog").constants
              if not re.search(rf"\b{re.escape(name)}\b", code) and not any(t.fullmatch(name) for t in templates)]
    assert not unused, f"catalog constants no code reads: {unused}"
