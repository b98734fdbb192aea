"""Write a checkout that looks like musubi-tuner's to wantui's source reader: parser files
in musubi's style (``setup_parser_common``, ``wan_setup_parser``, ``_add_*_args`` helpers,
``config_utils.py``'s voluptuous tables), generated from wantui's bundled catalog plus
whatever a test adds. No musubi-tuner code is copied; the options are data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wantui.core.args.catalog import _raw
from wantui.core.dataset.schema import ASCENDABLE, IMAGE_ONLY, VIDEO_ONLY

LOG_GRAD_METRICS = {
    "names": ["--log_grad_metrics"],
    "type": "flag",
    "required": False,
    "default": False,
    "nargs": None,
    "choices": None,
    "help": "log gradient norm metrics",
}


def _call(o: dict[str, Any]) -> str:
    args = ", ".join(json.dumps(n) for n in o["names"])
    kw: list[str] = []
    if o["type"] == "flag":
        kw.append('action="store_true"')
    elif o["type"] in ("int", "float"):
        kw.append(f"type={o['type']}")
    if o.get("required"):
        kw.append("required=True")
    if o.get("nargs") not in (None, 0):
        kw.append(f"nargs={o['nargs']!r}")
    if o.get("choices"):
        kw.append(f"choices={list(o['choices'])!r}")
    if o["type"] != "flag" and o.get("default") is not None:
        kw.append(f"default={o['default']!r}")
    kw.append(f"help={o.get('help', '')!r}")
    return f"    parser.add_argument({args}, {', '.join(kw)})\n"


def _module(functions: dict[str, list[dict[str, Any]]], common: bool = False) -> str:
    text = "import argparse\n\n\n"
    for name, opts in functions.items():
        if name == "setup_parser_common":
            text += f"def {name}():\n    parser = argparse.ArgumentParser()\n"
        else:
            text += f"def {name}(parser):\n"
        text += "".join(_call(o) for o in opts) or "    pass\n"
        text += "    return parser\n\n\n"
    return text


def write_checkout(
    root: Path,
    *,
    extra_train: list[dict[str, Any]] | None = None,
    extra_dataset: list[str] | None = None,
    commit: str | None = "30c658c4f4b0bf05038b3346eff9670259b10fc7",
    layout: str = "repo",
    version: str | None = None,
) -> Path:
    """A checkout at ``root`` (``layout="repo"``: ``src/musubi_tuner``; ``"package"``: the
    package folder itself, as pip installs it). Returns the package folder."""
    raw = _raw()["scripts"]
    pkg = root / "src" / "musubi_tuner" if layout == "repo" else root
    (pkg / "training").mkdir(parents=True, exist_ok=True)
    (pkg / "dataset").mkdir(exist_ok=True)
    for step in ("latents", "te"):
        base = "cache_latents.py" if step == "latents" else "cache_text_encoder_outputs.py"
        wan = "wan_" + base
        opts = raw[wan]
        # the first options are the shared ones in musubi's layout; the reader only needs
        # both files, so the split point does not matter
        (pkg / base).write_text(
            _module({"setup_parser_common": opts[:3], "hv_setup_parser": raw["hv_options"]})
        )
        (pkg / wan).write_text(_module({"wan_setup_parser": opts[3:]}))
    train = raw["wan_train_network.py"] + list(extra_train or [])
    (pkg / "training" / "parser_common.py").write_text(
        _module({"_add_general_args": train[:40], "_add_logging_args": train[40:]})
    )
    (pkg / "wan_train_network.py").write_text(_module({"wan_setup_parser": []}))
    tables = {
        "DATASET_ASCENDABLE_SCHEMA": list(ASCENDABLE) + list(extra_dataset or []),
        "IMAGE_DATASET_DISTINCT_SCHEMA": list(IMAGE_ONLY),
        "VIDEO_DATASET_DISTINCT_SCHEMA": list(VIDEO_ONLY),
    }
    text = "class ConfigSanitizer:\n"
    for name, keys in tables.items():
        text += f"    {name} = {{\n" + "".join(f'        "{k}": str,\n' for k in keys) + "    }\n"
    (pkg / "dataset" / "config_utils.py").write_text(text)
    if version and layout == "repo":
        (root / "pyproject.toml").write_text(
            f'[project]\nname = "musubi-tuner"\nversion = "{version}"\n\n[tool.x]\nversion = "9"\n'
        )
    if commit and layout == "repo":
        git = root / ".git"
        (git / "refs" / "heads").mkdir(parents=True, exist_ok=True)
        (git / "HEAD").write_text("ref: refs/heads/main\n")
        (git / "refs" / "heads" / "main").write_text(commit + "\n")
    return pkg
