"""Multi-GPU logs: fold the ranks' duplicate lines into one display line.

With ``accelerate launch --multi_gpu`` every rank prints the same traceback, prefixed
``[rank3]:``. The pane shows each such line once, as ``[x8 ranks] ...``, updating the line
already shown when another rank repeats it (the ranks' blocks arrive interleaved, many
lines apart), and keeps each rank's own lines so the pane can show one rank alone.
"""

from __future__ import annotations

import re
from collections import OrderedDict

# a rank prefix (torchrun's --tee / local_ranks_filter), possibly after an ANSI colour
_RANK = re.compile(r"^((?:\x1b\[[0-9;]*m)*)\[(?:rank|default)(\d+)\]:[ ]?")
RECENT = 4096  # how far back a repeated line is still folded into the first one


def split_rank(line: str) -> tuple[int | None, str]:
    """``"[rank3]: Traceback"`` -> ``(3, "Traceback")``; other lines -> ``(None, line)``."""
    m = _RANK.match(line)
    if m is None:
        return None, line
    return int(m.group(2)), m.group(1) + line[m.end() :]


def folded(text: str, count: int) -> str:
    return f"\x1b[2m[x{count} ranks]\x1b[0m {text}"


class RankFolder:
    """Per step. ``fold`` turns new display lines into the lines to show plus updates of
    lines shown earlier (absolute index -> new text)."""

    def __init__(self) -> None:
        self.shown = 0  # display lines emitted so far (absolute index of the next one)
        self.ranks: set[int] = set()
        self._recent: OrderedDict[str, tuple[int, set[int]]] = OrderedDict()

    def fold(self, lines: list[str]) -> tuple[list[str], dict[int, str], list[tuple[int, str]]]:
        """Returns (lines to show, updates of earlier lines, (rank, text) of ranked lines)."""
        if not self.ranks and not any("]:" in x[:40] for x in lines):
            self.shown += len(lines)  # the common case: no rank prefix anywhere
            return lines, {}, []
        out: list[str] = []
        updates: dict[int, str] = {}
        ranked: list[tuple[int, str]] = []
        for line in lines:
            rank, text = split_rank(line)
            if rank is None:
                out.append(line)
                continue
            self.ranks.add(rank)
            ranked.append((rank, text))
            seen = self._recent.get(text) if text.strip() else None
            if seen is not None and rank not in seen[1]:
                index, who = seen
                who.add(rank)
                updates[index] = folded(text, len(who))
                continue
            self._recent[text] = (self.shown + len(out), {rank})
            self._recent.move_to_end(text)
            if len(self._recent) > RECENT:
                self._recent.popitem(last=False)
            out.append(line)
        self.shown += len(out)
        return out, updates, ranked
