"""Probe checks of the Python packages: musubi-tuner and its dependencies, bitsandbytes,
tensorboard, tokenizers."""

from __future__ import annotations

from wantui.core.args.options import project_view
from wantui.core.finding import Finding, Severity
from wantui.core.fixactions import FixAction
from wantui.core.probe.context import (
    OPENCV,
    REQUIRED,
    ProbeContext,
    probe_finding,
)


def musubi_findings(c: ProbeContext) -> list[Finding]:
    """musubi-tuner importable from the checkout, with its dependencies."""
    data = c.data
    checkout = c.checkout
    versions = c.versions
    pip = c.pip
    unknown = c.unknown
    out: list[Finding] = []
    mus = data.get("musubi") or {}
    if "musubi" in unknown:
        pass
    elif not mus.get("found"):
        where = f" in {checkout}" if checkout else " in the musubi-tuner checkout"
        out.append(
            probe_finding(
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
                probe_finding(
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
                probe_finding(
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

    return out


def bitsandbytes_findings(c: ProbeContext) -> list[Finding]:
    """bitsandbytes for the 8-bit optimizers."""
    data = c.data
    train = c.train
    pip = c.pip
    out: list[Finding] = []
    opt = (train.get("--optimizer_type") or "").lower()
    if "8bit" in opt or "bitsandbytes" in opt:
        bnb = data.get("bitsandbytes") or {}
        if bnb.get("importable") is False or bnb.get("cuda_ok") is False:
            why = bnb.get("error") or bnb.get("cuda_error") or "not importable"
            out.append(
                probe_finding(
                    "probe-bnb",
                    "bitsandbytes-missing",
                    Severity.ERROR,
                    f"--optimizer_type {train.get('--optimizer_type')} needs a working bitsandbytes",
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

    return out


def tensorboard_findings(c: ProbeContext) -> list[Finding]:
    """tensorboard for --log_with tensorboard."""
    data = c.data
    train = c.train
    pip = c.pip
    unknown = c.unknown
    out: list[Finding] = []
    log_with = train.get("--log_with")
    if train.has("--logging_dir") and log_with in (None, "tensorboard", "all"):
        if "tensorboard" not in unknown and not (data.get("tensorboard") or {}).get("importable"):
            out.append(
                probe_finding(
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

    return out


def tokenizer_findings(c: ProbeContext) -> list[Finding]:
    """The T5 tokenizer: cached, or reachable online."""
    data = c.data
    project = c.project
    train = c.train
    unknown = c.unknown
    out: list[Finding] = []
    tok = data.get("tokenizers") or {}
    offline = bool(tok.get("offline"))
    needs_t5 = bool(project_view(project, "te")) or train.has("--sample_prompts") or project is None
    if "tokenizers" not in unknown and needs_t5 and not (tok.get("t5") or {}).get("cached"):
        t5 = tok.get("t5") or {}
        if offline:
            out.append(
                probe_finding(
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
                probe_finding(
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

    return out
