"""Command line: `python -m macros estimate|list|accuracy|claims|check|build|diff`.

The flags and JSON keys of `estimate` are a contract other tools rely on: add, never rename.
Impossible input prints one line naming the problem and the valid choices, and exits with 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from .catalog import CatalogError, load_catalog
from .engine import KV_TYPES, Engine, EngineInputError, custom_machine
from .jsonout import strict_json

ROOT = Path(__file__).resolve().parents[1]
EXIT_BAD_INPUT = 2
EXIT_BAD_CATALOG = 1
EXIT_INTERNAL = 3


def catalog_root(args: argparse.Namespace) -> Path:
    return Path(args.catalog or os.environ.get("GUIDE_CATALOG") or ROOT / "catalog")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see --help)\n")


# The most devices one estimate takes: above any single machine or pod a reader sizes here, and it keeps
# an estimate's time bounded (placement is linear in the device count).
MAX_DEVICES = 256


def number(kind: type, low: float, high: float, low_open: bool = False, unit: str = ""):
    """An argparse type: a finite int or float in [low, high] (or (low, high]); else one clear line."""
    def show(x: float) -> str:
        return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"
    span = f"{'above' if low_open else 'from'} {show(low)} {'up ' if low_open else ''}to {show(high)}{unit}"

    def parse(text: str):
        try:
            value = kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a {'whole ' if kind is int else ''}number "
                                             f"(give one {span})") from None
        if not math.isfinite(value) or value < low or value > high or (low_open and value == low):
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is out of range: give a finite number {span}")
        return value

    parse.__name__ = "whole number" if kind is int else "number"
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m macros", description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", help="catalog folder (default: ./catalog or $GUIDE_CATALOG)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    e = sub.add_parser("estimate", help="memory, fit and speed for a model, a quant and a machine")
    model = e.add_mutually_exclusive_group(required=True)
    model.add_argument("--model", help="catalog model id")
    model.add_argument("--config", help="a Hugging Face config.json, for a model not in the catalog")
    e.add_argument("--quant", required=True, help="catalog quant id, e.g. Q4_K_M")
    e.add_argument("--context", type=number(int, 0, 2**24), default=4096, help="context length in tokens (default 4096)")
    e.add_argument("--kv-type", default="f16", help="KV cache precision: " + ", ".join(KV_TYPES))
    e.add_argument("--batch", type=number(int, 1, 4096), default=1, help="concurrent sequences (default 1)")
    e.add_argument("--hardware", help="catalog hardware or rig id")
    e.add_argument("--count", type=number(int, 1, MAX_DEVICES), default=None, help="number of identical devices (default 1)")
    e.add_argument("--ram-gb", type=number(float, 0, 1 << 20, unit=" GB"), default=None, help="system RAM beside the GPUs, GB")
    e.add_argument("--runtime", help="runtime id (vllm and sglang use tensor parallel)")
    e.add_argument("--bandwidth-gb-s", type=number(float, 0, 1e6, True, " GB/s"), help="custom machine: memory bandwidth, GB/s")
    e.add_argument("--memory-gb", type=number(float, 0, 1 << 20, True, " GB"), help="custom machine: memory per device, GB")
    e.add_argument("--kind", choices=["gpu", "unified", "cpu"], help="custom machine: kind of memory")
    e.add_argument("--tflops", type=number(float, 0, 1e6, True), help="custom machine: dense FP16 TFLOPS")
    e.add_argument("--images", action="store_true", help="count the vision encoder")
    e.add_argument("--depth", type=number(int, 0, 2**24), default=0,
                   help="tokens already in the context when speed is measured (default 0)")
    e.add_argument("--prompt", type=number(int, 1, 2**24), default=512, help="prompt length for prefill (default 512)")
    e.add_argument("--n-gpu-layers", type=number(int, 0, 4096), default=None,
                   help="llama.cpp -ngl: layers on the GPU(s), the rest in system RAM (evaluated as given)")
    e.add_argument("--n-cpu-moe", type=number(int, 0, 4096), default=None,
                   help="llama.cpp --n-cpu-moe: routed experts of the first N layers in system RAM")
    e.add_argument("--backend", help="cuda, rocm, vulkan, metal, sycl or cpu (default: the device's own)")
    e.add_argument("--ram-bandwidth-gb-s", type=number(float, 0, 1e5, True, " GB/s"), default=None,
                   help="system RAM bandwidth, GB/s (rated), instead of the default platform's")
    e.add_argument("--cpu", help="catalog CPU platform id for the system RAM (see `list hardware`)")
    e.add_argument("--parallel", type=number(int, 1, 1024), default=1,
                   help="llama-server --parallel slots (each keeps its own recurrent state)")
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
    d = sub.add_parser("diff", help="every published figure and claim verdict a catalog change moves")
    d.add_argument("rev", nargs="?", default="HEAD", help="git revision of the old catalog (default HEAD, the last commit)")
    d.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Every bad input ends in one line and exit 2 (a broken catalog: exit 1); a
    traceback only for a bug, and then only with GUIDE_DEBUG=1 (otherwise one line and exit 3)."""
    try:
        return _main(argv)
    except BrokenPipeError:  # `... | head`: the reader has what they wanted
        _quiet_stdout()
        return 0
    except KeyboardInterrupt:
        return 130
    except RecursionError:
        return _fail("the input is nested too deeply to read")
    except Exception as err:  # a bug, not bad input: say so in one line
        if os.environ.get("GUIDE_DEBUG"):
            raise
        print(f"internal error: {type(err).__name__}: {str(err)[:300]} (set GUIDE_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return EXIT_INTERNAL


def _quiet_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        if sys.stdout is sys.__stdout__:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        catalog = load_catalog(catalog_root(args))
    except CatalogError as err:
        print(err, file=sys.stderr)
        return EXIT_BAD_CATALOG
    if args.command == "build":  # the catalog is checked first: its errors in one list, not after MkDocs' traceback
        from .build import build_site
        return build_site(Path(args.site_dir))
    if args.command == "diff":  # the working tree's catalog loaded clean; now render both
        from .diff import run_diff
        return run_diff(args.rev, catalog_root(args), as_json=args.json)
    try:
        engine = Engine(catalog)
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
    except CatalogError as err:  # a constant the engine reads only now, missing or mistyped
        print(err, file=sys.stderr)
        return EXIT_BAD_CATALOG
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
    conflict = _conflicting_flags(engine, args)
    if conflict:
        return _fail(conflict)
    count, ram_gb = args.count or 1, args.ram_gb or 0.0
    machine = None
    if args.hardware and "," in args.hardware:
        machine = _mixed_machine(engine, args)
    elif args.hardware:
        machine = engine.machine(args.hardware, count, ram_gb)
    elif args.kind is not None:
        machine = custom_machine(args.kind, args.memory_gb, args.bandwidth_gb_s, args.tflops, count, ram_gb)
    machine = _with_host(engine, machine, args)
    backend = _backend(engine, machine, args.backend)
    if args.depth > args.context:
        raise EngineInputError(f"--depth {args.depth} is above the --context {args.context}: the cache holds "
                               "at most the context (raise --context)")
    mode = "layer_split"
    if args.runtime:
        if args.runtime not in engine.catalog.runtimes:
            raise EngineInputError(f"unknown runtime {args.runtime!r}; valid: {', '.join(sorted(engine.catalog.runtimes))}")
        if "tensor_parallel" in engine.catalog.runtimes[args.runtime].offload_modes and machine and machine.count > 1:
            mode = "tensor_parallel"
    result = engine.estimate(model, args.quant, context=args.context, kv_type=args.kv_type, batch=args.batch,
                             machine=machine, mode=mode, images=args.images, context_fill=args.depth,
                             prompt_tokens=args.prompt, gpu_layers=args.n_gpu_layers, n_cpu_moe=args.n_cpu_moe,
                             parallel=args.parallel, backend=backend, runtime=args.runtime)
    data = result.to_json()
    data["runtime"] = args.runtime
    data["depth"], data["prompt"], data["parallel"] = args.depth, args.prompt, args.parallel
    for kind in ("decode", "prefill"):
        rng = engine.speed_range(kind, result) if machine is not None else None
        data[f"{kind}_tok_s_range"] = list(rng) if rng else None
    if machine is not None:
        data["speed_basis"] = {kind: engine.speed_band(kind, result).to_json() for kind in ("decode", "prefill")}
    if args.json:
        print(strict_json(data, indent=2, sort_keys=True))
    else:
        print(_human(data))
    return 0


BACKENDS = ("cuda", "rocm", "vulkan", "metal", "sycl", "cpu")
# Which backends run on a vendor's devices (Vulkan runs on every discrete or integrated GPU but Apple's).
VENDOR_BACKENDS = {"NVIDIA": {"cuda", "vulkan"}, "AMD": {"rocm", "vulkan"}, "Intel": {"sycl", "vulkan"},
                   "Apple": {"metal"}}


def _mixed_machine(engine: Engine, args: argparse.Namespace):
    """--hardware ID1,ID2,...: discrete GPUs in split order."""
    from .engine.machine import machine_from_devices
    ids = [i.strip() for i in args.hardware.split(",") if i.strip()]
    if args.count is not None:
        raise EngineInputError("--count does not apply to a list of GPUs: list each one (--hardware a,a,b)")
    if len(ids) > MAX_DEVICES:
        raise EngineInputError(f"at most {MAX_DEVICES} devices")
    hws = []
    for i in ids:
        if i not in engine.catalog.hardware:
            raise EngineInputError(f"unknown hardware {i!r} in --hardware (a list takes catalog GPU ids; "
                                   "see `list hardware`)")
        hw = engine.catalog.hardware[i]
        if hw.kind != "gpu":
            raise EngineInputError(f"{i!r} is a {hw.kind} machine: only discrete GPUs can be listed together")
        hws.append(hw)
    platform = engine.catalog.hardware[engine.default_cpu_platform()] if args.ram_gb else None
    return machine_from_devices(hws, args.ram_gb or 0.0, platform)


def _with_host(engine: Engine, machine, args: argparse.Namespace):
    """The machine with its system RAM on the platform --cpu names, or at --ram-bandwidth-gb-s."""
    import dataclasses
    from .engine.machine import device_from_hardware
    if args.cpu is None and args.ram_bandwidth_gb_s is None:
        return machine
    if args.cpu is not None and args.ram_bandwidth_gb_s is not None:
        raise EngineInputError("give --cpu or --ram-bandwidth-gb-s, not both")
    if machine is None or machine.host is None:
        raise EngineInputError("--cpu and --ram-bandwidth-gb-s describe system RAM beside GPUs: give --ram-gb "
                               "(or a CPU-only machine as --hardware)")
    if args.cpu is not None:
        hw = engine.catalog.hardware.get(args.cpu)
        if hw is None or hw.kind != "cpu":
            raise EngineInputError(f"--cpu {args.cpu!r} is not a catalog CPU platform; valid: " + ", ".join(
                sorted(h.id for h in engine.catalog.hardware.values() if h.kind == "cpu")))
        host = device_from_hardware(hw, memory_gb=machine.host.memory_bytes / 2**30)
    else:
        host = dataclasses.replace(machine.host, bandwidth_bytes_s=args.ram_bandwidth_gb_s * 1e9)
    return dataclasses.replace(machine, host=host)


def _backend(engine: Engine, machine, backend: str | None) -> str | None:
    """The backend asked for, checked against the machine's devices."""
    if backend is None:
        return None
    if backend not in BACKENDS:
        raise EngineInputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if machine is None:
        raise EngineInputError("--backend needs --hardware or a custom machine")
    devices = machine.accelerators or (machine.host,)
    for d in devices:
        hw = engine.catalog.hardware.get(d.id)
        vendor = hw.vendor if hw else None
        allowed = VENDOR_BACKENDS.get(vendor or "", {d.backend, "vulkan"} if d.backend != "metal" else {"metal"})
        if d.kind == "cpu":
            allowed = {"cpu"}
        if backend not in allowed:
            raise EngineInputError(f"the {backend} backend does not run on {d.name}; it runs "
                                   f"{', '.join(sorted(allowed))}")
    return backend


def _conflicting_flags(engine: Engine, args: argparse.Namespace) -> str | None:
    """A flag the estimate would ignore or contradict, as one sentence; None when the flags agree."""
    custom = {"--bandwidth-gb-s": args.bandwidth_gb_s, "--memory-gb": args.memory_gb, "--kind": args.kind,
              "--tflops": args.tflops}
    given = [flag for flag, value in custom.items() if value is not None]
    if args.hardware and given:
        return f"give either --hardware or a custom machine ({'/'.join(custom)}), not both: {given[0]} with --hardware"
    if given and not args.hardware:
        missing = [f for f in ("--bandwidth-gb-s", "--memory-gb", "--kind") if custom[f] is None]
        if missing:
            return f"a custom machine needs --bandwidth-gb-s, --memory-gb and --kind (missing {', '.join(missing)})"
    if not args.hardware and not given:
        used = [f for f, v in (("--count", args.count), ("--ram-gb", args.ram_gb)) if v is not None]
        if used:
            return f"{' and '.join(used)} need --hardware or a custom machine"
        return None
    if args.hardware in engine.catalog.rigs:
        for flag, value in (("--count", args.count), ("--ram-gb", args.ram_gb)):
            if value is not None:
                return (f"{flag} does not apply to the rig {args.hardware!r}: a rig fixes its devices and its "
                        "system RAM (give a hardware id to choose them)")
    kind = args.kind or (engine.catalog.hardware[args.hardware].kind if args.hardware in engine.catalog.hardware
                         else None)
    if kind in ("unified", "cpu") and (args.count or 1) > 1:
        return f"--count {args.count}: a {kind} machine stands alone (only discrete GPUs are combined)"
    if kind in ("unified", "cpu") and args.ram_gb:
        return f"--ram-gb: a {kind} machine has one memory (give it as --memory-gb or use the catalog record)"
    quant = engine.catalog.quants.get(args.quant)
    backend = {"gpu": "cuda", "unified": "metal", "cpu": "cpu"}.get(args.kind or "")
    if args.hardware in engine.catalog.hardware:
        backend = engine.catalog.hardware[args.hardware].backend
    elif args.hardware in engine.catalog.rigs:
        first = engine.catalog.rigs[args.hardware].parts[0].hardware
        backend = engine.catalog.hardware[first].backend if first in engine.catalog.hardware else None
    if quant is not None and quant.format == "mlx" and backend not in (None, "metal"):
        return f"the quant {quant.id!r} is an MLX file, which runs only on Apple silicon (Metal), not on {backend}"
    runtime = engine.catalog.runtimes.get(args.runtime or "")
    if runtime is not None and quant is not None and quant.format not in runtime.formats:
        return (f"the runtime {runtime.id!r} does not load {quant.format} files (the quant {quant.id!r}); "
                f"it loads {', '.join(runtime.formats)}")
    if runtime is not None and backend is not None and backend not in runtime.backends:
        return f"the runtime {runtime.id!r} does not run on {backend}; it runs on {', '.join(runtime.backends)}"
    return None


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
        def speed(kind: str, digits: int) -> str:
            value, rng = d[f"{kind}_tok_s"], d.get(f"{kind}_tok_s_range")
            if value is None:
                return f"{kind} n/a"
            band = f" (likely {rng[0]:,.{digits}f}-{rng[1]:,.{digits}f})" if rng else ""
            return f"{kind} {value:,.{digits}f} tok/s{band}"
        basis = d.get("speed_basis") or {}
        lines.append(f"  {speed('decode', 1)}, {speed('prefill', 0)} (estimates at depth {d.get('depth', 0):,}; "
                     f"prompt {d.get('prompt', 512):,} tokens)")
        for kind, b in basis.items():
            few = "" if b["enough"] else ", too few measurements: shown wide"
            lines.append(f"    {kind} band: 90% of {b['points']} held-out measurements of '{b['class']}' lay "
                         f"within a factor {b['p90_factor']:.2f}{few}")
    lines += [f"  assumes: {a}" for a in d["assumptions"]]
    return "\n".join(lines)


def cmd_list(catalog, args: argparse.Namespace) -> int:
    records = getattr(catalog, args.kind)
    if args.json:
        print(strict_json({k: v.model_dump(mode="json") for k, v in records.items()}, indent=2, sort_keys=True))
    else:
        for key, record in records.items():
            print(f"{key}\t{getattr(record, 'name', '')}")
    return 0
