"""What musubi-tuner does with each value: the semantic map of its inputs.

For every option of the three Wan scripts and every dataset-config key, the places in
musubi-tuner's source where the value is used, classified by what is done with it
(divided by, a loop bound, opened as a file, decoded as JSON, ...). The checks that can be
derived from a use (a value musubi divides by must not be zero) read it from here, and
``scripts/sweep.py`` breaks one value at a time from it.

The map is data (``semantics.json`` next to ``catalog.json``). It is generated with
:mod:`ast`, like the catalog (:mod:`wantui.core.args.checkout`): every ``args.NAME`` in the
scanned files is classified by the expression around it; uses that ``ast`` cannot see
(a caption file opened through a variable) are added by hand in ``HAND`` with their
source line. Nothing of musubi-tuner is imported or run.

    python -m wantui.core.args.semantics /work/.mirror/kohya-ss+musubi-tuner/repo 30c658c
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

# What can be done with a value. The order is the order of precedence when one
# expression is several at once (``open(json.load(...))`` is a JSON decode).
USES = (
    "divides",  # a / x, a // x: zero raises ZeroDivisionError
    "modulus",  # a % x: zero raises ZeroDivisionError
    "range",  # range(x): zero or negative yields nothing
    "loop",  # for ... in x / while ... x: a loop bound
    "decodes_json",  # json.load / json.loads
    "decodes_jsonl",  # read line by line as JSON
    "decodes_text",  # opened and read as text (an encoding can fail)
    "decodes_image",  # Image.open / cv2.imread
    "decodes_video",  # av.open / cv2.VideoCapture / decord
    "loads_safetensors",  # safetensors header and tensors read
    "globs",  # glob / listdir / iterdir: a folder listed
    "makedirs",  # os.makedirs / mkdir: a folder created
    "writes",  # opened for writing, saved to
    "opens",  # opened or tested as a path
    "key_value",  # split on "=" into key and value
    "compares",  # compared with another value
    "passes",  # handed to a network module, optimizer, scheduler or library
    "stores",  # only kept (logged, saved in metadata) as far as ast can see
)

MAP_FILE = Path(__file__).with_name("semantics.json")

# Files of the package (under src/musubi_tuner) whose ``args.NAME`` uses count: the three
# Wan scripts, the shared parsers and trainer they import, and the dataset code.
SCAN_FILES = (
    "cache_latents.py",
    "wan_cache_latents.py",
    "cache_text_encoder_outputs.py",
    "wan_cache_text_encoder_outputs.py",
    "hv_train_network.py",
    "wan_train_network.py",
    "training/accelerator_setup.py",
    "training/parser_common.py",
    "training/sampling_prompts.py",
    "training/timesteps.py",
    "training/trainer_base.py",
    "dataset/config_utils.py",
    "dataset/image_video_dataset.py",
    "dataset/datasources.py",
    "dataset/media_utils.py",
    "utils/train_utils.py",
)

_CALL_USES: dict[str, str] = {
    "range": "range",
    "load": "decodes_json",  # json.load
    "loads": "decodes_json",
    "open": "opens",
    "exists": "opens",
    "isfile": "opens",
    "isdir": "opens",
    "is_file": "opens",
    "is_dir": "opens",
    "glob": "globs",
    "iglob": "globs",
    "listdir": "globs",
    "iterdir": "globs",
    "scandir": "globs",
    "walk": "globs",
    "makedirs": "makedirs",
    "mkdir": "makedirs",
    "save_file": "writes",
    "save": "writes",
    "save_state": "writes",
    "load_state": "opens",
    "load_file": "loads_safetensors",
    "safe_open": "loads_safetensors",
    "load_safetensors": "loads_safetensors",
    "imread": "decodes_image",
    "VideoCapture": "decodes_video",
    "VideoReader": "decodes_video",
    "split": "key_value",
}


def _node_use(node: ast.AST, child: ast.AST) -> str | None:
    """The use ``node`` makes of its sub-expression ``child``, or None to look further up."""
    if isinstance(node, ast.BinOp) and node.right is child:
        if isinstance(node.op, (ast.Div, ast.FloorDiv)):
            return "divides"
        if isinstance(node.op, ast.Mod):
            return "modulus"
    if isinstance(node, ast.AugAssign) and node.value is child:
        if isinstance(node.op, (ast.Div, ast.FloorDiv)):
            return "divides"
        if isinstance(node.op, ast.Mod):
            return "modulus"
    if isinstance(node, ast.Call):
        fn = node.func
        name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
        base = fn.value if isinstance(fn, ast.Attribute) else None
        base_name = getattr(base, "id", "") if base is not None else ""
        if name == "open" and base_name in ("av", "Image"):
            return "decodes_video" if base_name == "av" else "decodes_image"
        if name in ("load", "loads") and base_name != "json":
            return "loads_safetensors" if base_name in ("torch", "safetensors") else "passes"
        if name == "split" and node.args and isinstance(node.args[0], ast.Constant):
            return "key_value" if node.args[0].value == "=" else None
        if name == "split":
            return None
        if name == "open" and any(
            isinstance(a, ast.Constant) and isinstance(a.value, str) and "w" in a.value
            for a in node.args[1:]
        ):
            return "writes"
        if name in _CALL_USES:
            return _CALL_USES[name]
        if name in ("max", "min", "int", "float", "str", "len", "Path", "join", "basename"):
            return None  # value-preserving: look at what is done with the result
        return "passes"
    if isinstance(node, (ast.For, ast.comprehension)) and node.iter is child:
        return "loop"
    if isinstance(node, ast.While):
        return "loop"
    if isinstance(node, ast.Compare):
        others = [node.left, *node.comparators]
        if any(isinstance(o, ast.Constant) and o.value is None for o in others):
            return "stores"  # `is None`: a presence test, not a comparison of values
        return "compares"
    return None


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    out: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for ch in ast.iter_child_nodes(node):
            out[ch] = node
    return out


def _classify(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> str:
    child, cur = node, parents.get(node)
    depth = 0
    opened = False  # open(x) inside json.load(...) is a JSON decode: look further up
    while cur is not None and depth < 6 and not isinstance(cur, ast.stmt | ast.Lambda):
        use = _node_use(cur, child)
        if use == "opens" and getattr(cur.func, "id", "") == "open":  # type: ignore[attr-defined]
            opened = True
        elif use is not None and not (opened and use == "passes"):
            return use
        child, cur, depth = cur, parents.get(cur), depth + 1
    if opened:
        return "opens"
    if cur is not None and isinstance(cur, (ast.For, ast.While, ast.AugAssign)):
        use = _node_use(cur, child)
        if use is not None:
            return use
    return "stores"


def scan_source(
    source: str, file: str, bases: tuple[str, ...] = ("args",)
) -> dict[str, list[dict[str, Any]]]:
    """``args.NAME`` (and ``getattr(args, "NAME")``) uses in ``source``, or those of the
    other ``bases`` (``self`` for dataset keys): NAME -> [{use, at: "file:line"}]."""
    tree = ast.parse(source)
    parents = _parents(tree)
    out: dict[str, list[dict[str, Any]]] = {}
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in bases and not isinstance(node.ctx, ast.Store):
                name = node.attr
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", "") == "getattr"
            and len(node.args) >= 2
            and getattr(node.args[0], "id", "") in bases
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            name = node.args[1].value
        if name is None:
            continue
        use = _classify(node, parents)
        out.setdefault(name, []).append({"use": use, "at": f"{file}:{node.lineno}"})
    return out


def dest_of(names: list[str]) -> str:
    """argparse's ``dest`` for an option's names (the first long name, dashes to _)."""
    long = next((n for n in names if n.startswith("--")), names[0])
    return long.lstrip("-").replace("-", "_")


def _load_hand() -> dict[str, Any]:
    data = json.loads(MAP_FILE.read_text(encoding="utf-8")) if MAP_FILE.is_file() else {}
    return {"options": data.get("hand_options", {}), "dataset": data.get("dataset", {})}


def build(
    show: Callable[[str], str], catalog: dict[str, list[dict[str, Any]]], commit: str
) -> dict[str, Any]:
    """The map: each option of ``catalog`` (script -> option specs) with the ast-found uses
    in ``SCAN_FILES`` plus the hand-classified ones kept from the previous map."""
    found: dict[str, list[dict[str, Any]]] = {}
    for file in SCAN_FILES:
        try:
            text = show(file)
        except (OSError, subprocess.CalledProcessError):
            continue
        for name, uses in scan_source(text, file).items():
            found.setdefault(name, []).extend(uses)
    hand = _load_hand()
    dataset = _dataset_uses(show, hand["dataset"])
    options: dict[str, Any] = {}
    for script, specs in catalog.items():
        if script == "hv_options":
            continue
        for spec in specs:
            opt = spec["names"][0]
            entry = options.setdefault(opt, {"scripts": [], "uses": []})
            entry["scripts"].append(script)
            if not entry["uses"]:
                entry["uses"] = _dedupe(found.get(dest_of(spec["names"]), []))
    for opt, extra in hand["options"].items():
        if opt in options:
            options[opt]["uses"] = _dedupe(options[opt]["uses"] + extra)
    return {
        "musubi_commit": commit,
        "uses": list(USES),
        "options": options,
        "hand_options": hand["options"],
        "dataset": dataset,
    }


# Where the dataset keys are used: the dataset classes keep each key as ``self.KEY``.
DATASET_FILES = ("dataset/image_video_dataset.py", "dataset/datasources.py")


def _dataset_uses(show: Callable[[str], str], hand: dict[str, Any]) -> dict[str, Any]:
    """Each dataset key (wantui's schema of v0.3.4) with its ``self.KEY`` uses found in the
    dataset classes and the hand-classified ones (``hand[key]["hand"]``)."""
    from wantui.core.dataset.schema import ALL_DATASET_KEYS

    found: dict[str, list[dict[str, Any]]] = {}
    for file in DATASET_FILES:
        try:
            text = show(file)
        except (OSError, subprocess.CalledProcessError):
            continue
        for name, uses in scan_source(text, file, ("self",)).items():
            found.setdefault(name, []).extend(uses)
    out: dict[str, Any] = {}
    for key in ALL_DATASET_KEYS:
        extra = hand.get(key, {}).get("hand", [])
        out[key] = {"hand": extra, "uses": _dedupe(extra + found.get(key, []))}
    return out


def _dedupe(uses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for u in uses:
        k = (u["use"], u["at"])
        if k not in seen:
            seen.add(k)
            out.append(dict(u))
    return out


@lru_cache(maxsize=1)
def semantic_map() -> dict[str, Any]:
    """The bundled map (musubi-tuner v0.3.4)."""
    return json.loads(MAP_FILE.read_text(encoding="utf-8"))


def uses_of(option: str, use: str) -> list[str]:
    """Source locations where musubi makes ``use`` of ``option`` (empty when none)."""
    entry = semantic_map()["options"].get(option, {})
    return [u["at"] for u in entry.get("uses", []) if u["use"] == use]


def key_uses(key: str, use: str) -> list[str]:
    """The same for a dataset-config key."""
    entry = semantic_map()["dataset"].get(key, {})
    return [u["at"] for u in entry.get("uses", []) if u["use"] == use]


def main(argv: list[str]) -> int:
    repo, commit = argv[0], argv[1] if len(argv) > 1 else "HEAD"

    def show(path: str) -> str:
        return subprocess.run(
            ["git", "-C", repo, "show", f"{commit}:src/musubi_tuner/{path}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    full = subprocess.run(
        ["git", "-C", repo, "rev-parse", commit], check=True, capture_output=True, text=True
    ).stdout.strip()
    catalog = json.loads(MAP_FILE.with_name("catalog.json").read_text(encoding="utf-8"))
    data = build(show, catalog["scripts"], full)
    MAP_FILE.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {MAP_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
