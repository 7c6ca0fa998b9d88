"""Command line: `python -m macros estimate|list|accuracy|claims|check|build`.

The flags and JSON keys of `estimate` are a contract other tools rely on: add, never rename.
Impossible input prints one line naming the problem and the valid choices, and exits with 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from .catalog import CatalogError, load_catalog
from .engine import KV_TYPES, Engine, EngineInputError, custom_machine

ROOT = Path(__file__).resolve().parents[1]
EXIT_BAD_INPUT = 2
EXIT_BAD_CATALOG = 1


def catalog_root(args: argparse.Namespace) -> Path:
    return Path(args.catalog or os.environ.get("GUIDE_CATALOG") or ROOT / "catalog")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m macros", description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", help="catalog folder (default: ./catalog or $GUIDE_CATALOG)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    e = sub.add_parser("estimate", help="memory, fit and speed for a model, a quant and a machine")
    model = e.add_mutually_exclusive_group(required=True)
    model.add_argument("--model", help="catalog model id")
    model.add_argument("--config", help="a Hugging Face config.json, for a model not in the catalog")
    e.add_argument("--quant", required=True, help="catalog quant id, e.g. Q4_K_M")
    e.add_argument("--context", type=int, default=4096, help="context length in tokens (default 4096)")
    e.add_argument("--kv-type", default="f16", help="KV cache precision: " + ", ".join(KV_TYPES))
    e.add_argument("--batch", type=int, default=1, help="concurrent sequences (default 1)")
    e.add_argument("--hardware", help="catalog hardware or rig id")
    e.add_argument("--count", type=int, default=1, help="number of identical devices (default 1)")
    e.add_argument("--ram-gb", type=float, default=0.0, help="system RAM beside the GPUs, GB")
    e.add_argument("--runtime", help="runtime id (vllm and sglang use tensor parallel)")
    e.add_argument("--bandwidth-gb-s", type=float, help="custom machine: memory bandwidth, GB/s")
    e.add_argument("--memory-gb", type=float, help="custom machine: memory per device, GB")
    e.add_argument("--kind", choices=["gpu", "unified", "cpu"], help="custom machine: kind of memory")
    e.add_argument("--tflops", type=float, help="custom machine: dense FP16 TFLOPS")
    e.add_argument("--images", action="store_true", help="count the vision encoder")
    e.add_argument("--json", action="store_true", help="print JSON")

    ls = sub.add_parser("list", help="print the loaded catalog")
    ls.add_argument("kind", choices=["models", "quants", "hardware", "rigs", "runtimes", "measurements",
                                     "artifacts", "claims", "constants", "api_prices", "storage_types"])
    ls.add_argument("--json", action="store_true")

    acc = sub.add_parser("accuracy", help="predicted versus measured, per kind and device class")
    acc.add_argument("--json", action="store_true")
    acc.add_argument("--rows", action="store_true", help="print every measurement")

    cl = sub.add_parser("claims", help="every published claim with its verdict")
    cl.add_argument("--json", action="store_true")

    sub.add_parser("check", help="validate the catalog and check the claims registry")
    b = sub.add_parser("build", help="build the site into site/, swapped in only on success")
    b.add_argument("--site-dir", default=str(ROOT / "site"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "build":
        from .build import build_site
        return build_site(Path(args.site_dir))
    try:
        catalog = load_catalog(catalog_root(args))
    except CatalogError as err:
        print(err, file=sys.stderr)
        return EXIT_BAD_CATALOG
    engine = Engine(catalog)
    try:
        if args.command == "estimate":
            return cmd_estimate(engine, args)
        if args.command == "list":
            return cmd_list(catalog, args)
        if args.command == "accuracy":
            from .accuracy import print_accuracy
            return print_accuracy(engine, as_json=args.json, rows=args.rows)
        if args.command == "claims":
            from .claims import print_claims
            return print_claims(engine, as_json=args.json)
        if args.command == "check":
            from .claims import check_registry
            return check_registry(engine)
    except EngineInputError as err:
        return _fail(str(err))
    return 0


def cmd_estimate(engine: Engine, args: argparse.Namespace) -> int:
    if args.config:
        from .hf_config import ConfigError, model_from_config
        try:
            model: Any = model_from_config(args.config)
        except ConfigError as err:
            return _fail(str(err))
    else:
        model = args.model
    custom = [args.bandwidth_gb_s, args.memory_gb, args.kind]
    machine = None
    if args.hardware and any(x is not None for x in custom):
        return _fail("give either --hardware or --bandwidth-gb-s/--memory-gb/--kind, not both")
    if args.hardware:
        machine = engine.machine(args.hardware, args.count, args.ram_gb)
    elif any(x is not None for x in custom):
        if any(x is None for x in custom):
            return _fail("a custom machine needs --bandwidth-gb-s, --memory-gb and --kind")
        machine = custom_machine(args.kind, args.memory_gb, args.bandwidth_gb_s, args.tflops, args.count,
                                 args.ram_gb)
    elif args.count != 1 or args.ram_gb:
        return _fail("--count and --ram-gb need --hardware or a custom machine")
    mode = "layer_split"
    if args.runtime:
        if args.runtime not in engine.catalog.runtimes:
            raise EngineInputError(f"unknown runtime {args.runtime!r}; valid: {', '.join(sorted(engine.catalog.runtimes))}")
        if "tensor_parallel" in engine.catalog.runtimes[args.runtime].offload_modes and machine and machine.count > 1:
            mode = "tensor_parallel"
    result = engine.estimate(model, args.quant, context=args.context, kv_type=args.kv_type, batch=args.batch,
                             machine=machine, mode=mode, images=args.images)
    data = result.to_json()
    data["runtime"] = args.runtime
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(_human(data))
    return 0


def _gb(x: float | None) -> str:
    return "n/a" if x is None else f"{x / 1e9:,.2f} GB"


def _human(d: dict) -> str:
    m = d["memory"]
    lines = [
        f"{d['model']} at {d['quant']}, context {d['context']:,} ({d['kv_type']} KV), batch {d['batch']}",
        f"  parameters: {d['params_total'] / 1e9:,.2f} B total, {d['params_active'] / 1e9:,.2f} B active per token",
        f"  weights {_gb(m['weights_bytes'])}; KV cache {_gb(m['kv_cache_bytes'])}; "
        f"recurrent state {_gb(m['recurrent_state_bytes'])}; overhead {_gb(m['overhead_bytes'])}",
        f"  total {_gb(m['total_bytes'])}",
    ]
    f = d["fit"]
    if f:
        lines.append(f"  on {d['hardware']}: {f['placement']} (fits in accelerator memory: {f['fits']}, runs: {f['runs']})")
        lines.append(f"    accelerator {_gb(f['gpu_bytes'])}, system RAM {_gb(f['ram_bytes'])}, "
                     f"offloaded {f['offloaded_fraction']:.0%}, -ngl {f['gpu_layers']}, --n-cpu-moe {f['n_cpu_moe']}")
        lines.append(f"    headroom {_gb(f['headroom_bytes'])}" + (f", short by {_gb(f['shortfall_bytes'])}" if f["shortfall_bytes"] else ""))
        dec, pre = d["decode_tok_s"], d["prefill_tok_s"]
        lines.append(f"  decode {'n/a' if dec is None else f'{dec:,.1f}'} tok/s, prefill "
                     f"{'n/a' if pre is None else f'{pre:,.0f}'} tok/s (estimates)")
    lines += [f"  assumes: {a}" for a in d["assumptions"]]
    return "\n".join(lines)


def cmd_list(catalog, args: argparse.Namespace) -> int:
    records = getattr(catalog, args.kind)
    if args.json:
        print(json.dumps({k: v.model_dump(mode="json") for k, v in records.items()}, indent=2, sort_keys=True))
    else:
        for key, record in records.items():
            print(f"{key}\t{getattr(record, 'name', '')}")
    return 0
