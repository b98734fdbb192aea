"""Files musubi-tuner reads late, read now: ``--resume``, ``--sample_prompts``,
``--network_weights`` (the semantic map's ``opens``/``decodes_*``/``loads_safetensors`` uses).

- ``--resume DIR`` goes to ``accelerator.load_state`` (trainer_base.py:437) after the DiT
  has loaded: the folder must exist and hold a saved state (the optimizer and a model).
- ``--sample_prompts`` is read by ``load_prompts`` (sampling_prompts.py:104-115) at the
  first sampling: ``.txt`` lines, a ``.toml`` with ``[prompt]`` and ``[[prompt.subset]]``,
  or a ``.json`` list; any other suffix leaves ``prompts`` unbound (``UnboundLocalError``).
- ``--network_weights`` is loaded into a network built with ``--network_dim`` (default 4,
  networks/lora.py:416) by ``network.load_weights`` (trainer_base.py:1605): a LoRA of
  another rank raises ``size mismatch``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from wantui.core.args.state import ArgState, StepFindings

MAX_PROMPT_BYTES = 4_000_000  # a prompt file is a few kB; a huge one is not read here
STATE_MODEL_FILES = ("model.safetensors", "pytorch_model.bin", "model_0.safetensors")


def _path(cwd: Path, value: str) -> Path:
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else cwd / p


def check_inputs(state: ArgState, cwd: Path, out: StepFindings) -> None:
    if state.step != "train":
        return
    if state.get("--resume"):
        _resume(state.get("--resume") or "", cwd, out)
    if state.get("--sample_prompts"):
        _prompts(state.get("--sample_prompts") or "", cwd, out)
    if state.get("--network_weights"):
        _weights(state, cwd, out)
    out_dir = state.get("--output_dir")
    if out_dir and _path(cwd, out_dir).is_file():
        out.emit(
            "output-dir-is-file",
            captures={"flag": "--output_dir", "path": str(_path(cwd, out_dir))},
            text={"value": out_dir},
        )
    dim = state.int("--network_dim")
    if dim is not None and dim <= 0:
        out.emit("network-dim-not-positive", captures={"flag": "--network_dim", "value": str(dim)})


def _resume(value: str, cwd: Path, out: StepFindings) -> None:
    path = _path(cwd, value)
    why = None
    if not path.exists():
        why = "does not exist"
    elif not path.is_dir():
        why = "is a file; --resume takes the state folder saved with --save_state"
    else:
        try:
            names = set(os.listdir(path)[:1000])
        except OSError as exc:
            names, why = set(), f"cannot be read ({exc.strerror})"
        if why is None and not ("optimizer.bin" in names and names & set(STATE_MODEL_FILES)):
            why = "holds no saved state (no optimizer.bin and model file)"
    if why is not None:
        out.emit(
            "resume-state-missing",
            captures={"flag": "--resume", "path": str(path)},
            text={"value": value, "why": why, "short": why.split(";")[0]},
        )


def _prompts(value: str, cwd: Path, out: StepFindings) -> None:
    path = _path(cwd, value)
    if not path.is_file():
        return  # check_files reports a missing file
    suffix = path.suffix.lower()
    problem = None
    if suffix not in (".txt", ".toml", ".json"):
        problem = (
            f"ends in `{suffix or '(nothing)'}`: musubi-tuner reads only .txt, .toml and .json "
            "prompt files and fails on any other with `UnboundLocalError`"
        )
    elif suffix != ".txt":
        try:
            if path.stat().st_size > MAX_PROMPT_BYTES:
                return
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return  # unreadable / not UTF-8: check_files says so
        if suffix == ".json":
            try:
                data = json.loads(text)
                if not isinstance(data, list):
                    problem = "is JSON but not a list of prompts"
            except json.JSONDecodeError as exc:
                problem = f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        else:
            import tomlkit
            from tomlkit.exceptions import TOMLKitError

            try:
                data = tomlkit.parse(text).unwrap()
                p = data.get("prompt")
                if not (isinstance(p, dict) and isinstance(p.get("subset"), list)):
                    problem = "has no `[prompt]` table with `[[prompt.subset]]` entries"
            except TOMLKitError as exc:
                problem = f"is not valid TOML ({exc})"
    if problem is not None:
        out.emit(
            "sample-prompts-unreadable",
            captures={"flag": "--sample_prompts", "path": str(path)},
            text={"value": value, "problem": problem},
        )


def _weights(state: ArgState, cwd: Path, out: StepFindings) -> None:
    from wantui.core.models.headers import read_safetensors_header

    value = state.get("--network_weights") or ""
    path = _path(cwd, value)
    if not path.is_file() or path.suffix.lower() != ".safetensors":
        return
    try:
        header = read_safetensors_header(path)
    except Exception:  # noqa: BLE001 - a damaged header is the model-file checks' finding
        return
    ranks = {
        t.shape[0]
        for name, t in header.tensors.items()
        if name.endswith("lora_down.weight") and t.shape
    }
    if not ranks:
        return
    want = state.int("--network_dim", 4) or 4
    if ranks != {want}:
        have = ", ".join(str(r) for r in sorted(ranks))
        out.emit(
            "network-weights-rank-mismatch",
            captures={"flag": "--network_dim", "value": have},
            text={
                "weights": value,
                "want": want,
                "is": "is" if state.has("--network_dim") else "defaults to",
            },
        )
