"""Where the videos probably are: the folder nearest a dataset folder that holds media.

A dataset folder that is empty or missing is most often one level off (``clips`` for
``clips/train``, a sibling with another name, a parent). The search is bounded: a few
levels up and down from the folder, a cap on folders and directory entries read, no
symlinked folder followed (so no loop), no dot folders.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

LEVELS_UP = 2  # parents searched from
DEPTH = 3  # levels below each of them
MAX_DIRS = 400
MAX_ENTRIES = 20000


@dataclass(frozen=True)
class MediaFolder:
    path: Path
    media: int  # files musubi-tuner would pick up there


def files_seen(names: list[str]) -> str:
    """``3 files (.gif 2, .txt 1)``, or ``no files``: what a folder holds, by extension."""
    if not names:
        return "no files"
    exts = Counter(os.path.splitext(n)[1] or "(no extension)" for n in names)
    ranked = sorted(exts.items(), key=lambda ec: (-ec[1], ec[0]))[:6]
    shown = ", ".join(f"{e} {c}" for e, c in ranked)
    more = ", ..." if len(exts) > 6 else ""
    return f"{len(names)} file{'s' if len(names) != 1 else ''} ({shown}{more})"


def _existing_anchor(path: Path) -> Path | None:
    """The folder itself, or its nearest existing ancestor (a few levels at most)."""
    p = path
    for _ in range(8):
        if p.is_dir():
            return p
        if p.parent == p:
            return None
        p = p.parent
    return None


def _distance(a: Path, b: Path) -> int:
    pa, pb = a.parts, b.parts
    common = 0
    for x, y in zip(pa, pb):
        if x != y:
            break
        common += 1
    return (len(pa) - common) + (len(pb) - common)


def nearest_media_folder(target: Path, accepted: frozenset[str]) -> MediaFolder | None:
    """The folder with media files (extension in ``accepted``) nearest ``target`` in the
    tree, ties to the one with more media; None when none is found within the bounds."""
    anchor = _existing_anchor(target)
    if anchor is None:
        return None
    roots = [anchor]
    for _ in range(LEVELS_UP):
        if roots[-1].parent == roots[-1]:
            break
        roots.append(roots[-1].parent)
    seen_dirs: set[tuple[int, int]] = set()
    budget = {"dirs": MAX_DIRS, "entries": MAX_ENTRIES}
    best: tuple[int, int, str] | None = None  # (distance, -media, path)
    for root in roots:
        queue: list[tuple[Path, int]] = [(root, 0)]
        while queue and budget["dirs"] > 0 and budget["entries"] > 0:
            folder, level = queue.pop(0)
            try:
                st = folder.stat()
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:
                continue
            seen_dirs.add(key)
            budget["dirs"] -= 1
            media, subdirs = _read(folder, accepted, budget)
            if media and folder != target:
                cand = (_distance(target, folder), -media, str(folder))
                best = cand if best is None or cand < best else best
            if level < DEPTH:
                queue.extend((d, level + 1) for d in subdirs)
    if best is None:
        return None
    return MediaFolder(Path(best[2]), -best[1])


def _read(folder: Path, accepted: frozenset[str], budget: dict[str, int]) -> tuple[int, list[Path]]:
    media = 0
    subdirs: list[Path] = []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                budget["entries"] -= 1
                if budget["entries"] < 0:
                    break
                if entry.name.startswith("."):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        subdirs.append(Path(entry.path))
                    elif os.path.splitext(entry.name)[1] in accepted:
                        media += 1
                except OSError:
                    continue
    except OSError:
        pass
    return media, sorted(subdirs)
