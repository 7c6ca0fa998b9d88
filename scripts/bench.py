"""`make bench`: where the build's time goes, what the computing costs, how it scales. Prints figures.

Usage: python scripts/bench.py [--scales 1,10] [--skip-serve | --serve-only] [--edits N]
Nothing here asserts: the figures are for people (and the closing notes), not a timed test.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import pstats
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def timed_build(site: Path, env: dict | None = None, config: Path | None = None) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) and page count of a `mkdocs build` in a fresh process."""
    code = ("import resource, sys, time, runpy; t = time.perf_counter(); sys.argv = ['mkdocs'] + sys.argv[1:];\n"
            "try:\n    runpy.run_module('mkdocs', run_name='__main__')\nexcept SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "print('BENCH', time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    args = [sys.executable, "-c", code, "build", "-q", "--site-dir", str(site)]
    if config:
        args += ["--config-file", str(config)]
    out = subprocess.run(args, cwd=ROOT, env={**ENV, **(env or {})}, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    _, seconds, rss = out.stdout.strip().splitlines()[-1].split()
    pages = sum(1 for _ in site.rglob("*.html")) - (1 if (site / "404.html").exists() else 0)
    return float(seconds), float(rss), pages


def profile_split(site: Path) -> dict[str, float]:
    """Shares of one in-process build spent in each layer (from cProfile cumulative times)."""
    prof = cProfile.Profile()
    argv = sys.argv
    sys.argv = ["mkdocs", "build", "-q", "--site-dir", str(site)]
    os.environ["NO_MKDOCS_2_WARNING"] = "1"
    from mkdocs.__main__ import cli
    prof.enable()
    try:
        cli.main(standalone_mode=False)
    finally:
        prof.disable()
        sys.argv = argv
    stats = pstats.Stats(prof)
    total = max(v[3] for v in stats.stats.values())

    def cum(file_part: str, func: str) -> float:
        return sum(v[3] for (f, _, name), v in stats.stats.items() if file_part in f and name == func)

    parts = {
        "catalog load and validation": cum("macros/catalog/loader.py", "load_catalog"),
        "engine evaluation": cum("macros/engine/estimate.py", "estimate") + cum("macros/engine/estimate.py", "speed_model"),
        "chart rendering": cum("macros/render/charts.py", "svg"),
        "macro rendering (all)": cum("mkdocs_macros/plugin.py", "on_page_markdown"),
        "Markdown to HTML": cum("markdown/core.py", "convert"),
        "search index": cum("material/plugins/search/plugin.py", "on_page_context"),
        "theme templates": cum("mkdocs/commands/build.py", "_build_page") - cum("material/plugins/search/plugin.py", "on_page_context"),
    }
    return {k: v / total for k, v in parts.items()}


def plain_text_copy(dump: Path, work: Path) -> Path:
    """A project whose pages are the dumped post-macro Markdown: same theme, no macros, no hook."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text().replace("!!python", "#"))
    config["plugins"] = ["search"]
    config.pop("hooks", None)
    config["docs_dir"] = str(work / "docs")
    shutil.copytree(dump, work / "docs")
    for extra in ("assets", "_snippets"):
        if (ROOT / "docs" / extra).exists():
            shutil.copytree(ROOT / "docs" / extra, work / "docs" / extra, dirs_exist_ok=True)
    config["markdown_extensions"] = [
        {"pymdownx.snippets": {"auto_append": [str(ROOT / "docs/_snippets/abbreviations.md")], "check_paths": True}}
        if isinstance(e, dict) and "pymdownx.snippets" in e else e for e in config["markdown_extensions"]]
    config.pop("watch", None)
    path = work / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def synthetic_catalog(scale: int, dest: Path) -> Path:
    """The real catalog with its models, hardware and claims repeated `scale` times under new ids."""
    shutil.copytree(ROOT / "catalog", dest)
    if scale == 1:
        return dest
    for name, key in (("models.yaml", "id"), ("hardware.yaml", "id")):
        records = yaml.safe_load((dest / name).read_text())
        extra = []
        for k in range(1, scale):
            for r in records:
                if name == "hardware.yaml" and r["kind"] == "cpu":
                    continue  # keep the CPU platforms the rigs refer to unique
                # Editors feature a bounded set; new entries default to not featured, so the copies are
                # not cross-listed (each still gets its own page and index row).
                copy = dict(r, id=f"{r[key]}-s{k}", name=f"{r['name']} (copy {k})", featured=False)
                extra.append(copy)
        (dest / name).write_text(yaml.safe_dump(records + extra, sort_keys=False))
    claims_dir = dest / "claims"
    for f in list(claims_dir.glob("*.yaml")):
        records = yaml.safe_load(f.read_text())
        extra = [dict(r, id=f"{r['id']}-s{k}") for k in range(1, scale) for r in records]
        f.write_text(yaml.safe_dump(records + extra, sort_keys=False))
    return dest


def engine_throughput() -> tuple[float, int]:
    from macros.catalog import load_catalog
    from macros.engine import Engine
    catalog = load_catalog(ROOT / "catalog")
    engine = Engine(catalog)
    _ = engine.speed_model
    rng = random.Random(0)
    models, quants, hardware = list(catalog.models), list(catalog.quants), list(catalog.hardware)
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < 3:
        m = rng.choice(models)
        limit = catalog.models[m].architecture.max_position_embeddings
        engine.estimate(m, rng.choice(quants), context=rng.randint(1, limit), machine=engine.machine(rng.choice(hardware)))
        n += 1
    return n / (time.perf_counter() - t), n


def _fetch(url: str) -> str | None:
    try:
        return urllib.request.urlopen(url, timeout=30).read().decode()
    except OSError:
        return None


def _served_after(url: str, marker: str, started: float, limit_s: float = 120) -> float:
    """Seconds from `started` until `url` serves a page containing `marker` (nan on time-out)."""
    while time.perf_counter() - started < limit_s:
        page = _fetch(url)
        if page and marker in page:
            return time.perf_counter() - started
        time.sleep(0.05)
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process has used so far (Linux; nan elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def _wait_idle(pid: int, limit_s: float = 120) -> None:
    """Until the process uses under 5% of a core over half a second."""
    deadline = time.perf_counter() + limit_s
    while time.perf_counter() < deadline:
        before = _cpu_seconds(pid)
        time.sleep(0.5)
        if not _cpu_seconds(pid) - before >= 0.025:
            return


def serve_edit_seconds(work: Path, edits: int = 5) -> dict[str, list[tuple[float, float]]]:
    """Seconds from an edit to the edited page serving the new text under `make serve`, for
    `edits` one-line edits of each kind: a GPU's name in the catalog (what the speed fit does not
    read), a sentence in the FAQ, and a measured GPU's bandwidth (the fit and its bands rerun)."""
    for part in ("catalog", "docs", "macros", "mkdocs.yml"):
        src = ROOT / part
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / part)
    port = 8765 + random.Random(os.getpid()).randint(0, 200)
    proc = subprocess.Popen([sys.executable, "-m", "macros.serve", "--dev-addr", f"127.0.0.1:{port}"],
                            cwd=work, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    out: dict[str, list[tuple[float, float]]] = {"catalog": [], "markdown": [], "catalog, refit": []}

    def measure(kind: str, url: str, marker: str, write) -> None:
        cpu, t = _cpu_seconds(proc.pid), time.perf_counter()
        write()
        wall = _served_after(url, marker, t)
        out[kind].append((wall, _cpu_seconds(proc.pid) - cpu))
        _wait_idle(proc.pid)  # the other pages re-render in the background; each edit is measured alone

    try:
        t = time.perf_counter()
        if math.isnan(_served_after(base + "/hardware/rtx-4090/", "RTX 4090", t, 600)):
            return out
        _wait_idle(proc.pid)
        hw = work / "catalog" / "hardware.yaml"
        faq = work / "docs" / "faq.md"
        faq_text = faq.read_text()
        for k in range(edits):
            text = hw.read_text()
            start = text.index("- id: rtx-4090\n")
            end = text.index("\n- id:", start + 1)
            block = re.sub(r"\n  name: [^\n]*", f"\n  name: GeForce RTX 4090 (edit {k})", text[start:end], count=1)
            measure("catalog", base + "/hardware/rtx-4090/", f"RTX 4090 (edit {k})",
                    lambda: hw.write_text(text[:start] + block + text[end:]))
            measure("markdown", base + "/faq/", f"Bench edit number {k}.",
                    lambda: faq.write_text(faq_text + f"\nBench edit number {k}.\n"))
            # a measured GPU's bandwidth: the speed fit and its held-out error bands are recomputed
            text = hw.read_text()
            start = text.index("- id: rtx-4090\n")
            end = text.index("\n- id:", start + 1)
            bw = float(re.search(r"memory_bandwidth_gb_s: ([\d.]+)", text[start:end]).group(1)) + 1
            block = re.sub(r"memory_bandwidth_gb_s: [\d.]+", f"memory_bandwidth_gb_s: {bw:g}", text[start:end], count=1)
            measure("catalog, refit", base + "/hardware/rtx-4090/", f"{bw:,.0f} GB/s",
                    lambda: hw.write_text(text[:start] + block + text[end:]))
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def serve_report(work: Path, edits: int) -> None:
    times = serve_edit_seconds(work, edits)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nmake serve, seconds from an edit to the edited page served (median of {edits} edits; "
          f"target catalog <= 3 s, Markdown <= 2 s; load average {load:.1f} on {os.cpu_count()} cores).\n"
          "catalog: a GPU's name; markdown: a FAQ sentence; catalog, refit: a measured GPU's bandwidth, "
          "which refits the speed model and its error bands:")
    for kind, pairs in times.items():
        pairs = [(w, c) for w, c in pairs if not math.isnan(w)]
        if pairs:
            walls, cpus = [w for w, _ in pairs], [c for _, c in pairs]
            print(f"  {kind:14} median {statistics.median(walls):.2f} s wall (each: "
                  + ", ".join(f"{w:.2f}" for w in walls) + f"); server CPU in that time "
                  f"{statistics.median(cpus):.2f} s, the uncontended cost beside the file watcher's "
                  "0.2 s polling")
        else:
            print(f"  {kind:14} not served (time-out)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10", help="synthetic catalog sizes to build (default 1,10)")
    parser.add_argument("--skip-serve", action="store_true")
    parser.add_argument("--serve-only", action="store_true", help="measure only the serve edit loop")
    parser.add_argument("--edits", type=int, default=5, help="edits of each kind for the serve figures (default 5)")
    args = parser.parse_args()
    if args.serve_only:
        with tempfile.TemporaryDirectory() as tmp:
            serve_report(Path(tmp) / "serve", args.edits)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        dump = tmp / "dump"
        seconds, rss, pages = timed_build(tmp / "site")
        print(f"Full build of the real site: {seconds:.1f} s wall, {pages} pages, peak {rss:.0f} MiB "
              "(the main process; charts render in short-lived children)")
        timed_build(tmp / "dumped", {"GUIDE_DUMP_MARKDOWN": str(dump)})  # untimed: keeps each page's Markdown
        plain_config = plain_text_copy(dump, tmp / "plain")
        plain_s, plain_rss, plain_pages = timed_build(tmp / "plain-site", config=plain_config)
        print(f"Same pages with the figures pasted in as plain text: {plain_s:.1f} s, {plain_pages} pages "
              f"-> computing the site costs {seconds / plain_s:.2f}x (target at most 1.5x)")
        print("\nWhere one build's time goes (cProfile shares; nested layers overlap):")
        for name, share in profile_split(tmp / "profiled").items():
            print(f"  {name:32} {share:6.1%}  ~{share * seconds:5.1f} s")

        rate, n = engine_throughput()
        print(f"\nEngine: {rate:,.0f} estimates/s ({n} random estimates, one core)")
        from macros.calculator import data_json, data_size
        from macros.catalog import load_catalog
        from macros.engine import Engine
        raw, gz = data_size(data_json(Engine(load_catalog(ROOT / "catalog"))))
        print(f"Calculator data: {raw / 1024:,.0f} KiB raw, {gz / 1024:,.0f} KiB gzipped")

        rows = []
        for scale in [int(s) for s in args.scales.split(",")]:
            cat = synthetic_catalog(scale, tmp / f"catalog-x{scale}")
            s, r, p = timed_build(tmp / f"site-x{scale}", {"GUIDE_CATALOG": str(cat)})
            rows.append((scale, p, s, r))
            print(f"Catalog x{scale}: {p} pages, {s:.1f} s, peak {r:.0f} MiB, {1000 * s / p:.0f} ms/page")
        if len(rows) > 1:
            (_, p0, s0, _), (_, p1, s1, _) = rows[0], rows[-1]
            print(f"  growth exponent (time ~ pages^k): k = {math.log(s1 / s0) / math.log(p1 / p0):.2f}")

        if not args.skip_serve:
            serve_report(tmp / "serve", args.edits)
    return 0


if __name__ == "__main__":
    sys.exit(main())
