"""Read every YAML file under catalog/, validate it, and check references.

All problems are collected and raised together as one CatalogError; each names
the file, the line, the field, the value found and what was expected.
Layout: `catalog/<kind>.yaml` or `catalog/<kind>/*.yaml`, each a list of records.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from . import plausible
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


MAX_NODES = 500_000  # values per file once aliases are expanded: far above the catalog, far below a bomb


class _Budget:
    """Aliases (*name) are expanded as copies: count every value built, so an alias bomb stops early."""

    def __init__(self) -> None:
        self.nodes = 0
        self.open: set[int] = set()  # nodes being built: meeting one again is an alias to itself


class _TooLarge(Exception):
    pass


def _to_python(node: yaml.Node, file: str, problems: list[Problem], lines: dict, path: tuple,
               budget: _Budget | None = None) -> Any:
    """Build plain Python data from a composed node; record lines; flag duplicate keys, YAML 1.1 words,
    self-referencing aliases and alias bombs."""
    budget = _Budget() if budget is None else budget
    budget.nodes += 1
    if budget.nodes > MAX_NODES:
        raise _TooLarge()
    if id(node) in budget.open:
        problems.append(Problem(file, node.start_mark.line + 1, _dotted(path),
                                "an alias refers to a value that contains it (endless)"))
        return None
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        budget.open.add(id(node))
        try:
            return _collection(node, file, problems, lines, path, budget)
        finally:
            budget.open.discard(id(node))
    lines[path] = node.start_mark.line + 1
    return _scalar(node, file, problems, path)


def _collection(node: yaml.Node, file: str, problems: list[Problem], lines: dict, path: tuple,
                budget: _Budget) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, file, problems, path) if isinstance(key_node, yaml.ScalarNode) \
                else str(key_node.start_mark)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                problems.append(Problem(file, key_node.start_mark.line + 1, _dotted(path + (key,)),
                                        f"duplicate key {key!r} (the first is on line "
                                        f"{lines[path + (key,)]}); YAML would silently keep the last"))
                continue
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _to_python(value_node, file, problems, lines, path + (key,), budget)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, file, problems, lines, path + (i,), budget) for i, item in enumerate(node.value)]
    return None


_LOADER_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: same nodes and marks, faster


class _Loader(_LOADER_BASE):  # type: ignore[misc, valid-type]
    """Tags resolved as YAML 1.2's core schema: true/false only, decimal, 0o and 0x integers, no
    sexagesimal numbers (`15:36` stays text, `024` is 24), plus dates (YYYY-MM-DD)."""


_TAG = "tag:yaml.org,2002:"
_Loader.yaml_implicit_resolvers = {}
for _tag, _regexp, _first in [
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
     "-+.0123456789"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("timestamp", r"^[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?$", "0123456789"),
]:
    _Loader.add_implicit_resolver(_TAG + _tag, re.compile(_regexp), list(_first))

_YAML11_WORDS = {"yes", "no", "on", "off", "y", "n"}  # booleans in YAML 1.1, text in 1.2: ambiguous, refused
_constructor = yaml.SafeLoader("")


def _scalar(node: yaml.ScalarNode, file: str = "", problems: list[Problem] | None = None, path: tuple = ()) -> Any:
    tag, value = node.tag[len(_TAG):] if node.tag.startswith(_TAG) else node.tag, node.value

    def bad(message: str) -> None:
        if problems is not None:
            problems.append(Problem(file, node.start_mark.line + 1, _dotted(path), message))

    if tag == "str":
        if not node.style and value.lower() in _YAML11_WORDS:  # plain (unquoted): style None or ""
            bad(f"{value!r} is a boolean in YAML 1.1 and text in 1.2: write true or false, or quote the text")
        return value
    if tag == "null":
        return None
    if tag == "bool":
        return value.lower() == "true"
    if tag == "int":
        digits = value.lstrip("+-")
        sign = -1 if value.startswith("-") else 1
        try:
            if digits.startswith("0o"):
                return sign * int(digits[2:], 8)
            if digits.startswith("0x"):
                return sign * int(digits[2:], 16)
            return int(value, 10)
        except ValueError:
            bad(f"{value!r} is not an integer")
            return value
    if tag == "float":
        try:
            return float(value.replace(".inf", "inf").replace(".Inf", "inf").replace(".INF", "inf")
                         .replace(".nan", "nan").replace(".NaN", "nan").replace(".NAN", "nan"))
        except ValueError:
            bad(f"{value!r} is not a number")
            return value
    if tag == "timestamp":
        try:
            return _constructor.construct_yaml_timestamp(node)
        except ValueError as err:
            bad(f"{value!r} is not a real date ({err})")
            return value
    bad(f"the YAML tag {node.tag!r} is not used in the catalog")
    return value


def _dotted(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


MAX_FILE_BYTES = 16 << 20  # far above any catalog file; a larger one is a mistake or an attack


def _read_yaml(path: Path, display: str, problems: list[Problem]) -> tuple[Any, dict]:
    lines: dict = {}
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.append(Problem(display, 1, "", f"the file is {size:,} bytes; a catalog file stays under "
                                                    f"{MAX_FILE_BYTES:,}"))
            return None, lines
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 1
        problems.append(Problem(display, line, "", f"malformed YAML: {err.problem or err}"))
        return None, lines
    except (OSError, UnicodeDecodeError) as err:
        problems.append(Problem(display, 1, "", f"cannot read the file: {err}"))
        return None, lines
    except (yaml.YAMLError, RecursionError) as err:
        problems.append(Problem(display, 1, "", f"unreadable YAML: {str(err)[:200] or type(err).__name__}"))
        return None, lines
    if node is None:
        return [], lines
    try:
        data = _to_python(node, display, problems, lines, ())
    except RecursionError:
        problems.append(Problem(display, node.start_mark.line + 1, "", "the YAML is nested too deeply"))
        return None, lines
    except _TooLarge:
        problems.append(Problem(display, node.start_mark.line + 1, "",
                                f"more than {MAX_NODES:,} values once aliases (*name) are expanded: an alias bomb?"))
        return None, lines
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
        return f"unknown field (value {_short(found)}); check the spelling against macros/catalog/schema.py"
    if error["type"] == "missing":
        return "missing: this field is required"
    if isinstance(found, (dict, list)):
        return msg
    return f"{msg} (found {_short(found)})"


def _short(value: Any, limit: int = 80) -> str:
    """A value for an error line: its repr, cut to `limit` characters (a 50 MB value is not echoed)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def load_catalog(root: Path | str) -> Catalog:
    """Load and check the whole catalog under `root`; raise CatalogError listing every problem."""
    root = Path(root)
    problems: list[Problem] = []
    records: dict[str, dict[str, Any]] = {kind: {} for kind in RECORD_TYPES}
    where: dict[tuple[str, str], tuple[str, int]] = {}
    fields_at: dict[tuple[str, str], tuple[str, dict, int]] = {}  # (kind, id) -> (file, lines, index)
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
                fields_at[(kind, record.id)] = (display, lines, index)
    _check_references(records, where, problems, broken)

    def report(kind: str, record_id: str, field: str, message: str) -> None:
        if (kind, record_id) not in fields_at:  # a catalog-wide problem (e.g. a missing constant)
            files = _files_for(root, kind)
            problems.append(Problem(_display(root, files[0]) if files else f"{root.name}/{kind}", 1, field, message))
            return
        display, lines, index = fields_at[(kind, record_id)]
        loc = tuple(int(p) if p.isdigit() else p for p in field.split("."))
        problems.append(Problem(display, _line_for(lines, index, loc), f"{record_id}: {field}", message))

    if not broken:
        plausible.check(records, report, RECORD_TYPES, where)
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
    """Every reference names a known record. The same unknown id is reported three times and then counted, so
    one bad value does not bury the rest under hundreds of lines."""
    seen: dict[tuple[str, str], int] = {}
    for kind, field, target in REFERENCES:
        if target in broken:
            continue  # an unreadable file: its ids are unknown, not wrong
        for rec in records[kind].values():
            for value in _field_values(rec, field):
                if value in records[target]:
                    continue
                file, line = where[(kind, rec.id)]
                count = seen[(target, value)] = seen.get((target, value), 0) + 1
                if count > 3:
                    continue
                choices = ", ".join(sorted(records[target])[:12]) + (" ..." if len(records[target]) > 12 else "")
                problems.append(Problem(file, line, f"{rec.id}: {field}",
                                        f"unknown {target} id {_short(value)}; known: {choices}"))
    for (target, value), count in seen.items():
        if count > 3:
            problems.append(Problem("(catalog)", 1, "", f"... and {count - 3} more references to the unknown "
                                                        f"{target} id {_short(value)}"))
    for rig in records["rigs"].values():
        platform = records["hardware"].get(rig.cpu_platform)
        if platform is not None and platform.kind != "cpu":
            file, line = where[("rigs", rig.id)]
            problems.append(Problem(file, line, f"{rig.id}: cpu_platform",
                                    f"{rig.cpu_platform!r} is not a cpu platform record (kind cpu)"))
