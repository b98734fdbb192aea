"""Probe checks of the Python packages: musubi-tuner and its dependencies, bitsandbytes,
tensorboard, tokenizers."""

from __future__ import annotations

from wantui.core.args.options import project_view
from wantui.core.finding import Finding
from wantui.core.findings import emit
from wantui.core.fixactions import FixAction
from wantui.core.probe.context import (
    OPENCV,
    REQUIRED,
    ProbeContext,
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
        out.append(emit("probe-musubi-missing", origin="probe", text={"pip": pip, "where": where}))
    else:
        missing = [] if "versions" in unknown else [d for d in REQUIRED if not versions.get(d)]
        if not any(versions.get(d) for d in OPENCV) and any(d in versions for d in OPENCV):
            missing.append("opencv-python")
        if missing:
            out.append(
                emit(
                    "probe-deps-missing",
                    origin="probe",
                    text={"missing": ", ".join(missing), "pip": pip},
                )
            )
        if checkout and mus.get("matches_checkout") is False:
            kind = (
                "an editable install of another folder"
                if mus.get("editable")
                else "a non-editable (copied) install"
            )
            out.append(
                emit(
                    "probe-stale-install",
                    origin="probe",
                    text={
                        "location": str(mus.get("location")),
                        "kind": kind,
                        "expected": str(mus.get("expected_location")),
                        "pip": pip,
                        "checkout": checkout,
                    },
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
                emit(
                    "probe-bnb",
                    origin="probe",
                    text={"optimizer": str(train.get("--optimizer_type")), "why": why, "pip": pip},
                    fixes=[
                        FixAction(
                            "flag_set",
                            {"step": "train", "flag": "--optimizer_type", "value": "adamw"},
                            label="Use the plain AdamW optimizer (more VRAM)",
                        )
                    ],
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
            out.append(emit("probe-tensorboard", origin="probe", text={"pip": pip}))

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
                emit(
                    "probe-tokenizer-offline",
                    origin="probe",
                    text={
                        "repo": str(t5.get("repo")),
                        "subfolder": str(t5.get("subfolder")),
                        "hub_cache": str(t5.get("hub_cache")),
                    },
                    fixes=[
                        FixAction(
                            "env_set",
                            {"step": "te", "name": "HF_HUB_OFFLINE", "value": "0"},
                            label="Allow the hub for the text-encoder step",
                        )
                    ],
                )
            )
        else:
            out.append(
                emit(
                    "probe-tokenizer-download",
                    origin="probe",
                    text={"repo": str(t5.get("repo")), "subfolder": str(t5.get("subfolder"))},
                )
            )

    return out
