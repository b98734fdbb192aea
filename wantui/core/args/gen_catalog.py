"""Regenerate ``catalog.json`` from a musubi-tuner checkout (a developer tool, run by hand).

It reads the parser-building functions of the three Wan scripts with :mod:`ast` (no
musubi-tuner code is imported or run, so no torch or CUDA is needed) and writes the
options as data. Choices computed at run time (``WAN_CONFIGS.keys()``, accelerate's
``DynamoBackend``) are filled in from ``_DYNAMIC_CHOICES``, checked by hand against the
same commit.

    python -m wantui.core.args.gen_catalog /work/.mirror/kohya-ss+musubi-tuner/repo
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

# (file under src/musubi_tuner, functions whose add_argument calls count)
_SOURCES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "wan_cache_latents.py": [
        ("cache_latents.py", ("setup_parser_common",)),
        ("wan_cache_latents.py", ("wan_setup_parser",)),
    ],
    "wan_cache_text_encoder_outputs.py": [
        ("cache_text_encoder_outputs.py", ("setup_parser_common",)),
        ("wan_cache_text_encoder_outputs.py", ("wan_setup_parser",)),
    ],
    "wan_train_network.py": [
        ("training/parser_common.py", ("*",)),
        ("wan_train_network.py", ("wan_setup_parser",)),
    ],
    # HunyuanVideo-only options, kept to explain "why is this flag unknown here".
    "hv_options": [
        ("cache_latents.py", ("hv_setup_parser",)),
        ("cache_text_encoder_outputs.py", ("hv_setup_parser",)),
    ],
}

_DYNAMIC_CHOICES = {
    "--task": [
        "t2v-14B",
        "t2v-1.3B",
        "i2v-14B",
        "t2i-14B",
        "flf2v-14B",
        "t2v-1.3B-FC",
        "t2v-14B-FC",
        "i2v-14B-FC",
        "i2v-A14B",
        "t2v-A14B",
    ],
    # accelerate.utils.DynamoBackend: the values differ between accelerate versions, so
    # the installed one decides; wantui does not guess.
    "--dynamo_backend": None,
}


def _literal(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None


def _type_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return {"str": "str", "int": "int", "float": "float"}.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        return "path" if node.attr == "Path" else node.attr
    return "str"


def _options(source: str, functions: tuple[str, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, ast.FunctionDef):
            continue
        if "*" in functions:
            if not (fn.name.startswith("_add_") or fn.name == "setup_parser_common"):
                continue
        elif fn.name not in functions:
            continue
        for call in ast.walk(fn):
            if not (
                isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "add_argument"
            ):
                continue
            names = [_literal(a) for a in call.args]
            kw = {k.arg: k.value for k in call.keywords if k.arg}
            action = _literal(kw["action"]) if "action" in kw else None
            spec: dict[str, Any] = {
                "names": [n for n in names if isinstance(n, str)],
                "type": "flag"
                if action in ("store_true", "store_false")
                else _type_name(kw["type"])
                if "type" in kw
                else "str",
                "required": bool(_literal(kw["required"])) if "required" in kw else False,
                "default": _literal(kw["default"])
                if "default" in kw
                else (False if action == "store_true" else None),
                "nargs": _literal(kw["nargs"]) if "nargs" in kw else None,
                "choices": _literal(kw["choices"]) if "choices" in kw else None,
                "help": (_literal(kw["help"]) or "") if "help" in kw else "",
            }
            if "choices" in kw and spec["choices"] is None:
                spec["choices"] = _DYNAMIC_CHOICES.get(spec["names"][0])
            if isinstance(spec["default"], (list, tuple)):
                spec["default"] = list(spec["default"])
            out.append(spec)
    return out


def generate(repo: str) -> dict[str, Any]:
    def show(path: str) -> str:
        return subprocess.run(
            ["git", "-C", repo, "show", f"HEAD:src/musubi_tuner/{path}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    commit = subprocess.run(
        ["git", "-C", repo, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout
    data: dict[str, Any] = {"musubi_commit": commit.strip(), "scripts": {}}
    for script, parts in _SOURCES.items():
        opts: list[dict[str, Any]] = []
        for path, functions in parts:
            opts.extend(_options(show(path), functions))
        data["scripts"][script] = opts
    return data


if __name__ == "__main__":
    out = Path(__file__).with_name("catalog.json")
    out.write_text(
        json.dumps(generate(sys.argv[1]), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {out}")
