"""Read every YAML file under catalog/, validate it, and check references.

All problems are collected and raised together as one CatalogError; each names
the file, the line, the field, the value found and what was expected.
Layout: `catalog/<kind>.yaml` or `catalog/<kind>/*.yaml`, each a list of records.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .schema import RECORD_TYPES


@dataclasses.dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class CatalogError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [f"the catalog has {len(problems)} problem(s):"] + [f"  {p}" for p in problems]
        super().__init__("\n".join(lines))


@dataclasses.dataclass(frozen=True)
class Catalog:
    """The validated catalog: for each kind, records by id, in file order."""

    models: dict[str, Any]
    storage_types: dict[str, Any]
    quants: dict[str, Any]
    artifacts: dict[str, Any]
    hardware: dict[str, Any]
    rigs: dict[str, Any]
    runtimes: dict[str, Any]
    measurements: dict[str, Any]
    api_prices: dict[str, Any]
    constants: dict[str, Any]
    claims: dict[str, Any]
    claim_guides: dict[str, Any]
    quality: dict[str, Any]  # published quality measurements (catalog/quality.yaml)
    downloads: dict[str, Any]  # GGUF repositories a reader downloads from
    root: Path
    lines: dict[tuple[str, str], tuple[str, int]]  # (kind, id) -> (file, line)

    def constant(self, name: str) -> float:
        """A constant's value; a missing one is a catalog error naming it (never a KeyError)."""
        record = self.constants.get(name)
        if record is None:
            raise CatalogError([Problem(str(Path(self.root.name) / "constants"), 1, name,
                                        "missing constant: the engine reads it; add it to catalog/constants/")])
        return record.value

    def where(self, kind: str, record_id: str) -> str:
        file, line = self.lines[(kind, record_id)]
        return f"{file}:{line}"


# --------------------------------------------------------------------------- YAML with marks


def _to_python(node: yaml.Node, file: str, problems: list[Problem], lines: dict, path: tuple) -> Any:
    """Build plain Python data from a composed node; record lines; flag duplicate keys."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            if key in out:
                problems.append(Problem(file, key_node.start_mark.line + 1, _dotted(path + (key,)),
                                        f"duplicate key {key!r} (the first is on line "
                                        f"{lines[path + (key,)]}); YAML would silently keep the last"))
                continue
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _to_python(value_node, file, problems, lines, path + (key,))
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, file, problems, lines, path + (i,)) for i, item in enumerate(node.value)]
    return _scalar(node)


_resolver = yaml.SafeLoader("")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: same nodes and marks, faster


def _scalar(node: yaml.ScalarNode) -> Any:
    return _resolver.construct_object(node, deep=True)


def _dotted(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _read_yaml(path: Path, display: str, problems: list[Problem]) -> tuple[Any, dict]:
    lines: dict = {}
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 1
        problems.append(Problem(display, line, "", f"malformed YAML: {err.problem or err}"))
        return None, lines
    except (OSError, UnicodeDecodeError) as err:
        problems.append(Problem(display, 1, "", f"cannot read the file: {err}"))
        return None, lines
    if node is None:
        return [], lines
    try:
        data = _to_python(node, display, problems, lines, ())
    except yaml.YAMLError as err:
        problems.append(Problem(display, node.start_mark.line + 1, "", f"bad YAML value: {err}"))
        return None, lines
    return data, lines


# --------------------------------------------------------------------------- loading


def _files_for(root: Path, kind: str) -> list[Path]:
    files = []
    single = root / f"{kind}.yaml"
    if single.exists():
        files.append(single)
    folder = root / kind
    if folder.is_dir():
        files.extend(sorted(folder.glob("*.yaml")))
    return files


def _line_for(lines: dict, index: int, loc: tuple) -> int:
    path: tuple = (index,)
    best = lines.get(path, 1)
    for part in loc:
        path = path + (part,)
        if path in lines:
            best = lines[path]
        else:
            break
    return best


def _describe(error: dict) -> str:
    found = error.get("input")
    msg = error["msg"]
    if error["type"] == "extra_forbidden":
        return f"unknown field (value {found!r}); check the spelling against macros/catalog/schema.py"
    if error["type"] == "missing":
        return "missing: this field is required"
    if isinstance(found, (dict, list)):
        return msg
    return f"{msg} (found {found!r})"


def load_catalog(root: Path | str) -> Catalog:
    """Load and check the whole catalog under `root`; raise CatalogError listing every problem."""
    root = Path(root)
    problems: list[Problem] = []
    records: dict[str, dict[str, Any]] = {kind: {} for kind in RECORD_TYPES}
    where: dict[tuple[str, str], tuple[str, int]] = {}
    broken: set[str] = set()  # kinds with an unreadable file: references into them are not checked
    if not root.is_dir():
        raise CatalogError([Problem(str(root), 1, "", "the catalog folder does not exist")])
    known = set(RECORD_TYPES)
    if not any(_files_for(root, kind) for kind in known):
        raise CatalogError([Problem(str(root), 1, "", "no catalog files here (models.yaml, hardware.yaml, ...): "
                                    "is this the catalog folder?")])
    for entry in sorted(root.iterdir()):
        name = entry.stem if entry.suffix == ".yaml" else entry.name
        if (entry.suffix == ".yaml" or entry.is_dir()) and name not in known:
            problems.append(Problem(_display(root, entry), 1, "",
                                    f"unknown catalog file or folder {entry.name!r}; expected one of "
                                    f"{', '.join(sorted(known))}"))
    for kind, record_type in RECORD_TYPES.items():
        for path in _files_for(root, kind):
            display = _display(root, path)
            data, lines = _read_yaml(path, display, problems)
            if data is None:
                broken.add(kind)
                continue
            if not isinstance(data, list):
                problems.append(Problem(display, 1, "", f"expected a list of {kind} records at the top level"))
                continue
            for index, raw in enumerate(data):
                line = lines.get((index,), 1)
                if not isinstance(raw, dict):
                    problems.append(Problem(display, line, "", f"expected a mapping (one {kind} record), found {raw!r}"))
                    continue
                try:
                    record = record_type.model_validate(raw)
                except ValidationError as err:
                    label = raw.get("id", f"record {index + 1}")
                    for e in err.errors():
                        field = ".".join(str(p) for p in e["loc"]) or "(record)"
                        problems.append(Problem(display, _line_for(lines, index, e["loc"]),
                                                f"{label}: {field}", _describe(e)))
                    continue
                if record.id in records[kind]:
                    first_file, first_line = where[(kind, record.id)]
                    problems.append(Problem(display, line, "id",
                                            f"duplicate {kind} id {record.id!r} (first at {first_file}:{first_line})"))
                    continue
                records[kind][record.id] = record
                where[(kind, record.id)] = (display, lines.get((index, "id"), line))
    _check_references(records, where, problems, broken)
    if problems:
        raise CatalogError(problems)
    return Catalog(**records, root=root, lines=where)


def _display(root: Path, path: Path) -> str:
    try:
        return str(Path(root.name) / path.relative_to(root))
    except ValueError:
        return str(path)


# Every field that names another record: (kind, dotted field, the kind it names).
REFERENCES = [
    ("quants", "body_type", "storage_types"), ("quants", "embedding_type", "storage_types"),
    ("quants", "output_type", "storage_types"), ("quants", "reference_file_bpw.model", "models"),
    ("quants", "runtimes", "runtimes"),
    ("artifacts", "model", "models"), ("artifacts", "quant", "quants"), ("artifacts", "reference_for", "quants"),
    ("rigs", "parts.hardware", "hardware"), ("rigs", "cpu_platform", "hardware"),
    ("measurements", "model", "models"), ("measurements", "quant", "quants"),
    ("measurements", "hardware", "hardware"), ("measurements", "runtime", "runtimes"),
    ("api_prices", "model", "models"),
    ("claims", "query.model", "models"), ("claims", "query.quant", "quants"),
    ("claims", "query.hardware", "hardware"), ("claims", "query.rig", "rigs"),
    ("claims", "guide", "claim_guides"),
    ("quality", "model", "models"), ("quality", "quant", "quants"),
    ("downloads", "model", "models"), ("downloads", "quants", "quants"),
]


def _field_values(record: Any, dotted: str) -> list[str]:
    """The ids a dotted field holds on a record (lists are walked; None gives nothing)."""
    values = [record]
    for name in dotted.split("."):
        nxt = []
        for v in values:
            got = getattr(v, name, None)
            nxt.extend(got if isinstance(got, list) else [got])
        values = [v for v in nxt if v is not None]
    return values


def _check_references(records: dict, where: dict, problems: list[Problem], broken: set[str]) -> None:
    for kind, field, target in REFERENCES:
        if target in broken:
            continue  # an unreadable file: its ids are unknown, not wrong
        for rec in records[kind].values():
            for value in _field_values(rec, field):
                if value in records[target]:
                    continue
                file, line = where[(kind, rec.id)]
                choices = ", ".join(sorted(records[target])[:12]) + (" ..." if len(records[target]) > 12 else "")
                problems.append(Problem(file, line, f"{rec.id}: {field}",
                                        f"unknown {target} id {value!r}; known: {choices}"))
    for rig in records["rigs"].values():
        platform = records["hardware"].get(rig.cpu_platform)
        if platform is not None and platform.kind != "cpu":
            file, line = where[("rigs", rig.id)]
            problems.append(Problem(file, line, f"{rig.id}: cpu_platform",
                                    f"{rig.cpu_platform!r} is not a cpu platform record (kind cpu)"))
