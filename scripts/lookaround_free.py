#!/usr/bin/env python3
"""Write a rule pattern's lookaround as plain regex (what RE2 compiles), exactly.

RE2 has no lookaround; a few built-in rules need what lookaround says: a scan that stops
at the next repeat of a literal (linear in Python's ``re`` on a line of repeats), a token
that is not one of a few names, a class name not starting with another rule's. Each of
those patterns in ``rules/*.yaml`` was generated here from its readable form (in
:data:`REWRITES`); change the readable form, then regenerate::

    python scripts/lookaround_free.py            # print each generated pattern
    python scripts/lookaround_free.py --check    # the rules hold what is generated here

Each generated pattern matches what its readable form matches, with the same captures
(checked by random search over each rule's own fragments and names when it was made).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _upto(n: int) -> str:
    return "\\w{0," + str(n) + "}"


def esc(c: str) -> str:
    if c == "\n":
        return "\\n"
    return "\\" + c if c in ".^$*+?()[]{}|\\-" else c


class Alpha:
    """An alphabet: word chars (\\w) plus extra chars, or 'any char but' a set."""

    def __init__(self, word=False, extra="", notchars=None):
        self.word, self.extra, self.notchars = word, extra, notchars

    def all(self):
        if self.notchars is not None:
            return "[^" + "".join(esc(c) for c in self.notchars) + "]"
        return "[\\w" + "".join(esc(c) for c in self.extra) + "]" if self.extra else "\\w"

    def minus(self, cs):
        cs = sorted(set(cs))
        if self.notchars is not None:
            return "[^" + "".join(esc(c) for c in sorted(set(self.notchars) | set(cs))) + "]"
        wordcs = [c for c in cs if re.match(r"\w", c)]
        extra = [c for c in self.extra if c not in cs]
        parts = []
        parts.append("[^\\W" + "".join(esc(c) for c in wordcs) + "]" if wordcs else "\\w")
        if extra:
            parts.append("[" + "".join(esc(c) for c in extra) + "]")
        return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"


def complement(alpha, exact=(), prefixes=(), nonempty=True):
    """Strings over alpha (maximal tokens) not in `exact` and not starting with a prefix."""
    trie = {}
    for w, kind in [(w, "exact") for w in exact] + [(w, "prefix") for w in prefixes]:
        node = trie
        for c in w:
            node = node.setdefault(c, {})
        node.setdefault(None, set()).add(kind)

    def comp(node, depth):
        kinds = node.get(None, set())
        if "prefix" in kinds:
            return None  # nothing allowed below
        kids = {c: n for c, n in node.items() if c is not None}
        alts = []
        if kids:
            alts.append(alpha.minus(kids) + alpha.all() + "*")
        else:
            alts.append(alpha.all() + "+")
        for c in sorted(kids):
            sub = comp(kids[c], depth + 1)
            if sub is not None:
                alts.append(esc(c) + sub)
        body = "|".join(alts)
        empty_ok = not (depth == 0 and nonempty) and "exact" not in kinds
        if len(alts) == 1 and not alts[0].startswith("(") and "|" not in alts[0]:
            g = alts[0]
        else:
            g = "(?:" + body + ")"
        if empty_ok:
            if not kids:
                return alpha.all() + "*"
            return "(?:" + body + ")?"
        return g

    return comp(trie, 0)


def avoid(lit, lazy=False):
    """Strings without a newline holding no `lit` (its first char must not recur in it):
    pieces split at that char, none starting with the rest of `lit`."""
    c0, rest = lit[0], lit[1:]
    assert c0 not in rest
    q = "*?" if lazy else "*"
    opt = "??" if lazy else "?"
    run = "[^" + esc(c0) + "\\n]"

    def X(k):  # strings over run not starting with rest[k:]
        if k == len(rest):
            return None
        c = rest[k]
        other = "[^" + esc(c0) + "\\n" + esc(c) + "]" + run + q
        sub = X(k + 1)
        alts = other + ("|" + esc(c) + sub if sub else "")
        return "(?:" + alts + ")" + opt

    return run + q + "(?:" + esc(c0) + X(0) + ")" + q


def cls_regex(forbidden, kws, pre=40, post=40):
    """`(?!F1|F2...)\\w{0,pre}(?:KW1|KW2...)\\w{0,post}` without the lookahead (word chars
    only in F and KW)."""
    trie = {}
    for f in forbidden:
        node = trie
        for c in f:
            node = node.setdefault(c, {})
        node[None] = True
    K = "(?:" + "|".join(esc(k) for k in kws) + ")"

    def node_re(node, u):
        kids = sorted(c for c in node if c is not None)
        alts = []
        # (a) divergence: the next char is none of kids
        cc = "[^\\W" + "".join(esc(c) for c in kids) + "]" if kids else "\\w"
        div = []
        n = pre - len(u) - 1
        if n >= 0:
            div.append(cc + _upto(n) + K + _upto(post))
        # KW at s = len(u), starting with a non-kid char
        if len(u) <= pre:
            ks = [k for k in kws if k[0] not in kids]
            if ks:
                div.append("(?:" + "|".join(esc(k) for k in ks) + ")" + _upto(post))
        # KW starting inside u, s descending
        for s in range(len(u) - 1, -1, -1):
            if s > pre:
                continue
            for k in kws:
                tail = u[s:]
                if len(k) <= len(tail):
                    if tail.startswith(k):  # KW wholly inside u: then any non-kid char
                        e = s + len(k)
                        m = post - (len(u) - e) - 1
                        if m >= 0:
                            div.append(cc + _upto(m))
                        break  # one KW per s
                elif k.startswith(tail) and k[len(tail)] not in kids:
                    div.append(esc(k[len(tail) :]) + _upto(post))
        if div:
            alts.append("(?:" + "|".join(div) + ")" if len(div) > 1 else div[0])
        # (b) continue along the trie
        for c in kids:
            child = node[c]
            if None in child:
                continue  # a forbidden prefix: excluded
            alts.append(esc(c) + node_re(child, u + c))
        # (c) the word ends here, holding a keyword
        if u and any(u.find(k) != -1 and u.find(k) <= pre for k in kws):
            alts.append("\\b")
        return "(?:" + "|".join(alts) + ")" if len(alts) > 1 else alts[0]

    return node_re(trie, "")


WORD, WORD_DOT, WORD_DASH = (
    Alpha(word=True),
    Alpha(word=True, extra="."),
    Alpha(word=True, extra="-"),
)
NOT_QUOTE = Alpha(notchars="'")


# rule id -> (the readable form, with lookaround; the generated pattern)
REWRITES: list[tuple[str, str, str]] = [
    (
        "hunyuan-vae-loads-wan-file",
        r"Loading 3D VAE model \(884-16c-hy\) from: (?:(?!Loading 3D VAE model ).)*(?i:wan)",
        r"Loading 3D VAE model \(884-16c-hy\) from: " + avoid("Loading 3D VAE model ") + "(?i:wan)",
    ),
    (
        "output-name-none-checkpoint",
        r"saving checkpoint: (?:(?:(?!saving checkpoint: ).)*[\\/])?None-(?:step)?\d+\.safetensors",
        "saving checkpoint: (?:"
        + avoid("saving checkpoint: ")
        + r"[\\/])?None-(?:step)?\d+\.safetensors",
    ),
    (
        "toml-parse-error",
        r"TomlDecodeError: (?P<detail>(?:(?!TomlDecodeError: ).)*?) ?\(line (?P<line>\d+)"
        r" column (?P<column>\d+) char \d+\)",
        "TomlDecodeError: (?P<detail>"
        + avoid("TomlDecodeError: ", lazy=True)
        + r") ?\(line (?P<line>\d+) column (?P<column>\d+) char \d+\)",
    ),
    (
        "invalid-argument-value",
        r"error: argument (?!--timestep_boundary:)(?P<flag>-[\w-]+)(?:/-[\w-]+)*: invalid"
        r" (?P<kind>[\w ]+?) value: '(?P<value>[^']*)'",
        # (and a second pattern: --timestep_boundary with an alias, /-x, is not excluded)
        "error: argument (?P<flag>-"
        + complement(WORD_DASH, exact=["-timestep_boundary"])
        + r")(?:/-[\w-]+)*: invalid (?P<kind>[\w ]+?) value: '(?P<value>[^']*)'",
    ),
    (
        "missing-required-argument",
        r"(?<![\w.-])(?P<prog>(?!(?:cache_latents|cache_text_encoder_outputs)\.py)[\w.-]+\.py):"
        r" error: the following arguments are required: (?P<args>.+?)\s*$",
        r"(?:^|[^\w.-])(?P<prog>"
        + complement(
            Alpha(word=True, extra=".-"),
            exact=["cache_latents", "cache_text_encoder_outputs"],
            prefixes=["cache_latents.py", "cache_text_encoder_outputs.py"],
        )
        + r"\.py): error: the following arguments are required: (?P<args>.+?)\s*$",
    ),
    (
        "musubi-code-error",
        r"^(?P<exc_type>NameError): name '(?!(?:flash_attn\w*|xformers|sageattention|sageattn\w*"
        r"|bnb|bitsandbytes|triton|apex)')(?P<name>\w+)' is not defined",
        "^(?P<exc_type>NameError): name '(?P<name>"
        + complement(
            WORD,
            exact=["xformers", "sageattention", "bnb", "bitsandbytes", "triton", "apex"],
            prefixes=["flash_attn", "sageattn"],
        )
        + ")' is not defined",
    ),
    (
        "python-module-missing",
        r"^(?:\w+\.)*(?:ModuleNotFoundError|ImportError): No module named '(?!musubi_tuner'"
        r"|bitsandbytes'|(?:musubi_tuner\.)?networks\.)(?P<module>[\w.]+)'",
        r"^(?:\w+\.)*(?:ModuleNotFoundError|ImportError): No module named '(?P<module>"
        + complement(
            WORD_DOT,
            exact=["musubi_tuner", "bitsandbytes"],
            prefixes=["networks.", "musubi_tuner.networks."],
        )
        + ")'",
    ),
    (
        "toml-extra-key",
        r"extra keys not allowed @ data\['(?P<section>datasets)'\](?P<bracket>\[(?P<index>\d+)\])"
        r"\['(?P<key>(?!(?:target_frames|frame_extraction|frame_stride|frame_sample|max_frames"
        r"|source_fps)')[^']+)'\]",
        r"extra keys not allowed @ data\['(?P<section>datasets)'\](?P<bracket>\[(?P<index>\d+)\])"
        r"\['(?P<key>"
        + complement(
            NOT_QUOTE,
            exact=[
                "target_frames",
                "frame_extraction",
                "frame_stride",
                "frame_sample",
                "max_frames",
                "source_fps",
            ],
        )
        + r")'\]",
    ),
    (
        "toml-unknown-table",
        r"extra keys not allowed @ data\['(?P<name>(?!general'|datasets')[^']+)'\]\s*$",
        r"extra keys not allowed @ data\['(?P<name>"
        + complement(NOT_QUOTE, exact=["general", "datasets"])
        + r")'\]\s*$",
    ),
    (
        "vae-wrong-keys",
        r"Error\(s\) in loading state_dict for (?P<cls>(?!WanVAE|AutoencoderKLCausal3D)"
        r"\w{0,40}(?:AutoEncoder|Autoencoder|VAE)\w{0,40})",
        r"Error\(s\) in loading state_dict for (?P<cls>"
        + cls_regex(["WanVAE", "AutoencoderKLCausal3D"], ["AutoEncoder", "Autoencoder", "VAE"])
        + ")",
    ),
]


def main(argv: list[str]) -> int:
    import yaml

    check = "--check" in argv
    bad = 0
    for rule_id, readable, generated in REWRITES:
        doc = yaml.safe_load((ROOT / "rules" / f"{rule_id}.yaml").read_text(encoding="utf-8"))
        sources = [p if isinstance(p, str) else p["regex"] for p in doc["match"]["any"]]
        if check:
            if generated not in sources:
                print(f"{rule_id}: the rule does not hold the pattern generated from {readable!r}")
                bad += 1
            continue
        print(f"{rule_id}\n  readable:  {readable}\n  generated: {generated}\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
