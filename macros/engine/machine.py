"""A machine: the accelerators, the system RAM beside them, and the links between them."""

from __future__ import annotations

import dataclasses
from typing import Literal, Mapping

from ..catalog.schema import Hardware, Rig
from .parts import EngineInputError

Kind = Literal["gpu", "unified", "cpu"]

# Memory is built in powers of two: a "24 GB" card holds 24 GiB (nvidia-smi shows 24564 MiB for an
# RTX 4090) and a "128 GB" Mac 128 GiB. Capacities from the catalog are read in that unit;
# bandwidths stay decimal (GB/s = 10^9 bytes/s, as vendors rate them).
CAPACITY_UNIT_BYTES = 2**30

# PCIe payload bandwidth per lane and direction, bytes/s (after 128b/130b encoding).
PCIE_LANE_BYTES_S = {3.0: 0.985e9, 4.0: 1.969e9, 5.0: 3.938e9, 6.0: 7.563e9}


@dataclasses.dataclass(frozen=True)
class Device:
    """One memory pool that weights can live in, with the bandwidth and compute that read it."""

    id: str
    name: str
    kind: Kind
    memory_bytes: float  # installed
    bandwidth_bytes_s: float  # rated
    flops: float | None  # dense fp16 tensor rate, FLOP/s
    backend: str
    power_w: float | None
    host_link_bytes_s: float | None = None  # PCIe to the host, per direction
    hbm: bool = False  # high-bandwidth memory (datacenter parts): its own class of fitted speed factors
    bandwidth_measured: bool = False  # bandwidth_bytes_s was measured on the machine (used as is), not rated
    vendor: str = ""  # NVIDIA, AMD, Intel, Apple, ...


@dataclasses.dataclass(frozen=True)
class Machine:
    """Accelerators (identical or not) plus optional system RAM on a CPU platform."""

    id: str
    name: str
    accelerators: tuple[Device, ...]  # empty for a CPU-only machine
    host: Device | None  # the CPU platform and its RAM; memory_bytes is the installed RAM
    gpu_link: str = "pcie"
    gpu_link_bytes_s: float | None = None  # GPU-to-GPU per direction
    price_usd: float | None = None
    extra_power_w: float = 0.0  # CPU, board, fans beside the accelerators
    price_scope: str = "whole"  # "gpus_only": the price covers the GPUs alone (keep out of price rankings)

    @property
    def kind(self) -> Kind:
        if not self.accelerators:
            return "cpu"
        return "unified" if self.accelerators[0].kind == "unified" else "gpu"

    @property
    def count(self) -> int:
        return len(self.accelerators)

    @property
    def ram_bytes(self) -> float:
        return self.host.memory_bytes if self.host else 0.0


def device_from_hardware(hw: Hardware, memory_gb: float | None = None) -> Device:
    link = None
    if hw.pcie_gen and hw.pcie_lanes:
        link = PCIE_LANE_BYTES_S.get(float(hw.pcie_gen), 1.969e9) * hw.pcie_lanes
    return Device(
        id=hw.id, name=hw.name, kind=hw.kind,
        memory_bytes=(memory_gb or hw.memory_gb) * CAPACITY_UNIT_BYTES,
        bandwidth_bytes_s=hw.memory_bandwidth_gb_s * 1e9,
        flops=hw.fp16_tflops * 1e12 if hw.fp16_tflops else None,
        backend=hw.backend, power_w=hw.tdp_w, host_link_bytes_s=link,
        hbm="HBM" in (hw.memory_type or "").upper(), vendor=hw.vendor,
    )


def machine_from_hardware(hw: Hardware, count: int = 1, ram_gb: float = 0.0,
                          cpu_platform: Hardware | None = None) -> Machine:
    """`count` identical devices, plus `ram_gb` of system RAM on `cpu_platform` (if given)."""
    if count < 1:
        raise EngineInputError(f"count must be 1 or more, got {count}")
    if ram_gb < 0:
        raise EngineInputError(f"ram must be 0 GB or more, got {ram_gb}")
    if hw.kind == "cpu":
        host = device_from_hardware(hw, memory_gb=ram_gb or hw.memory_gb)
        return Machine(id=hw.id, name=hw.name, accelerators=(), host=host,
                       price_usd=hw.price_usd)
    if hw.kind == "unified" and count > 1:
        raise EngineInputError(f"{hw.id} is a unified-memory machine; count must be 1")
    host = None
    if ram_gb and hw.kind == "gpu":
        if cpu_platform is None:
            raise EngineInputError("system RAM needs a CPU platform for its bandwidth")
        host = device_from_hardware(cpu_platform, memory_gb=ram_gb)
    link_bytes = hw.nvlink_gb_s * 1e9 if hw.nvlink_gb_s and count > 1 else None
    name = hw.name if count == 1 else f"{count}x {hw.name}"
    if host:
        name += f" + {ram_gb:g} GB RAM"
    return Machine(
        id=hw.id if count == 1 else f"{count}x-{hw.id}", name=name,
        accelerators=tuple(device_from_hardware(hw) for _ in range(count)), host=host,
        gpu_link="nvlink" if link_bytes else ("pcie" if count > 1 else "none"),
        gpu_link_bytes_s=link_bytes,
        price_usd=hw.price_usd * count if hw.price_usd else None,
    )


def machine_from_rig(rig: Rig, hardware: Mapping[str, Hardware]) -> Machine:
    devices: list[Device] = []
    prices: list[float | None] = []
    for part in rig.parts:
        hw = hardware[part.hardware]
        devices.extend(device_from_hardware(hw) for _ in range(part.count))
        prices.append(hw.price_usd * part.count if hw.price_usd else None)
    host = None
    platform = hardware[rig.cpu_platform] if rig.cpu_platform else None
    if rig.system_ram_gb and platform:
        host = device_from_hardware(platform, memory_gb=rig.system_ram_gb)
    accelerators = tuple(d for d in devices if d.kind != "cpu")
    if not accelerators and host is None and devices:
        host = devices[0]
    nvlink = [hardware[p.hardware].nvlink_gb_s for p in rig.parts]
    link_bytes = min(nvlink) * 1e9 if rig.gpu_link == "nvlink" and all(nvlink) else None
    price = rig.price_usd
    if price is None and all(p is not None for p in prices):
        # Priced from its parts only when every part is priced: GPUs alone are not a build's price
        # when the build also needs a CPU platform and RAM the catalog does not price.
        platform_price = platform.price_usd if platform else 0.0
        if platform_price is not None and not (rig.system_ram_gb and not platform):
            price = sum(prices) + platform_price
    return Machine(
        id=rig.id, name=rig.name, accelerators=accelerators, host=host,
        gpu_link=rig.gpu_link if len(accelerators) > 1 else "none", gpu_link_bytes_s=link_bytes,
        price_usd=price, extra_power_w=(platform.tdp_w or 0.0) if platform else 0.0,
        price_scope=getattr(rig, "price_scope", None) or "whole",
    )


def custom_machine(kind: Kind, memory_gb: float, bandwidth_gb_s: float, tflops: float | None = None,
                   count: int = 1, ram_gb: float = 0.0, ram_bandwidth_gb_s: float = 60.0) -> Machine:
    """A machine not in the catalog, from its memory, bandwidth and (optionally) compute."""
    for label, value in (("memory", memory_gb), ("bandwidth", bandwidth_gb_s)):
        if value is None or value <= 0:
            raise EngineInputError(f"{label} must be a positive number, got {value}")
    if tflops is not None and tflops <= 0:
        raise EngineInputError(f"tflops must be a positive number, got {tflops}")
    backend = {"gpu": "cuda", "unified": "metal", "cpu": "cpu"}[kind]
    dev = Device(id="custom", name=f"custom {kind}", kind=kind, memory_bytes=memory_gb * CAPACITY_UNIT_BYTES,
                 bandwidth_bytes_s=bandwidth_gb_s * 1e9, flops=tflops * 1e12 if tflops else None,
                 backend=backend, power_w=None, host_link_bytes_s=PCIE_LANE_BYTES_S[4.0] * 16)
    if kind == "cpu":
        return Machine(id="custom", name=dev.name, accelerators=(), host=dev)
    host = None
    if ram_gb and kind == "gpu":
        host = Device(id="custom-ram", name="system RAM", kind="cpu", memory_bytes=ram_gb * CAPACITY_UNIT_BYTES,
                      bandwidth_bytes_s=ram_bandwidth_gb_s * 1e9, flops=None, backend="cpu", power_w=None)
    return Machine(id="custom", name=dev.name if count == 1 else f"{count}x {dev.name}",
                   accelerators=tuple(dev for _ in range(count)), host=host,
                   gpu_link="pcie" if count > 1 else "none")


def machine_from_devices(hws: list[Hardware], ram_gb: float = 0.0, cpu_platform: Hardware | None = None,
                         host_measured_bandwidth_gb_s: float | None = None) -> Machine:
    """GPUs in split order (identical or mixed), plus system RAM on a CPU platform, or on a host whose
    RAM streaming rate was measured rather than rated."""
    if any(hw.kind != "gpu" for hw in hws) and len(hws) > 1:
        raise EngineInputError("only discrete GPUs can be combined; a unified or CPU machine stands alone")
    if len(hws) == 1 and host_measured_bandwidth_gb_s is None:
        return machine_from_hardware(hws[0], 1, ram_gb, cpu_platform)
    devices = tuple(device_from_hardware(hw) for hw in hws)
    host = None
    if host_measured_bandwidth_gb_s is not None:
        host = Device(id="host", name="host RAM (measured)", kind="cpu", memory_bytes=(ram_gb or 1024) * CAPACITY_UNIT_BYTES,
                      bandwidth_bytes_s=host_measured_bandwidth_gb_s * 1e9, flops=None, backend="cpu", power_w=None,
                      bandwidth_measured=True)
    elif ram_gb:
        if cpu_platform is None:
            raise EngineInputError("system RAM needs a CPU platform for its bandwidth")
        host = device_from_hardware(cpu_platform, memory_gb=ram_gb)
    name = " + ".join(hw.name for hw in hws)
    prices = [hw.price_usd for hw in hws]
    return Machine(id="+".join(hw.id for hw in hws), name=name, accelerators=devices, host=host,
                   gpu_link="pcie" if len(hws) > 1 else "none",
                   price_usd=sum(prices) if all(prices) else None)
