"""`python -m macros diff [REV]`: what a catalog change does to the published site.

Every page's Markdown is rendered (macros only: no HTML, no theme, no charts) twice, from the catalog
at REV (default HEAD, the last commit) and from the working tree's catalog, with the working tree's
code both times; the two renderings run side by side in child processes. Each page is split into
figures: a table cell is named by its section, row and column; a line of prose holding a number by
its section and its words (numbers stand as #). The report lists each figure whose value changed
(page, figure, old -> new), figures and lines that appeared or went, and the published claims whose
verdict flips. Charts are drawn from the same numbers and are not compared.
"""

from __future__ import annotations

import argparse
import difflib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"(?<![\w.])[-−+]?\$?\d[\d,]*(?:\.\d+)?(?![\w-])")
LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
TAG = re.compile(r"<[^>]+>")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*(\{[^}]*\})?\s*$")


# ------------------------------------------------------------------ rendering (child process)

def render_pages() -> dict:
    """Post-macro Markdown of every page and every claim's verdict, from $GUIDE_CATALOG."""
    os.environ["GUIDE_KEEP_MODULES"] = "1"
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import logging
    from mkdocs.config import load_config
    from mkdocs.structure.pages import Page

    from macros.build import files_and_nav

    from macros.render import charts
    charts._can_fork = lambda: True  # charts: placeholders only, never drawn
    charts._start = lambda *args, **kwargs: None
    logging.getLogger("mkdocs").setLevel(logging.ERROR)

    config = load_config(config_file=str(ROOT / "mkdocs.yml"))
    config = config.plugins.on_config(config)
    files, _env, _nav = files_and_nav(config)
    pages = {}
    for file in files.documentation_pages():
        page = file.page or Page(None, file, config)
        page.read_source(config)
        try:
            pages[file.src_uri] = config.plugins.on_page_markdown(page.markdown, page=page, config=config,
                                                                  files=files)
        except SystemExit as stop:  # mkdocs-macros exits on a macro's error; name the error instead
            cause = stop.__context__ or stop
            raise SystemExit(f"{file.src_uri}: {type(cause).__name__}: {str(cause).splitlines()[0][:300]}") from None
    from macros.claims import check_all
    ctx = config["guide_build_ctx"]
    claims = {v.claim.id: {"verdict": v.verdict, "ours": _plain(v.ours), "claim": _claim_words(v.claim)}
              for v in check_all(ctx.engine)}
    return {"pages": pages, "claims": claims}


def _plain(value):
    if isinstance(value, float):
        return round(value, 4)
    return value if isinstance(value, (int, str, bool, type(None))) else str(value)


def _claim_words(claim) -> str:
    return " ".join(str(getattr(claim, "quote", "") or "").split())[:120]


def _render_in_child(catalog: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "GUIDE_CATALOG": str(catalog), "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.Popen([sys.executable, "-m", "macros.diff", "--render", str(out)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _collect(proc: subprocess.Popen, out: Path, what: str) -> dict:
    _, err = proc.communicate()
    if proc.returncode != 0:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        raise DiffError(f"the pages do not render from the catalog {what}: " + (lines[-1] if lines else f"exit {proc.returncode}"))
    return json.loads(out.read_text(encoding="utf-8"))


class DiffError(Exception):
    pass


def catalog_at(rev: str, dest: Path) -> Path:
    """The catalog folder as committed at `rev`, extracted under `dest`."""
    out = subprocess.run(["git", "archive", "--format=tar", rev, "catalog"], cwd=ROOT, capture_output=True)
    if out.returncode != 0:
        raise DiffError(f"no catalog at revision {rev!r}: {out.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest / "catalog"


# ------------------------------------------------------------------ figures

def _clean(text: str) -> str:
    text = LINK.sub(r"\1", text)
    text = TAG.sub("", text)
    text = text.replace("**", "").replace("`", "").replace("\\|", "|")
    return " ".join(text.split())


def _cells(row: str) -> list[str]:
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [_clean(c) for c in re.split(r"(?<!\\)\|", row)]


def figures(markdown: str) -> list[tuple[str, str]]:
    """(label, value) for every figure of a page, in page order; labels are unique within a page."""
    out: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    section = ""
    header: list[str] | None = None
    lines = markdown.splitlines()
    in_script = False

    def add(label: str, value: str) -> None:
        n = seen.get(label, 0) + 1
        seen[label] = n
        out.append((label if n == 1 else f"{label} ({n})", value))

    for i, raw in enumerate(lines):
        line = raw.strip()
        if "<script" in line:
            in_script = "</script>" not in line
            continue
        if in_script:
            in_script = "</script>" not in line
            continue
        heading = HEADING.match(line)
        if heading:
            section = _clean(heading.group(2))
            header = None
            continue
        if line.startswith("|"):
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if header is None and re.fullmatch(r"\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?", nxt):
                header = _cells(line)
                continue
            if re.fullmatch(r"\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?", line):
                continue
            cells = _cells(line)
            key = cells[0] if cells else ""
            for col, cell in enumerate(cells[1:], start=1):
                name = header[col] if header and col < len(header) else f"column {col + 1}"
                add(f"{section} › {key} › {name}", cell)
            continue
        header = None
        text = _clean(line)
        if NUMBER.search(text):
            add(f"{section} › {NUMBER.sub('#', text)[:160]}", ", ".join(NUMBER.findall(text)))
    return out


def _short(text: str, limit: int = 140) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def compare_page(old_md: str, new_md: str) -> list[str]:
    """One line per changed figure of a page."""
    old, new = figures(old_md), figures(new_md)
    old_map, new_map = dict(old), dict(new)
    lines = []
    for label, value in new:
        if label in old_map and old_map[label] != value:
            lines.append(f"{_short(label)}: {_changed(old_map[label], value)}")
    old_only = [(k, v) for k, v in old if k not in new_map]
    new_only = [(k, v) for k, v in new if k not in old_map]
    matcher = difflib.SequenceMatcher(a=[k for k, _ in old_only], b=[k for k, _ in new_only], autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            continue
        pairs = list(zip(old_only[a0:a1], new_only[b0:b1])) if op == "replace" else []
        for (ok, ov), (nk, nv) in pairs:
            lines.append(f"{_short(nk)}: {_short(ov, 60)} -> {_short(nv, 60)} (was: {_short(ok)})")
        for k, v in old_only[a0 + len(pairs):a1]:
            lines.append(f"{_short(k)}: {_short(v, 60)} -> (gone)")
        for k, v in new_only[b0 + len(pairs):b1]:
            lines.append(f"{_short(k)}: (new) -> {_short(v, 60)}")
    return lines


def _changed(old: str, new: str) -> str:
    """`old -> new`, only the numbers that moved when a line keeps its shape."""
    a, b = NUMBER.findall(old), NUMBER.findall(new)
    if len(a) == len(b) > 1 and NUMBER.sub("#", old) == NUMBER.sub("#", new):
        return "; ".join(f"{x} -> {y}" for x, y in zip(a, b) if x != y)
    return f"{_short(old, 60)} -> {_short(new, 60)}"


def compare(old: dict, new: dict) -> dict:
    """{'pages': {src: [changes]}, 'claims': [flips]} between two renderings."""
    pages = {}
    for src in sorted(set(old["pages"]) | set(new["pages"])):
        if src not in old["pages"]:
            pages[src] = ["(new page)"]
        elif src not in new["pages"]:
            pages[src] = ["(page removed)"]
        elif old["pages"][src] != new["pages"][src]:
            changes = compare_page(old["pages"][src], new["pages"][src])
            if changes:
                pages[src] = changes
    flips = []
    for cid in sorted(set(old["claims"]) | set(new["claims"])):
        a, b = old["claims"].get(cid), new["claims"].get(cid)
        va, vb = (a or {}).get("verdict", "(none)"), (b or {}).get("verdict", "(none)")
        if va != vb:
            words = (b or a or {}).get("claim", "")
            flips.append(f"{cid}: {va} -> {vb}" + (f" ({words})" if words else ""))
    return {"pages": pages, "claims": flips}


def renderings(old_catalog: Path, new_catalog: Path, old_name: str = "old") -> tuple[dict, dict]:
    """Both catalogs rendered side by side in child processes: (old, new)."""
    with tempfile.TemporaryDirectory(prefix="guide-diff-out-") as tmp:
        outs = (Path(tmp) / "old.json", Path(tmp) / "new.json")
        procs = (_render_in_child(old_catalog, outs[0]), _render_in_child(new_catalog, outs[1]))
        old = _collect(procs[0], outs[0], old_name)
        new = _collect(procs[1], outs[1], "in the working tree")
    return old, new


def diff(rev: str = "HEAD", catalog: Path | None = None) -> dict:
    """compare() of the catalog at `rev` with `catalog` (default: the working tree's)."""
    with tempfile.TemporaryDirectory(prefix="guide-diff-") as tmp:
        old_catalog = catalog_at(rev, Path(tmp))
        new_catalog = catalog or Path(os.environ.get("GUIDE_CATALOG") or ROOT / "catalog")
        return compare(*renderings(old_catalog, new_catalog, f"at {rev}"))


def report(result: dict, rev: str) -> str:
    pages, flips = result["pages"], result["claims"]
    if not pages and not flips:
        return f"no published figure changes between the catalog at {rev} and the working tree\n"
    count = sum(len(v) for v in pages.values())
    out = [f"{count} published figure(s) change on {len(pages)} page(s) between the catalog at {rev} "
           "and the working tree:"]
    for src, changes in pages.items():
        out.append(f"\n{src}")
        out += [f"  {c}" for c in changes]
    out.append(f"\nclaims whose verdict flips: {len(flips)}")
    out += [f"  {f}" for f in flips]
    return "\n".join(out) + "\n"


def run_diff(rev: str = "HEAD", catalog: Path | None = None, as_json: bool = False) -> int:
    """The `diff` command: print the report (or JSON); exit 2 with one line when it cannot run."""
    try:
        result = diff(rev, catalog)
    except DiffError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(report(result, rev))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m macros diff", description=__doc__.splitlines()[0])
    parser.add_argument("rev", nargs="?", default="HEAD", help="git revision of the old catalog (default HEAD)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--render", metavar="OUT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.render:
        Path(args.render).write_text(json.dumps(render_pages(), ensure_ascii=False), encoding="utf-8")
        return 0
    return run_diff(args.rev, as_json=args.json)


if __name__ == "__main__":
    sys.exit(main())
