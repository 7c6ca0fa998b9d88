"""Typed records for every kind of catalog fact.

Each record is frozen and forbids unknown fields, so a typo in a field name is an
error. Units are in the field names: `_gb_s` is 10^9 bytes/s, `_w` is watts, `_usd` is
US dollars. Memory capacities (`memory_gb`, `system_ram_gb`) are the figure as sold
("24 GB", "512 GB"); memory is built in powers of two, so the engine reads them as GiB
(a "24 GB" card holds 24 x 2^30 bytes). Every other size in bytes is exact. Architecture fields use the names of a
Hugging Face `config.json`, so a config can be read into the same record.
Cross-record checks (references, duplicate ids) live in the loader.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PositiveInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$", max_length=80)]
# KV cache precisions llama.cpp offers (-ctk/-ctv): the one list the engine, CLI and pages use.
KV_TYPES = ("f16", "q8_0", "q4_0")
KvType = Literal[KV_TYPES]


class Record(BaseModel):
    # Numbers are finite (`.inf` and `.nan` are refused); a string stays under MAX_STRING characters.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False,
                              str_max_length=4000)


class Source(Record):
    """Where a fact was read: an address or a document, and the date it was read."""

    url: str | None = None  # a public address
    doc: str | None = None  # a repository path, a document or a file in ../shared/reference
    read: dt.date  # the date the value was read
    quote: str | None = None  # the words or figures as the source gives them
    note: str | None = None
    weak: str | None = None  # why this source falls short (no public primary found); `make sources` lists it

    @model_validator(mode="after")
    def _has_location(self) -> "Source":
        if not self.url and not self.doc:
            raise ValueError("a source needs `url` or `doc` (where the fact was read)")
        return self


Sources = Annotated[list[Source], Field(min_length=1)]


def _one_or_many(value):
    """Allow `source:` to be one mapping or a list of them."""
    return [value] if isinstance(value, dict) else value


def _priced_together(record) -> None:
    if (record.price_usd is None) != (record.price_date is None):
        raise ValueError("price_usd needs price_date (and the reverse)")


class Sourced(Record):
    source: Sources

    _wrap_source = field_validator("source", mode="before")(_one_or_many)


# --------------------------------------------------------------------------- models


class VisionTower(Record):
    """The vision encoder as a config's `vision_config` gives it."""

    depth: PositiveInt
    hidden_size: PositiveInt
    intermediate_size: PositiveInt
    num_heads: PositiveInt
    patch_size: PositiveInt
    in_channels: PositiveInt = 3
    spatial_merge_size: PositiveInt = 2
    temporal_patch_size: PositiveInt = 2
    out_hidden_size: PositiveInt
    num_position_embeddings: NonNegInt = 0


class Architecture(Record):
    """The text model's shape, named as in a Hugging Face config.json."""

    num_hidden_layers: PositiveInt
    hidden_size: PositiveInt
    num_attention_heads: PositiveInt
    num_key_value_heads: PositiveInt
    head_dim: PositiveInt | None = None  # None: hidden_size / num_attention_heads
    intermediate_size: NonNegInt = 0  # dense FFN width; 0 when every layer is MoE
    vocab_size: PositiveInt
    tie_word_embeddings: bool
    max_position_embeddings: PositiveInt
    attn_output_gate: bool = False  # gated attention: q_proj twice as wide
    attention_bias: bool = False  # q/k/v projections carry a bias (Qwen2.5)
    # Hybrid attention: every `full_attention_interval`-th layer is full attention,
    # the others Gated DeltaNet linear attention. None: every layer is full attention.
    full_attention_interval: PositiveInt | None = None
    linear_num_key_heads: NonNegInt = 0
    linear_num_value_heads: NonNegInt = 0
    linear_key_head_dim: NonNegInt = 0
    linear_value_head_dim: NonNegInt = 0
    linear_conv_kernel_dim: NonNegInt = 0
    # Mixture of experts. num_experts 0: dense.
    num_experts: NonNegInt = 0
    num_experts_per_tok: NonNegInt = 0
    moe_intermediate_size: NonNegInt = 0
    shared_expert_intermediate_size: NonNegInt = 0
    mtp_num_hidden_layers: NonNegInt = 0  # multi-token-prediction layers shipped with the model
    # DeepSeek-V3 / Kimi K2 style: dense FFN in the first k layers, MoE after them.
    first_k_dense_replace: NonNegInt = 0
    # Multi-head latent attention (MLA, DeepSeek-V3 / Kimi K2): queries and keys/values through low-rank
    # projections; the KV cache holds the compressed latent (kv_lora_rank) plus the rotary key part
    # (qk_rope_head_dim) per layer per token. kv_lora_rank 0: ordinary attention.
    kv_lora_rank: NonNegInt = 0
    q_lora_rank: NonNegInt = 0  # 0: queries projected directly
    qk_nope_head_dim: NonNegInt = 0
    qk_rope_head_dim: NonNegInt = 0
    v_head_dim: NonNegInt = 0
    rope_theta: PositiveFloat | None = None
    partial_rotary_factor: PositiveFloat = 1.0
    position_encoding: Literal["rope", "alibi", "learned"] = "rope"
    vision: VisionTower | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "Architecture":
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_key_value_heads ({self.num_key_value_heads}) must divide "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        if self.num_experts:
            if not (0 < self.num_experts_per_tok <= self.num_experts):
                raise ValueError("num_experts_per_tok must be between 1 and num_experts")
            if not self.moe_intermediate_size:
                raise ValueError("an MoE model needs moe_intermediate_size")
        elif not self.intermediate_size:
            raise ValueError("a dense model needs intermediate_size (its FFN width)")
        if self.full_attention_interval and self.full_attention_interval > 1:
            for name in ("linear_num_key_heads", "linear_num_value_heads",
                         "linear_key_head_dim", "linear_value_head_dim"):
                if not getattr(self, name):
                    raise ValueError(f"a hybrid (linear-attention) model needs {name}")
            if self.linear_num_value_heads % self.linear_num_key_heads:
                raise ValueError("linear_num_key_heads must divide linear_num_value_heads")
        if self.kv_lora_rank and not (self.qk_nope_head_dim and self.qk_rope_head_dim and self.v_head_dim):
            raise ValueError("MLA attention (kv_lora_rank) needs qk_nope_head_dim, qk_rope_head_dim and v_head_dim")
        if self.first_k_dense_replace and not (self.num_experts and self.intermediate_size
                                               and self.first_k_dense_replace < self.num_hidden_layers):
            raise ValueError("first_k_dense_replace needs an MoE model with intermediate_size (the dense layers' "
                             "FFN width) and fewer dense layers than layers")
        if self.head_dim is None and self.hidden_size % self.num_attention_heads:
            raise ValueError("head_dim is needed when num_attention_heads does not divide hidden_size")
        return self


class Model(Sourced):
    id: Identifier
    name: str
    # Featured items are the ones other pages cross-list: a model page lists the featured machines
    # (hardware and rigs), a hardware page lists the featured models. Every item still gets its own page.
    featured: bool = False
    family: str  # e.g. qwen3.5, qwen3.6, qwen3, llama3
    hf_repo: str | None = None
    released: dt.date | None = None
    license: str | None = None
    params_total_official_b: PositiveFloat  # the publisher's own figure, billions
    params_active_official_b: PositiveFloat  # per token, billions; equals total for dense
    context_extended: PositiveInt | None = None  # with YaRN or similar, tokens
    # The computed parameter counts must agree with the official figures within these (percent); wider
    # than the default only with the reason (a rounded label, a publisher counting without embeddings).
    params_total_tolerance_pct: PositiveFloat | None = None  # default DEFAULT_PARAMS_TOLERANCE_PCT["total"]
    params_active_tolerance_pct: PositiveFloat | None = None  # default DEFAULT_PARAMS_TOLERANCE_PCT["active"]
    params_tolerance_why: str | None = None
    architecture: Architecture
    notes: str | None = None

    @model_validator(mode="after")
    def _active_le_total(self) -> "Model":
        wider = self.params_total_tolerance_pct is not None or self.params_active_tolerance_pct is not None
        if wider and not self.params_tolerance_why:
            raise ValueError("a params tolerance needs params_tolerance_why (why the official figure differs)")
        if self.params_active_official_b > self.params_total_official_b:
            raise ValueError(
                f"params_active_official_b ({self.params_active_official_b}) is above "
                f"params_total_official_b ({self.params_total_official_b})"
            )
        return self


# --------------------------------------------------------------------------- quantization


class StorageType(Sourced):
    """A tensor storage type: how many bytes one block of weights takes."""

    id: Identifier  # e.g. Q4_K, Q6_K, F16, FP8_B128, INT4_G128
    block_weights: PositiveInt
    block_bytes: PositiveFloat
    notes: str | None = None


class ReferenceFileBpw(Record):
    """A published whole-file bits-per-weight figure for a mix, on a named model."""

    bpw: PositiveFloat
    model: Identifier  # the model it was measured on
    source: Sources

    _wrap_source = field_validator("source", mode="before")(_one_or_many)


class Quant(Sourced):
    """A downloadable quantization format or mix."""

    id: Identifier  # e.g. Q4_K_M, UD-Q4_K_XL, FP8, AWQ-INT4, MLX-4bit
    name: str
    format: Literal["gguf", "safetensors", "mlx"]
    # The layer weights: a single storage type, or a mix whose average is derived
    # from a published whole-file bpw on a reference model.
    body_type: Identifier | None = None
    reference_file_bpw: ReferenceFileBpw | None = None
    embedding_type: Identifier  # token embedding table
    output_type: Identifier  # LM head (ignored when embeddings are tied)
    runtimes: list[Identifier] = Field(min_length=1)
    notes: str | None = None

    @model_validator(mode="after")
    def _one_body(self) -> "Quant":
        if (self.body_type is None) == (self.reference_file_bpw is None):
            raise ValueError("give exactly one of body_type or reference_file_bpw")
        return self


class Artifact(Sourced):
    """A real published file (GGUF or safetensors upload) and its size."""

    id: Identifier
    model: Identifier
    quant: Identifier
    publisher: str  # e.g. unsloth, bartowski, Qwen
    size_bytes: PositiveFloat  # total of all shards, bytes
    size_as_published: str  # the figure as the page shows it, e.g. "421.58GB"
    includes_vision: bool = False
    includes_mtp: bool = False
    reference_for: Identifier | None = None  # the quant whose bits were derived from this file: not a test
    notes: str | None = None


# --------------------------------------------------------------------------- hardware


class Hardware(Sourced):
    id: Identifier
    name: str
    featured: bool = False  # cross-listed on other pages (see Model.featured); still gets its own page
    vendor: str
    kind: Literal["gpu", "unified", "cpu"]
    memory_gb: PositiveFloat  # installed memory as sold (binary: read as GiB)
    memory_type: str | None = None
    memory_bandwidth_gb_s: PositiveFloat  # rated, 10^9 bytes/s
    fp16_tflops: PositiveFloat | None = None  # dense FP16/BF16 tensor rate
    fp16_tflops_accumulate: Literal["fp32", "fp16", "n/a"] | None = None
    tdp_w: PositiveFloat | None = None
    pcie_gen: PositiveFloat | None = None
    pcie_lanes: PositiveInt | None = None
    nvlink_gb_s: PositiveFloat | None = None  # per direction, per GPU
    backend: Literal["cuda", "rocm", "metal", "vulkan", "sycl", "cpu"]
    gpu_cores: PositiveInt | None = None
    price_usd: PositiveFloat | None = None
    price_date: dt.date | None = None
    # list: the vendor's own price for this configuration; street: a named retailer's price on price_date;
    # used: a second-hand price; msrp (= list) and estimate are older spellings kept valid.
    price_kind: Literal["list", "street", "used", "msrp", "estimate"] | None = None
    launch_date: dt.date | None = None
    notes: str | None = None

    @model_validator(mode="after")
    def _checks(self) -> "Hardware":
        if (self.fp16_tflops is None) != (self.fp16_tflops_accumulate is None):
            raise ValueError("fp16_tflops and fp16_tflops_accumulate go together")
        _priced_together(self)
        # A unit mistake: bandwidth typed into the memory field or the reverse.
        if self.kind == "gpu" and self.memory_gb > 400:
            raise ValueError(f"memory_gb {self.memory_gb} is above any GPU's memory; is it a bandwidth?")
        if self.memory_bandwidth_gb_s < 10:
            raise ValueError(
                f"memory_bandwidth_gb_s {self.memory_bandwidth_gb_s} is below any real device; "
                "is it in TB/s?"
            )
        return self


class RigPart(Record):
    hardware: Identifier
    count: PositiveInt = 1


class Rig(Sourced):
    """A named build: accelerators plus system RAM on a CPU platform."""

    id: Identifier
    name: str
    featured: bool = False  # cross-listed on other pages (see Model.featured); still gets its own page
    parts: list[RigPart] = Field(min_length=1)  # the accelerators (or one unified machine)
    system_ram_gb: NonNegFloat = 0  # RAM beside the GPUs as sold (read as GiB); 0 for unified machines
    cpu_platform: Identifier | None = None  # a `cpu` hardware record: RAM bandwidth and power
    gpu_link: Literal["pcie", "nvlink", "xgmi", "none"] = "pcie"
    price_usd: PositiveFloat | None = None  # the build as the source prices it (see price_scope)
    price_date: dt.date | None = None
    price_kind: Literal["list", "street", "used", "estimate"] | None = None
    # whole: everything needed to run it; gpus_only: the accelerators alone (kept out of price rankings)
    price_scope: Literal["whole", "gpus_only"] | None = None
    notes: str | None = None

    @model_validator(mode="after")
    def _checks(self) -> "Rig":
        _priced_together(self)
        if self.price_usd is not None and self.price_scope is None:
            raise ValueError("a priced rig needs price_scope (whole or gpus_only)")
        if self.system_ram_gb and not self.cpu_platform:
            raise ValueError("system_ram_gb needs cpu_platform (where its bandwidth comes from)")
        return self


class RuntimeFlags(Record):
    gpu_layers: str | None = None  # e.g. -ngl
    cpu_moe: str | None = None  # e.g. --n-cpu-moe
    context: str | None = None  # e.g. -c / --max-model-len
    tensor_parallel: str | None = None  # e.g. --tensor-parallel-size
    kv_type: str | None = None  # e.g. -ctk/-ctv
    split_mode: str | None = None


class Runtime(Sourced):
    id: Identifier
    name: str
    formats: list[Literal["gguf", "safetensors", "mlx"]] = Field(min_length=1)
    backends: list[Literal["cuda", "rocm", "metal", "vulkan", "sycl", "cpu"]] = Field(min_length=1)
    offload_modes: list[Literal["layer_split", "layer_offload", "moe_expert_offload", "tensor_parallel"]]
    kv_types: list[Literal["f16", "q8_0", "q4_0", "fp8"]] = Field(min_length=1)
    flags: RuntimeFlags
    command: str  # the program a reader runs, e.g. llama-server
    notes: str | None = None


# --------------------------------------------------------------------------- measurements


class Measurement(Sourced):
    """A published measurement the engine is checked against."""

    id: Identifier
    kind: Literal["file_size", "memory", "decode", "prefill"]
    model: Identifier
    quant: Identifier | None = None
    hardware: Identifier | None = None  # None for file sizes
    count: PositiveInt = 1
    runtime: Identifier | None = None
    backend: Literal["cuda", "rocm", "metal", "vulkan", "sycl", "cpu"] | None = None
    context: NonNegInt = 0  # tokens in the cache when measured (tg at depth d: d)
    tokens: PositiveInt | None = None  # pp512 -> 512, tg128 -> 128
    value: PositiveFloat  # tok/s, or bytes for file_size/memory
    unit: Literal["tok/s", "bytes"]
    as_published: str  # the figure and unit as printed, e.g. "16.67 GiB", "tg128 14.19"
    memory_part: Literal["kv_cache", "recurrent_state", "compute_buffer", "total"] | None = None
    kv_type: KvType = "f16"
    sequences: PositiveInt = 1  # parallel sequences (llama-server slots) the buffers were sized for
    split: Literal["layer", "tensor", "expert_offload"] | None = None
    gpu_layers_all: bool = True  # fully offloaded to the accelerator(s)
    devices: list[Identifier] | None = None  # mixed GPUs in split order (then `hardware` is the first)
    gpu_layers: NonNegInt | None = None  # -ngl N when not every layer is on the GPU(s)
    n_cpu_moe: NonNegInt | None = None  # --n-cpu-moe N: routed experts of the first N layers in system RAM
    host: Identifier | None = None  # the CPU platform (hardware id, kind cpu) holding offloaded weights
    # ... or, for a host no catalog platform describes, its RAM streaming rate as measured on it (used as is)
    host_measured_bandwidth_gb_s: PositiveFloat | None = None
    ubatch: PositiveInt | None = None  # -ub when not llama.cpp's default 512
    file_bytes: PositiveFloat | None = None  # the model file's size as the run printed it (llama-bench "size" x 2^30)
    group: str | None = None  # one benchmark table or thread (held out together); default: the first source address
    notes: str | None = None

    @model_validator(mode="after")
    def _checks(self) -> "Measurement":
        speed = self.kind in ("decode", "prefill")
        if speed and self.unit != "tok/s":
            raise ValueError(f"a {self.kind} measurement is in tok/s, not {self.unit}")
        if not speed and self.unit != "bytes":
            raise ValueError(f"a {self.kind} measurement is in bytes, not {self.unit}")
        if speed and not self.hardware:
            raise ValueError(f"a {self.kind} measurement needs the hardware it ran on")
        if self.kind == "memory" and not self.memory_part:
            raise ValueError("a memory measurement needs memory_part")
        if self.devices is not None:
            if len(self.devices) < 2 or self.devices[0] != self.hardware or self.count != len(self.devices):
                raise ValueError("devices lists two or more GPUs in split order: the first is `hardware` and "
                                 "`count` is how many")
        if (self.gpu_layers is not None or self.n_cpu_moe is not None) and not (
                self.host or self.host_measured_bandwidth_gb_s):
            raise ValueError("a measurement with weights in system RAM (gpu_layers or n_cpu_moe) needs `host`, "
                             "the CPU platform (or host_measured_bandwidth_gb_s)")
        return self


# --------------------------------------------------------------------------- money and constants


class ApiPrice(Sourced):
    id: Identifier
    provider: str
    model: Identifier  # the catalog model served
    input_usd_per_mtok: NonNegFloat
    output_usd_per_mtok: NonNegFloat
    price_date: dt.date


class Constant(Sourced):
    """A named default the engine uses, with its unit in the id (e.g. electricity_usd_per_kwh)."""

    id: Identifier
    value: float | str  # a number, or for a choice (e.g. default_cpu_platform) a catalog id
    unit: str
    meaning: str
    # The plausible range of a numeric constant (the loader also holds a table for the engine's own).
    min: float | None = None
    max: float | None = None


# --------------------------------------------------------------------------- claims


class ClaimQuery(Record):
    """What a published claim asserts, as an engine query or a catalog fact."""

    output: str  # an engine output (e.g. weights_gb, decode_tok_s, fits) or a fact path
    model: Identifier | None = None
    quant: Identifier | None = None
    context: NonNegInt | None = None
    hardware: Identifier | None = None
    count: PositiveInt = 1
    rig: Identifier | None = None
    kv_type: KvType = "f16"


class NoSuch(Record):
    """A claim about a model or device that does not exist: judged wrong, with what does exist."""

    kind: Literal["model", "device"]
    name: str  # as the claim names it, e.g. "Qwen 3.5 14B", "M4 Ultra"
    exists: str  # what does exist, e.g. the family's sizes or the vendor's line-up
    source: str | None = None  # a public address listing what exists


class ClaimGuide(Record):
    """One seed guide of the fact-check: how many numeric claims it makes, and how they were counted."""

    id: Identifier  # short guide name, also the name of its claims file (catalog/claims/<id>.yaml)
    seed: str  # the seed file's id, e.g. 000_a1f93fd2384726d7
    title: str
    publisher: str
    numeric_claims: NonNegInt  # numeric statements in the guide (table cells included)
    counted_how: str  # the rule used to count them
    skipped: list[str] = []  # numeric statements deliberately not registered, each with why


class Claim(Record):
    id: Identifier
    quote: str  # the claim's words
    published_in: str  # document (seed file or address)
    place: str  # where in the document (heading, line)
    topic: Literal["specs", "memory", "fit", "speed", "context", "power", "cost"]
    query: ClaimQuery | None = None  # None: not checkable (see why)
    claimed_value: float | None = None
    claimed_low: float | None = None
    claimed_high: float | None = None
    claimed_bool: bool | None = None
    claimed_text: str | None = None  # for a text fact, e.g. position_encoding "alibi"
    unit: str | None = None
    tolerance_pct: NonNegFloat = 5.0  # within this: holds
    close_pct: NonNegFloat = 15.0  # within this: close
    not_checkable_why: str | None = None
    no_such: NoSuch | None = None  # names a model or device that does not exist: wrong
    guide: Identifier | None = None  # the ClaimGuide it belongs to
    notes: str | None = None

    @model_validator(mode="after")
    def _checks(self) -> "Claim":
        if self.query is None:
            if not self.not_checkable_why and self.no_such is None:
                raise ValueError("a claim without query needs not_checkable_why or no_such")
            return self
        given = [self.claimed_value is not None, self.claimed_low is not None or self.claimed_high is not None,
                 self.claimed_bool is not None, self.claimed_text is not None]
        if sum(given) != 1:
            raise ValueError("give one of claimed_value, claimed_low/claimed_high, claimed_bool, claimed_text")
        if self.claimed_low is not None and self.claimed_high is not None and self.claimed_low > self.claimed_high:
            raise ValueError("claimed_low is above claimed_high")
        return self


# --------------------------------------------------------------------------- quality and downloads


class QualityMeasurement(Sourced):
    """A published measurement of how far a quantized file departs from the BF16 (or FP16) original."""

    id: Identifier
    model: Identifier  # the catalog model measured
    quant: Identifier  # the catalog quant the file is (its mix as published)
    publisher: str  # whose file was measured (recipes differ between uploaders), e.g. unsloth, bartowski
    # kld_mean: mean KL divergence to the baseline, nats; ppl_ratio: PPL(quant) / PPL(base);
    # top_token_pct: share of tokens whose most likely next token is the baseline's, percent;
    # benchmark_error_increase_pct / benchmark_recovery_pct: task scores against the baseline, percent.
    metric: Literal["kld_mean", "ppl_ratio", "top_token_pct", "benchmark_error_increase_pct",
                    "benchmark_recovery_pct"]
    value: float
    baseline: str = "BF16"  # what the quant is compared with
    dataset: str  # the text or benchmark it was measured on
    fit: bool = True  # used to fit the estimate for unmeasured quants (False: a custom recipe)
    notes: str | None = None


class Download(Sourced):
    """A published repository of GGUF files for one model, as a reader downloads it."""

    id: Identifier
    model: Identifier
    publisher: str
    repo: str  # Hugging Face owner/name
    quants: list[Identifier] = Field(min_length=1)  # catalog quants whose files the listing shows
    notes: str | None = None


RECORD_TYPES: dict[str, type[Record]] = {
    "models": Model,
    "storage_types": StorageType,
    "quants": Quant,
    "artifacts": Artifact,
    "hardware": Hardware,
    "rigs": Rig,
    "runtimes": Runtime,
    "measurements": Measurement,
    "api_prices": ApiPrice,
    "constants": Constant,
    "claims": Claim,
    "claim_guides": ClaimGuide,
    "quality": QualityMeasurement,
    "downloads": Download,
}
