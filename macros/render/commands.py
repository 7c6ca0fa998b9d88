"""Ready-to-run command lines whose flags come from the engine's placement and the runtime catalog."""

from __future__ import annotations

from . import fmt


def flag(runtime, name: str, fallback: str) -> str:
    """The flag as the runtime catalog spells it (its first word), else `fallback`."""
    if runtime is None:
        return fallback
    value = getattr(runtime.flags, name, None)
    if not value:
        return fallback
    return value.split()[0].split("/")[0]


def gguf_file(model, quant_id: str) -> str:
    return f"{model.name.split(' ')[0]}-{quant_id}.gguf"


def llama_cpp(catalog, model, quant_id: str, est, context: int) -> str:
    rt = catalog.runtimes.get("llama.cpp")
    p = est.placement
    cmd = rt.command.split()[0] if rt else "llama-server"
    parts = [cmd, "-m", gguf_file(model, quant_id), flag(rt, "context", "-c"), str(context)]
    if p.gpu_layers is not None and p.placement != "cpu":
        parts += [flag(rt, "gpu_layers", "-ngl"), str(p.gpu_layers)]
    if p.n_cpu_moe:
        parts += [flag(rt, "cpu_moe", "--n-cpu-moe"), str(p.n_cpu_moe)]
    if p.placement == "cpu":
        parts += [flag(rt, "gpu_layers", "-ngl"), "0"]
    return " ".join(parts)


def ollama(catalog, model, quant_id: str, est, context: int) -> str:
    rt = catalog.runtimes.get("ollama")
    p = est.placement
    lines = [f"FROM ./{gguf_file(model, quant_id)}", f"PARAMETER {flag(rt, 'context', 'num_ctx')} {context}"]
    if p.gpu_layers is not None:
        lines.append(f"PARAMETER {flag(rt, 'gpu_layers', 'num_gpu')} {0 if p.placement == 'cpu' else p.gpu_layers}")
    return "\n".join(lines)


def vllm(catalog, model, tp: int, context: int) -> str:
    rt = catalog.runtimes.get("vllm")
    cmd = rt.command if rt else "vllm serve"
    parts = [cmd, model.hf_repo or model.id, flag(rt, "tensor_parallel", "--tensor-parallel-size"), str(tp),
             flag(rt, "context", "--max-model-len"), str(context)]
    return " ".join(parts)


def mlx(catalog, model, context: int) -> str:
    rt = catalog.runtimes.get("mlx-lm")
    cmd = rt.command.split()[0] if rt else "mlx_lm.generate"
    return f'{cmd} --model <MLX 4-bit conversion of {model.hf_repo or model.id}> {flag(rt, "context", "--max-kv-size")} {context} --prompt "..."'


def block(code: str, lang: str = "bash") -> str:
    return f"```{lang}\n{code}\n```\n"


def runtime_names(catalog) -> dict[str, str]:
    return {k: fmt.esc(v.name) for k, v in catalog.runtimes.items()}
