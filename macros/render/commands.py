"""Command lines that work: for the machine on the page, for a placement that fits, with the
download that makes them real. Flags come from the engine's placement and catalog/runtimes.yaml;
repositories and quants from catalog/downloads.yaml."""

from __future__ import annotations

from . import fmt

# How-to pages for the two desktop runners' Hugging Face downloads (read 2026-12-01):
# "Download any model from Hugging Face by specifiying {user}/{repo} ... Choose a quantization with the @ qualifier"
LMSTUDIO_HF_DOC = "https://huggingface.co/docs/hub/lmstudio"
# ollama run hf.co/{username}/{repository}:{quantization}
OLLAMA_HF_DOC = "https://huggingface.co/docs/hub/ollama"
PARALLEL_SLOTS = 1  # one sequence: the context given is the whole cache (llama-server splits -c across slots)


def flag(runtime, name: str, fallback: str) -> str:
    """The flag as the runtime catalog spells it (its first word), else `fallback`."""
    if runtime is None:
        return fallback
    value = getattr(runtime.flags, name, None)
    if not value:
        return fallback
    return value.split()[0].split("/")[0]


def download(catalog, model_id: str, quant_id: str):
    """The catalog's download record for this model that lists `quant_id`, else None."""
    for d in getattr(catalog, "downloads", {}).values():
        if d.model == model_id and quant_id in d.quants:
            return d
    return None


def include_pattern(quant_id: str) -> str:
    """The --include glob that selects one quant's files (all parts of a split GGUF) in a repository.
    A plain mix is anchored on its separator so Q4_K_M does not also match UD-Q4_K_XL."""
    return f"*{quant_id}*" if quant_id.startswith("UD-") else f"*-{quant_id}*"


def download_command(d, quant_id: str, local_dir: str) -> str:
    return (f'huggingface-cli download {d.repo} --include "{include_pattern(quant_id)}" '
            f"--local-dir {local_dir}")


def local_dir(model) -> str:
    return "models/" + model.name.split(" ")[0]


def llama_server(catalog, model, quant_id: str, est, context: int) -> str:
    """llama-server for one placement: -hf (downloads on first run) when the catalog lists a repository,
    else -m with a placeholder; -c, -ngl, --n-cpu-moe from the placement; flash attention on; one slot."""
    rt = catalog.runtimes.get("llama.cpp")
    p = est.placement
    cmd = rt.command.split()[0] if rt else "llama-server"
    d = download(catalog, model.id, quant_id)
    src = ["-hf", f"{d.repo}:{quant_id}"] if d else ["-m", f"<your {quant_id} .gguf file>"]
    parts = [cmd, *src, flag(rt, "context", "-c"), str(context)]
    ngl = 0 if p.placement == "cpu" else (p.gpu_layers if p.gpu_layers is not None else 0)
    parts += [flag(rt, "gpu_layers", "-ngl"), str(ngl)]
    if p.n_cpu_moe:
        parts += [flag(rt, "cpu_moe", "--n-cpu-moe"), str(p.n_cpu_moe)]
    parts += ["-fa", "on", "--parallel", str(PARALLEL_SLOTS)]
    return " ".join(parts)


def llama_server_local(catalog, model, quant_id: str, est, context: int) -> str:
    """The same, pointed at files downloaded with download_command (the first part of a split file)."""
    line = llama_server(catalog, model, quant_id, est, context)
    d = download(catalog, model.id, quant_id)
    if not d:
        return line
    first = f'"$(find {local_dir(model)} -name \'{include_pattern(quant_id)}.gguf\' | sort | head -1)"'
    return line.replace(f"-hf {d.repo}:{quant_id}", f"-m {first}")


def ollama(catalog, model, quant_id: str, context: int) -> str | None:
    """Ollama pulling the same GGUF from Hugging Face, then the context set in the session."""
    d = download(catalog, model.id, quant_id)
    if not d:
        return None
    return f"ollama run hf.co/{d.repo}:{quant_id}\n>>> /set parameter num_ctx {context}"


def lmstudio(d, quant_id: str) -> str:
    """LM Studio's CLI fetching one quant of the repository (the @ qualifier picks the quantization)."""
    return f"lms get {d.repo}@{quant_id}"


def vllm(catalog, model, tp: int, context: int) -> str:
    rt = catalog.runtimes.get("vllm")
    cmd = rt.command if rt else "vllm serve"
    parts = [cmd, model.hf_repo or model.id, flag(rt, "tensor_parallel", "--tensor-parallel-size"), str(tp),
             flag(rt, "context", "--max-model-len"), str(context)]
    return " ".join(parts)


def mlx(catalog, model, repo: str, context: int) -> str:
    rt = catalog.runtimes.get("mlx-lm")
    cmd = rt.command.split()[0] if rt else "mlx_lm.generate"
    return f'{cmd} --model {repo} {flag(rt, "context", "--max-kv-size")} {context} --prompt "..."'


def block(code: str, lang: str = "bash") -> str:
    return f"```{lang}\n{code}\n```\n"


def setup_block(site, model_id: str, rec) -> str:
    """Download and run commands for one recommendation (its machine, quant, context and placement)."""
    cat = site.catalog
    m = cat.models[model_id]
    q, e, ctx = rec.quant, rec.estimate, rec.context
    out = []
    d = download(cat, model_id, q)
    if d:
        where = f'<a href="https://huggingface.co/{fmt.esc(d.repo)}">{fmt.esc(d.repo)}</a>'
        out += [f"**Download** the `{fmt.esc(q)}` files from {where} (files over about 50 GB come in numbered "
                "parts; llama.cpp reads them all from the first):\n",
                block(download_command(d, q, local_dir(m)))]
    else:
        out.append(f"The catalog lists no published repository with `{fmt.esc(q)}` files for this model; "
                   "convert or download one and point `-m` at it.\n")
    out += ["**llama.cpp** (`-hf` downloads on first run; or use `-m` on the files above):\n",
            block(llama_server(cat, m, q, e, ctx))]
    if d:
        out += ["Or, with the files downloaded as above:\n", block(llama_server_local(cat, m, q, e, ctx))]
    ol = ollama(cat, m, q, ctx)
    if ol and e.placement.placement in ("gpu", "unified", "cpu", "layer_split"):
        out += [f'**Ollama** (pulls the same file from Hugging Face, <a href="{OLLAMA_HF_DOC}">how</a>; set the '
                "context in the session):\n", block(ol, "text")]
    elif ol:
        out.append("Ollama and LM Studio have no equivalent of `--n-cpu-moe`; for this placement use llama.cpp.\n")
    if d and e.placement.placement in ("gpu", "unified", "cpu", "layer_split"):
        out += [f'**LM Studio** (its `lms` command line, <a href="{LMSTUDIO_HF_DOC}">how</a>; then load it with a '
                f"context length of {ctx:,} tokens):\n", block(lmstudio(d, q))]
    return "\n".join(out)
