"""Findings drawn from the probe's data, in the light of the project's command lines.

Pure functions over the probe's JSON: no subprocess here, so every rule is testable with
a hand-written dict as well as with a real probe run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wantui.core.finding import Finding, Severity
from wantui.core.findings import make_finding
from wantui.core.fixactions import FixAction
from wantui.core.probe.flags import flag_value, has_flag, int_flag

if TYPE_CHECKING:
    from wantui.core.models import ModelInfo
    from wantui.core.project import Project

GiB = 1024**3

# musubi-tuner 0.3.4's pyproject dependencies (distribution names); opencv has variants
REQUIRED = (
    "accelerate",
    "av",
    "diffusers",
    "einops",
    "safetensors",
    "toml",
    "transformers",
    "voluptuous",
    "ftfy",
    "easydict",
    "sentencepiece",
)
OPENCV = ("opencv-python", "opencv-python-headless", "opencv-contrib-python")

# attention flag -> (module musubi imports, NameError it dies with at the first step)
ATTENTION = {
    "--xformers": ("xformers", "name 'xops' is not defined"),
    "--flash_attn": ("flash_attn", "name 'flash_attn' is not defined"),
    "--flash3": ("flash_attn_interface", "name 'flash_attn_interface' is not defined"),
}

# DiT parameter counts, for memory estimates
PARAMS = {"1.3B": 1.42e9, "14B": 14.3e9, "5B": 5.0e9}
BLOCKS = {"1.3B": 30, "14B": 40, "5B": 30}


def _f(
    rule: str,
    catalog: str,
    severity: Severity,
    title: str,
    message: str,
    *,
    steps: tuple[str, ...] = ("any",),
    fixes: list[FixAction] | None = None,
    advice: list[str] | None = None,
    priority: int = 60,
    captures: dict[str, str] | None = None,
) -> Finding:
    return make_finding(
        rule,
        catalog,
        severity,
        title,
        message,
        origin="probe",
        fixes=fixes,
        advice=advice,
        captures=captures,
        steps=steps,
        priority=priority,
    )


def _gib(n: float | int | None) -> str:
    return "?" if n is None else f"{n / GiB:.1f} GiB"


def _args(project: Project | None, step: str) -> list[str]:
    if project is None or step not in project.steps or not project.steps[step].enabled:
        return []
    return list(project.steps[step].args)


def _launch(project: Project | None) -> tuple[str | None, list[str]]:
    if project is None or "train" not in project.steps:
        return None, []
    st = project.steps["train"]
    return st.launcher, list(st.launch_args)


def _pip(data: dict[str, Any]) -> str:
    exe = (data.get("python") or {}).get("executable") or "python"
    return f"{exe} -m pip install"


def lora_bytes(params: str, rank: int) -> int:
    """Size of a bf16 LoRA on every attention and FFN linear of the DiT."""
    dim, layers, ffn = {
        "1.3B": (1536, 30, 8960),
        "14B": (5120, 40, 13824),
        "5B": (3072, 30, 14336),
    }.get(params, (5120, 40, 13824))
    per_block = 8 * (dim + dim) + 2 * (dim + ffn)
    return per_block * layers * rank * 2


# what a probe report holds, in the order the script fills it
SECTIONS = (
    "python",
    "platform",
    "env",
    "versions",
    "tensorboard",
    "accelerate",
    "musubi",
    "tokenizers",
    "disk",
    "shm",
    "torch",
    "bitsandbytes",
    "attention",
    "nvidia_smi",
)


def unknown_sections(data: dict[str, Any]) -> set[str]:
    """Sections that failed (``{"probe_error": ...}``) or, in a report the probe cut short
    or that failed part-way, are absent."""
    out = {k for k, v in data.items() if isinstance(v, dict) and "probe_error" in v}
    if data.get("partial") or data.get("probe_error"):
        out |= {k for k in SECTIONS if k not in data}
    return out


def probe_findings(
    data: dict[str, Any],
    *,
    project: Project | None = None,
    checkout: str | None = None,
    dit: ModelInfo | None = None,
) -> list[Finding]:
    """Findings from a probe report; ``project`` adds the checks that depend on the flags."""
    out: list[Finding] = []
    train = _args(project, "train")
    launcher, launch_args = _launch(project)
    plat = data.get("platform") or {}
    windows = bool(plat.get("windows"))
    torch = data.get("torch") or {}
    versions = data.get("versions") or {}
    pip = _pip(data)

    # sections the probe could not fill (a part that raised, or a report cut short by the
    # time budget) say nothing: no finding may be drawn from their absence
    unknown = unknown_sections(data)

    # -- torch and CUDA ------------------------------------------------------------------
    if "torch" in unknown:
        pass
    elif torch.get("timed_out"):
        # the watchdog reported while `import torch` still ran: slow or hung, not missing
        out.append(
            _f(
                "probe-torch-slow",
                "module-not-installed",
                Severity.WARNING,
                "import torch did not finish within the probe's time budget",
                f"The pipeline's Python was still importing torch after {data.get('elapsed_s')} s"
                " (a hung CUDA driver, a network filesystem, or a very busy machine); the"
                " pipeline's steps would stall the same way. GPU checks were not made.",
                advice=[
                    "Run `wantui doctor --probe-timeout 60` if the machine is only slow.",
                    "Time `python -c 'import torch'` with that interpreter.",
                ],
                priority=70,
            )
        )
    elif not torch.get("installed") or torch.get("error"):
        err = torch.get("error") or "not installed"
        if windows and ("DLL load failed" in err or "WinError 126" in err or "WinError 127" in err):
            out.append(
                _f(
                    "probe-torch-dll",
                    "windows-dll-load",
                    Severity.ERROR,
                    "torch cannot load its DLLs",
                    f"import torch fails in the pipeline's Python: {err}",
                    advice=[
                        "Reinstall torch for your CUDA driver (see pytorch.org) in the musubi-tuner venv.",
                        "Install the Microsoft Visual C++ Redistributable (x64).",
                    ],
                    priority=95,
                )
            )
        else:
            out.append(
                _f(
                    "probe-torch-missing",
                    "module-not-installed",
                    Severity.ERROR,
                    "torch is not importable in the pipeline's Python",
                    f"import torch: {err}",
                    advice=[
                        f"{pip} torch torchvision --index-url https://download.pytorch.org/whl/cu128"
                    ],
                    priority=95,
                )
            )
    elif not torch.get("cuda_available"):
        if not torch.get("cuda_build"):
            msg = (
                f"torch {torch.get('version')} is a CPU-only build: every Wan script dies at import"
                " with 'Torch not compiled with CUDA enabled' (the T5 module calls"
                " torch.cuda.current_device() when imported)."
            )
            advice = [
                f"{pip} --force-reinstall torch torchvision --index-url https://download.pytorch.org/whl/cu128"
            ]
        else:
            msg = (
                f"torch {torch.get('version')} (CUDA {torch.get('cuda_build')}) sees no GPU"
                + (f" ({torch['cuda_error']})" if torch.get("cuda_error") else "")
                + ": every Wan script dies at import with 'Found no NVIDIA driver on your system'."
            )
            advice = [
                "Check `nvidia-smi`; install or update the NVIDIA driver.",
                "Check CUDA_VISIBLE_DEVICES is not empty or wrong.",
            ]
        out.append(
            _f(
                "probe-no-cuda",
                "no-cuda",
                Severity.ERROR,
                "No usable CUDA GPU for torch",
                msg,
                advice=advice,
                priority=95,
            )
        )

    # -- musubi-tuner itself and its dependencies ----------------------------------------
    mus = data.get("musubi") or {}
    if "musubi" in unknown:
        pass
    elif not mus.get("found"):
        where = f" in {checkout}" if checkout else " in the musubi-tuner checkout"
        out.append(
            _f(
                "probe-musubi-missing",
                "module-not-installed",
                Severity.ERROR,
                "musubi_tuner is not installed in the pipeline's Python",
                "Every step would fail with \"ModuleNotFoundError: No module named 'musubi_tuner'\".",
                advice=[f"Run `{pip} -e .`{where} (install torch first)."],
                priority=92,
            )
        )
    else:
        missing = [] if "versions" in unknown else [d for d in REQUIRED if not versions.get(d)]
        if not any(versions.get(d) for d in OPENCV) and any(d in versions for d in OPENCV):
            missing.append("opencv-python")
        if missing:
            out.append(
                _f(
                    "probe-deps-missing",
                    "module-not-installed",
                    Severity.ERROR,
                    "musubi-tuner's dependencies are incomplete",
                    f"Not installed in the pipeline's Python: {', '.join(missing)}.",
                    advice=[f"Run `{pip} -e .` in the musubi-tuner checkout to install them."],
                    priority=85,
                )
            )
        if checkout and mus.get("matches_checkout") is False:
            kind = (
                "an editable install of another folder"
                if mus.get("editable")
                else "a non-editable (copied) install"
            )
            out.append(
                _f(
                    "probe-stale-install",
                    "stale-install",
                    Severity.WARNING,
                    "musubi_tuner is imported from somewhere else than the checkout",
                    f"The pipeline's Python imports musubi_tuner from {mus.get('location')} ({kind}),"
                    f" not from {mus.get('expected_location')}: changes and updates in the checkout are"
                    " not what runs, and newer scripts can fail with 'ImportError: cannot import name'.",
                    advice=[f"Run `{pip} -e .` in {checkout}."],
                    priority=70,
                )
            )

    # -- attention backends --------------------------------------------------------------
    att = data.get("attention") or {}
    for flag, (module, nameerror) in ATTENTION.items():
        if not has_flag(train, flag):
            continue
        info = att.get(module) or {}
        if info.get("importable") is False:
            why = f" ({info['error']})" if info.get("error") else ""
            out.append(
                _f(
                    "probe-attention-missing",
                    "attention-backend-missing",
                    Severity.ERROR,
                    f"{flag} is set but {module} does not import",
                    f"{module} is not importable in the pipeline's Python{why}. Training would fail at"
                    f" the first step, after all the loading, with 'NameError: {nameerror}'.",
                    steps=("train",),
                    fixes=[
                        FixAction(
                            "flag_replace",
                            {"step": "train", "flag": flag, "new_flag": "--sdpa"},
                            label=f"Use --sdpa instead of {flag}",
                        )
                    ],
                    advice=[f"Or install {module} into the pipeline's Python."],
                    priority=80,
                    captures={"flag": flag, "module": module},
                )
            )
    if has_flag(train, "--xformers") and (att.get("xformers") or {}).get("importable"):
        caps = [g.get("capability", "0.0") for g in torch.get("gpus") or []]
        xv = (att.get("xformers") or {}).get("version") or versions.get("xformers") or ""
        if any(_cap(c) >= 10.0 for c in caps):
            out.append(
                _f(
                    "probe-xformers-gpu",
                    "xformers-invalid-argument",
                    Severity.WARNING,
                    "xformers on a GPU generation it may not support",
                    f"xformers {xv} with compute capability {', '.join(caps)}: xformers builds lag new"
                    " GPUs and fail with 'CUDA error (flash-attention): invalid argument'.",
                    steps=("train",),
                    fixes=[
                        FixAction(
                            "flag_replace",
                            {"step": "train", "flag": "--xformers", "new_flag": "--sdpa"},
                            label="Use --sdpa instead of --xformers",
                        )
                    ],
                    priority=40,
                )
            )

    # -- bitsandbytes for 8-bit optimizers -------------------------------------------------
    opt = (flag_value(train, "--optimizer_type") or "").lower()
    if "8bit" in opt or "bitsandbytes" in opt:
        bnb = data.get("bitsandbytes") or {}
        if bnb.get("importable") is False or bnb.get("cuda_ok") is False:
            why = bnb.get("error") or bnb.get("cuda_error") or "not importable"
            out.append(
                _f(
                    "probe-bnb",
                    "bitsandbytes-missing",
                    Severity.ERROR,
                    f"--optimizer_type {flag_value(train, '--optimizer_type')} needs a working bitsandbytes",
                    f"bitsandbytes in the pipeline's Python: {why}. Training would stop with"
                    " 'ImportError: No bitsandbytes' after loading the model.",
                    steps=("train",),
                    fixes=[
                        FixAction(
                            "flag_set",
                            {"step": "train", "flag": "--optimizer_type", "value": "adamw"},
                            label="Use the plain AdamW optimizer (more VRAM)",
                        )
                    ],
                    advice=[f"Or: {pip} -U bitsandbytes"],
                    priority=75,
                )
            )

    # -- tensorboard --------------------------------------------------------------------------
    log_with = flag_value(train, "--log_with")
    if has_flag(train, "--logging_dir") and log_with in (None, "tensorboard", "all"):
        if "tensorboard" not in unknown and not (data.get("tensorboard") or {}).get("importable"):
            out.append(
                _f(
                    "probe-tensorboard",
                    "tensorboard-missing",
                    Severity.WARNING,
                    "--logging_dir is set but tensorboard is not installed",
                    "musubi-tuner does not install tensorboard; with --logging_dir and no tensorboard"
                    " no logs are written, silently. (wantui's own loss plot does not need it.)",
                    steps=("train",),
                    advice=[f"{pip} tensorboard"],
                    priority=30,
                )
            )

    # -- tokenizers ----------------------------------------------------------------------------
    tok = data.get("tokenizers") or {}
    offline = bool(tok.get("offline"))
    needs_t5 = bool(_args(project, "te")) or has_flag(train, "--sample_prompts") or project is None
    if "tokenizers" not in unknown and needs_t5 and not (tok.get("t5") or {}).get("cached"):
        t5 = tok.get("t5") or {}
        if offline:
            out.append(
                _f(
                    "probe-tokenizer-offline",
                    "tokenizer-load-failure",
                    Severity.ERROR,
                    "The umt5 tokenizer is not cached and the hub is set offline",
                    f"HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE is set and {t5.get('repo')}/{t5.get('subfolder')}"
                    f" is not in {t5.get('hub_cache')}: text-encoder caching will fail with"
                    " \"We couldn't connect to 'https://huggingface.co' to load the files\".",
                    steps=("te", "train"),
                    fixes=[
                        FixAction(
                            "env_set",
                            {"step": "te", "name": "HF_HUB_OFFLINE", "value": "0"},
                            label="Allow the hub for the text-encoder step",
                        )
                    ],
                    advice=[
                        "Fetch it once online: huggingface-cli download Wan-AI/Wan2.1-T2V-14B"
                        " --include 'google/umt5-xxl/*'"
                    ],
                    priority=70,
                )
            )
        else:
            out.append(
                _f(
                    "probe-tokenizer-download",
                    "tokenizer-load-failure",
                    Severity.INFO,
                    "The umt5 tokenizer will be downloaded on first use",
                    f"{t5.get('repo')}/{t5.get('subfolder')} is not in the HF cache yet; the"
                    " text-encoder step needs network access to huggingface.co once.",
                    steps=("te",),
                    priority=10,
                )
            )

    # -- accelerate and multi-GPU ----------------------------------------------------------
    acc = data.get("accelerate") or {}
    cfg = acc.get("config") or {}
    ngpu = int(torch.get("device_count") or 0)
    if launcher == "accelerate" and "accelerate" not in unknown:
        nproc = int_flag(launch_args, "--num_processes")
        multi = has_flag(launch_args, "--multi_gpu") or (nproc or 0) > 1
        if nproc is None and not has_flag(launch_args, "--multi_gpu"):
            if acc.get("config_exists"):
                multi = _int(cfg.get("num_processes")) > 1 or "MULTI" in str(
                    cfg.get("distributed_type", "")
                )
            else:
                multi = ngpu > 1  # accelerate picks multi-GPU by itself without a config
        if windows and multi:
            out.append(
                _f(
                    "probe-windows-libuv",
                    "windows-libuv",
                    Severity.ERROR,
                    "Multi-GPU training on Windows",
                    "On Windows, accelerate's multi-process launch fails with 'use_libuv was requested"
                    " but PyTorch was built without libuv support'"
                    + (
                        ""
                        if acc.get("config_exists")
                        else f" (no accelerate config and {ngpu} GPUs: accelerate switches to multi-GPU by itself)"
                    )
                    + ".",
                    steps=("train",),
                    fixes=[
                        FixAction(
                            "flag_set",
                            {"step": "launch", "flag": "--num_processes", "value": "1"},
                            label="Launch one process",
                        ),
                        FixAction(
                            "env_set",
                            {"step": "train", "name": "USE_LIBUV", "value": "0"},
                            label="Set USE_LIBUV=0 for training",
                        ),
                    ],
                    advice=["For real multi-GPU training use Linux or WSL2."],
                    priority=80,
                )
            )
        if acc.get("config_exists"):
            problems = []
            if str(cfg.get("use_cpu", "")).lower() == "true":
                problems.append(
                    "use_cpu: true (training would run on the CPU or fail with"
                    " 'fp16 mixed precision requires a GPU')"
                )
            ids = [
                s.strip()
                for s in str(cfg.get("gpu_ids", "")).split(",")
                if s.strip() not in ("", "all")
            ]
            bad_ids = (
                [i for i in ids if i.isdigit() and int(i) >= ngpu]
                if torch.get("cuda_available")
                else []
            )
            if bad_ids:
                problems.append(f"gpu_ids {','.join(bad_ids)} do not exist ({ngpu} GPU(s) visible)")
            if (
                nproc is None
                and torch.get("cuda_available")
                and _int(cfg.get("num_processes")) > max(ngpu, 1)
            ):
                problems.append(
                    f"num_processes {cfg.get('num_processes')} but {ngpu} GPU(s) visible"
                )
            if problems:
                out.append(
                    _f(
                        "probe-accelerate-config",
                        "accelerate-gpu-config",
                        Severity.ERROR,
                        "accelerate's config does not fit this machine",
                        f"{acc.get('config_file')}: " + "; ".join(problems) + ".",
                        steps=("train",),
                        fixes=[
                            FixAction(
                                "flag_set",
                                {"step": "launch", "flag": "--num_processes", "value": "1"},
                                label="Launch one process on GPU 0",
                            ),
                            FixAction(
                                "flag_set",
                                {"step": "launch", "flag": "--gpu_ids", "value": "0"},
                                label="Use GPU 0",
                            ),
                        ],
                        advice=[
                            "Or run `accelerate config` again (this machine, no distributed training)."
                        ],
                        priority=65,
                    )
                )
        elif not has_flag(launch_args, "--num_processes"):
            out.append(
                _f(
                    "probe-accelerate-defaults",
                    "accelerate-defaults",
                    Severity.INFO,
                    "No accelerate config: accelerate will pick defaults",
                    f"{acc.get('config_file')} does not exist and the launch line does not say"
                    " --num_processes; accelerate warns and uses defaults"
                    + (f" (multi-GPU with {ngpu} GPUs)" if ngpu > 1 else "")
                    + ".",
                    steps=("train",),
                    fixes=[
                        FixAction(
                            "flag_add",
                            {"step": "launch", "flag": "--num_processes", "value": "1"},
                            label="Pass --num_processes 1 explicitly",
                        )
                    ],
                    priority=5,
                )
            )

    # -- shared memory for DataLoader workers ------------------------------------------------
    shm = data.get("shm") or {}
    workers = int_flag(train, "--max_data_loader_n_workers", 8) if train else 0
    if shm.get("exists") and shm.get("total_bytes") is not None and workers:
        if shm["total_bytes"] < 1 * GiB:
            out.append(
                _f(
                    "probe-shm",
                    "dataloader-shm",
                    Severity.WARNING,
                    f"/dev/shm is only {_gib(shm['total_bytes'])} for {workers} DataLoader workers",
                    "DataLoader workers pass batches through /dev/shm; a small one (Docker's default is"
                    " 64 MB) kills them with 'Bus error' / insufficient shared memory.",
                    steps=("train",),
                    fixes=[
                        FixAction(
                            "flag_set",
                            {"step": "train", "flag": "--max_data_loader_n_workers", "value": "0"},
                            label="Load data in the main process",
                        )
                    ],
                    advice=["Or start the container with --shm-size=16g (or --ipc=host)."],
                    priority=50,
                )
            )

    # -- disk space ------------------------------------------------------------------------------
    out.extend(_disk_findings(data, train, dit))

    # -- VRAM ------------------------------------------------------------------------------------
    if dit is not None:
        out.extend(_oom_findings(data, train, dit))
    return out


def _cap(c: str) -> float:
    try:
        return float(c)
    except (TypeError, ValueError):
        return 0.0


def _int(v: Any) -> int:
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return 0


def _disk_findings(data: dict[str, Any], train: list[str], dit: ModelInfo | None) -> list[Finding]:
    out: list[Finding] = []
    output_dir = flag_value(train, "--output_dir")
    params = (
        dit.details.get("params", "14B") if dit is not None and dit.kind == "wan-dit" else "14B"
    )
    rank = int_flag(train, "--network_dim", 4) or 4
    per_save = lora_bytes(params if params in PARAMS else "14B", rank)
    for entry in data.get("disk") or []:
        free = entry.get("free_bytes")
        if free is None:
            continue
        is_output = output_dir is not None and str(entry.get("path")) in (
            output_dir,
            str(output_dir),
        )
        # output: a few checkpoints plus state; caches: latents and T5 outputs (~1-4 MB each)
        need = max(3 * per_save, 2 * GiB) if is_output else 2 * GiB
        if free < need:
            sev = Severity.ERROR if free < 512 * 1024**2 else Severity.WARNING
            what = "the output folder" if is_output else "this folder"
            out.append(
                _f(
                    "probe-disk",
                    "disk-full",
                    sev,
                    f"Low disk space at {entry.get('path')}",
                    f"{_gib(free)} free at {entry.get('measured_at')} for {what}; the run needs about"
                    f" {_gib(need)} ({'LoRA checkpoints of ' + _gib(per_save) + ' each' if is_output else 'cache files'})."
                    " It would fail with 'No space left on device'.",
                    advice=["Free space there, or point the folder at a larger disk."],
                    priority=55,
                    captures={"path": str(entry.get("path"))},
                )
            )
    return out


def _oom_findings(data: dict[str, Any], train: list[str], dit: ModelInfo) -> list[Finding]:
    """A rough VRAM budget: DiT weights resident on the GPU plus working memory."""
    torch = data.get("torch") or {}
    gpus = torch.get("gpus") or []
    if not gpus or dit.kind != "wan-dit" or dit.details.get("params") not in PARAMS:
        return []
    params = dit.details["params"]
    vram = min(int(g.get("total_bytes") or 0) for g in gpus)
    # an fp8 file without --fp8_base is up-cast on load: only the flag keeps 1 byte/weight
    fp8 = has_flag(train, "--fp8_base")
    bytes_per = 1 if fp8 else 2
    weights = PARAMS[params] * bytes_per
    swap = int_flag(train, "--blocks_to_swap", 0) or 0
    blocks = BLOCKS[params]
    resident = weights * (1 - min(swap, blocks - 1) / blocks * 0.95)
    if has_flag(train, "--dit_high_noise") and not has_flag(train, "--offload_inactive_dit"):
        resident *= 2  # both experts stay in VRAM
    work = (3 if has_flag(train, "--gradient_checkpointing") else 12) * GiB
    need = resident + work
    if need <= vram:
        return []
    fixes: list[FixAction] = []
    if not has_flag(train, "--gradient_checkpointing"):
        fixes.append(
            FixAction(
                "flag_add",
                {"step": "train", "flag": "--gradient_checkpointing"},
                label="Add --gradient_checkpointing",
            )
        )
    if not fp8:
        fixes.append(
            FixAction(
                "flag_add",
                {"step": "train", "flag": "--fp8_base"},
                label="Store the DiT in fp8 (--fp8_base)",
            )
        )
    per_block = weights / blocks
    want = min(blocks - 1, int((need - vram) / per_block) + 2 + swap)
    if want > swap and not has_flag(train, "--offload_inactive_dit"):
        fixes.append(
            FixAction(
                "flag_set",
                {"step": "train", "flag": "--blocks_to_swap", "value": str(want)},
                label=f"Swap {want} blocks to the CPU",
            )
        )
    return [
        _f(
            "probe-vram",
            "cuda-oom",
            Severity.WARNING,
            f"The {params} DiT likely does not fit in {_gib(vram)} of VRAM",
            f"Estimated {_gib(need)} needed ({_gib(resident)} of DiT weights on the GPU"
            f"{' for both experts' if has_flag(train, '--dit_high_noise') and not has_flag(train, '--offload_inactive_dit') else ''}"
            f" + ~{_gib(work)} working memory) on a {gpus[0].get('name')} with {_gib(vram)}:"
            " expect 'CUDA out of memory'. This is an estimate; resolution, frames and batch size matter.",
            steps=("train",),
            fixes=fixes,
            priority=45,
        )
    ]
