"""Regenerate ``catalog.json`` from a musubi-tuner checkout (a developer tool, run by hand).

It uses the same reader as the run-time checks (:mod:`wantui.core.args.checkout`): the
parser-building functions of the three Wan scripts are read with :mod:`ast` (no
musubi-tuner code is imported or run, so no torch or CUDA is needed) and written as data.
Here the files come from the commit checked out in the repository (``git show HEAD:``).

    python -m wantui.core.args.gen_catalog /work/.mirror/kohya-ss+musubi-tuner/repo
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from wantui.core.args.checkout import read_sources


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
    data = read_sources(show)
    data.pop("dataset", None)  # the bundled dataset schema is wantui/core/dataset/schema.py
    return {"musubi_commit": commit.strip(), **data}


if __name__ == "__main__":
    out = Path(__file__).with_name("catalog.json")
    out.write_text(
        json.dumps(generate(sys.argv[1]), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {out}")
