"""The failure catalog's ids: the stable vocabulary between rules, checks, tests and users.

Every id of docs/reference/failure-catalog.md (its tables: steps, how to predict the failure
before launch) is here (tests/test_references.py); ids added since live only here. Add ids
freely (kebab-case), never rename one.
``before_launch`` says whether a preflight check can predict the failure ("none"/"n/a" = no).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    area: str
    steps: tuple[str, ...]
    before_launch: str


CATALOG: dict[str, CatalogEntry] = {
    e.id: e
    for e in [
        CatalogEntry(
            "toml-extra-key", "Dataset config (TOML)", ("any",), "schema check of the TOML"
        ),
        CatalogEntry("toml-invalid-value", "Dataset config (TOML)", ("any",), "schema check"),
        CatalogEntry("toml-parse-error", "Dataset config (TOML)", ("any",), "parse the TOML"),
        CatalogEntry("dataset-config-not-found", "Dataset config (TOML)", ("any",), "path check"),
        CatalogEntry("dataset-no-source", "Dataset config (TOML)", ("any",), "schema check"),
        CatalogEntry("dataset-cache-dir-shared", "Dataset config (TOML)", ("any",), "schema check"),
        CatalogEntry(
            "dataset-empty",
            "Dataset config (TOML)",
            ("latents", "te"),
            "scan the directory (extensions, path from cwd)",
        ),
        CatalogEntry(
            "caption-missing",
            "Dataset config (TOML)",
            ("latents", "te"),
            "scan: every media file has a caption",
        ),
        CatalogEntry(
            "target-frames-rounded",
            "Dataset config (TOML)",
            ("latents",),
            "check 4N+1 and clip lengths",
        ),
        CatalogEntry(
            "frame-extraction-invalid", "Dataset config (TOML)", ("latents",), "schema check"
        ),
        CatalogEntry(
            "cache-missing",
            "Dataset config (TOML)",
            ("train",),
            "count cache files per dataset for the chosen TOML",
        ),
        CatalogEntry(
            "cache-deleted",
            "Dataset config (TOML)",
            ("latents", "te"),
            "cache files no current item maps to are deleted unless --keep_cache",
        ),
        CatalogEntry("unknown-argument", "Arguments", ("any",), "argument catalog per script"),
        CatalogEntry("missing-required-argument", "Arguments", ("any",), "argument catalog"),
        CatalogEntry(
            "invalid-argument-value", "Arguments", ("any",), "argument catalog with types"
        ),
        CatalogEntry("missing-attention-flag", "Arguments", ("train",), "argument check"),
        CatalogEntry(
            "attention-backend-missing",
            "Arguments",
            ("train",),
            "probe: is the library importable in the pipeline's interpreter",
        ),
        CatalogEntry(
            "xformers-invalid-argument", "Arguments", ("train",), "probe: GPU + xformers version"
        ),
        CatalogEntry(
            "missing-optimizer", "Arguments", ("train",), "argument check (the default is empty)"
        ),
        CatalogEntry("unknown-optimizer", "Arguments", ("train",), "argument check"),
        CatalogEntry(
            "bitsandbytes-missing", "Arguments", ("train",), "probe: import bitsandbytes with CUDA"
        ),
        CatalogEntry(
            "precision-mismatch",
            "Arguments",
            ("train",),
            "DiT dtype from the safetensors header vs the script's `--mixed_precision`",
        ),
        CatalogEntry(
            "timestep-boundary-missing",
            "Arguments",
            ("train",),
            "`--dit_high_noise` with a Wan2.1 task",
        ),
        CatalogEntry(
            "wan22-task-not-set",
            "Arguments",
            ("train",),
            "`--dit_high_noise` given, or the header says Wan2.2, with `--task` missing or a 2.1 task",
        ),
        CatalogEntry("fp8-scaled-on-fp8-weights", "Arguments", ("train",), "header dtype + flags"),
        CatalogEntry("blockswap-with-offload", "Arguments", ("train",), "flags + model size"),
        CatalogEntry("wrong-network-module", "Arguments", ("train",), "argument check"),
        CatalogEntry("output-name-missing", "Arguments", ("train",), "argument check"),
        CatalogEntry("output-dir-missing", "Arguments", ("train",), "argument check"),
        CatalogEntry(
            "wrong-t5-encoder",
            "Model files",
            ("te", "train"),
            "key layout of the file (HF/ComfyUI umt5 or another text encoder vs Wan layout)",
        ),
        CatalogEntry(
            "dit-task-mismatch",
            "Model files",
            ("train",),
            "header: in-channels, dim, layer count, i2v keys vs `--task`",
        ),
        CatalogEntry(
            "dit-wrong-file",
            "Model files",
            ("train",),
            "header: is this a Wan DiT at all, fp8_scaled (unsupported)",
        ),
        CatalogEntry(
            "vae-wrong-file", "Model files", ("latents", "train"), "header: z_dim and key set"
        ),
        CatalogEntry("wrong-clip-model", "Model files", ("latents", "train"), "header/key layout"),
        CatalogEntry(
            "i2v-cache-mismatch", "Model files", ("train",), "cache file keys vs `--task`"
        ),
        CatalogEntry(
            "corrupt-model-file",
            "Model files",
            ("any",),
            "parse the header; compare size with the hub's",
        ),
        CatalogEntry(
            "tokenizer-load-failure",
            "Model files",
            ("te", "train"),
            "probe: HF cache has the umt5 tokenizer; offline flags",
        ),
        CatalogEntry(
            "no-cuda",
            "Environment and runtime",
            ("any",),
            "probe: torch build and `cuda.is_available()`",
        ),
        CatalogEntry(
            "gpu-arch-unsupported",
            "Environment and runtime",
            ("any",),
            "probe: torch.cuda.get_arch_list() vs the compute capability of each GPU",
        ),
        CatalogEntry(
            "module-not-installed",
            "Environment and runtime",
            ("any",),
            "probe: import in the pipeline's interpreter",
        ),
        CatalogEntry(
            "stale-install",
            "Environment and runtime",
            ("any",),
            "probe: where `musubi_tuner` is imported from vs the checkout",
        ),
        CatalogEntry(
            "wrong-architecture-script",
            "Environment and runtime",
            ("any",),
            "the project builds argv from the `wan_*` scripts",
        ),
        CatalogEntry("script-not-found", "Environment and runtime", ("any",), "path check"),
        CatalogEntry(
            "windows-libuv",
            "Environment and runtime",
            ("train",),
            "Windows + more than one process (or no accelerate config on a multi-GPU box)",
        ),
        CatalogEntry("windows-dll-load", "Environment and runtime", ("any",), "probe"),
        CatalogEntry(
            "accelerate-defaults",
            "Environment and runtime",
            ("train",),
            "accelerate config present?",
        ),
        CatalogEntry(
            "accelerate-gpu-config",
            "Environment and runtime",
            ("train",),
            "read the accelerate config",
        ),
        CatalogEntry(
            "cuda-oom",
            "Environment and runtime",
            ("any",),
            "VRAM from the probe vs model size, resolution, frames, fp8, block swap",
        ),
        CatalogEntry(
            "dtype-mismatch-runtime", "Environment and runtime", ("train",), "flags vs header"
        ),
        CatalogEntry("nan-loss", "Environment and runtime", ("train",), "none"),
        CatalogEntry(
            "tensorboard-missing",
            "Environment and runtime",
            ("train",),
            "probe: tensorboard importable",
        ),
        CatalogEntry(
            "disk-full",
            "Environment and runtime",
            ("any",),
            "free space at cache and output dirs vs what the run will write",
        ),
        CatalogEntry(
            "dataloader-shm", "Environment and runtime", ("train",), "probe `/dev/shm` size"
        ),
        # Added by wantui (not in the original catalog): the kernel's OOM killer or a
        # container memory limit ends a step with SIGKILL and no Python traceback.
        CatalogEntry(
            "host-oom",
            "Environment and runtime",
            ("any",),
            "probe: system RAM and the container's memory limit vs the model sizes",
        ),
        # failures of any architecture that no input rule explains.
        CatalogEntry("musubi-code-error", "Environment and runtime", ("any",), "none"),
        CatalogEntry(
            "model-file-not-found",
            "Model files",
            ("any",),
            "path check of every model option",
        ),
        CatalogEntry(
            "path-invisible-character",
            "Arguments",
            ("any",),
            "scan paths in the commands and the dataset TOML",
        ),
        CatalogEntry(
            "media-not-decodable",
            "Dataset media",
            ("latents",),
            "read each media file's header (container magic, MP4 moov box, image format)",
        ),
        CatalogEntry(
            "file-encoding-error",
            "Dataset config (TOML)",
            ("any",),
            "decode captions, TOML and prompt file as UTF-8",
        ),
        CatalogEntry(
            "fp8-unsupported-gpu",
            "Environment and runtime",
            ("train",),
            "none yet (compute capability 8.9+ for fp8 kernels, --compile)",
        ),
        # a step ended by a signal (SIGKILL) with no traceback and
        # no evidence of who sent it; host-oom only when the kernel or the cgroup says so.
        CatalogEntry("process-killed", "Environment and runtime", ("any",), "n/a"),
        CatalogEntry("wrapper-failure-unknown", "Environment and runtime", ("any",), "n/a"),
        # the run measured against `wantui plan`'s s/step.
        CatalogEntry("plan-mismatch", "Environment and runtime", ("train",), "n/a"),
    ]
}


def is_known(catalog_id: str) -> bool:
    return catalog_id in CATALOG
