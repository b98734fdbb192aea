"""A did-you-mean helper shared by config validation, argument checks and rule loading."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping


def did_you_mean(
    word: str,
    candidates: Iterable[str],
    *,
    aliases: Mapping[str, str] | None = None,
    cutoff: float = 0.6,
) -> str | None:
    """Return the closest candidate to ``word``, or None.

    ``aliases`` maps known wrong words to their right ones (``num_frames`` ->
    ``target_frames``); they win over string similarity because they encode domain
    knowledge that edit distance cannot.
    """
    if aliases and word in aliases:
        return aliases[word]
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered:
        return lowered[word.lower()]
    hits = difflib.get_close_matches(word, pool, n=1, cutoff=cutoff)
    return hits[0] if hits else None


def suggestion(word: str, candidates: Iterable[str], **kw: object) -> str:
    """``" (did you mean 'x'?)"`` or an empty string."""
    hit = did_you_mean(word, candidates, **kw)  # type: ignore[arg-type]
    return f" (did you mean '{hit}'?)" if hit else ""
