"""The literal scanner (RE2, and its plain-Python fallback), by blocks and line by line,
gives the same findings (and the same lines) as matching every line without any
prefilter."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wantui.core import matcher as matcher_mod
from wantui.core.literalscan import LiteralScan, clean_bytes, hyperscan_module
from wantui.core.logtext import Normalizer, normalize_text
from wantui.core.matcher import Matcher
from wantui.core.rules import load_rules
from wantui.core.rules.examples import read_marked_log

EXAMPLES = sorted((Path(__file__).parents[1] / "rules" / "examples").glob("*.log"))
NOISE = [
    b"INFO:musubi_tuner.dataset.cache_io:epoch is incremented. current_epoch: 0, epoch: 1\n",
    "\rsteps:  35%|███▌      | 14/40 [00:08<00:16,  1.59it/s, avr_loss=0.1652]".encode() * 3
    + b"\n",
    b"WanModel: Gradient checkpointing enabled. Activation CPU offloading: False\n",
    b"\x1b[32mINFO\x1b[0m:musubi_tuner.x:DiT dtype: torch.bfloat16\n",
    b"[rank3]: INFO:musubi_tuner.x:bucket: (960, 544, 81), count: 12\n",
    b"4it [00:07,  1.88s/it]\n",
    b"\n",
    b"saving checkpoint: out/x-step00000020.safetensors\n",
]

RULES = load_rules(include_user=False)


def _pieces() -> list[bytes]:
    out = [read_marked_log(p).data for p in EXAMPLES]  # the logs, without their markers
    assert len(out) > 50, "the built-in rules' example logs are missing"
    return out


PIECES = _pieces()


def findings_json(fs: list) -> list[dict]:
    return [f.to_json() for f in fs]


def unfiltered(data: bytes) -> list[dict]:
    """The reference: every line through every rule, no literal prefilter at all."""
    m = Matcher(RULES)
    # no line prefilter (each pattern's own literal check stays: with (?i), Python's re
    # folds "ſ" to "s" where str.lower() does not, so that check is not a strict superset)
    m._literals = None  # noqa: SLF001
    for line in normalize_text(data):
        m.feed(line)
    m.finish()
    return findings_json(m.findings())


def block_path(data: bytes, chunk: int) -> list[dict]:
    m = Matcher(RULES)
    n = Normalizer(prefilter=m.prefilter())
    for i in range(0, len(data), chunk):
        for line in n.feed(data[i : i + chunk]):
            m.feed(line)
    for line in n.close():
        m.feed(line)
    m.finish()
    return findings_json(m.findings())


def live_path(data: bytes) -> list[dict]:
    """Line by line, as a child's output arrives, with the matcher's own keep regex."""
    m = Matcher(RULES)
    n = Normalizer(keep=m.prefilter_bytes())
    for raw in data.splitlines(keepends=True):
        for line in n.feed(raw):
            m.feed(line)
    for line in n.close():
        m.feed(line)
    m.finish()
    return findings_json(m.findings())


# Hyperscan where it is installed and can build a database on this CPU, else RE2
DEFAULT_ENGINE = LiteralScan([b"x"]).engine if hyperscan_module() is not None else "re2"


@contextmanager
def engine_env(name: str, value: str) -> Iterator[None]:
    """``name=value`` in the environment, with the matcher's scanners built afresh."""
    old = os.environ.get(name)
    os.environ[name] = value
    matcher_mod._block_prefilter.cache_clear()
    matcher_mod._literal_set.cache_clear()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old
        matcher_mod._block_prefilter.cache_clear()
        matcher_mod._literal_set.cache_clear()


def plain_python() -> AbstractContextManager[None]:
    """The fallback engine, as on a machine where google-re2 has no wheel."""
    return engine_env("WANTUI_RE2", "0")


def re2_only() -> AbstractContextManager[None]:
    """RE2 scanning the blocks, as where Hyperscan has no wheel."""
    return engine_env("WANTUI_HYPERSCAN", "0")


@settings(max_examples=25, deadline=None)
@given(
    parts=st.lists(
        st.one_of(st.sampled_from(PIECES), st.sampled_from(NOISE)), min_size=1, max_size=12
    ),
    chunk=st.integers(min_value=1, max_value=70_000),
    extra=st.sampled_from(
        [
            b"",
            "学習開始 エラー\n".encode("cp932"),
            "ſtep avr_loſs=NAN ✓\n".encode(),
            b"\x1b[1mE\x1b[0mrror\n",
        ]
    ),
)
def test_paths_give_identical_findings(parts: list[bytes], chunk: int, extra: bytes) -> None:
    data = extra + b"".join(p if p.endswith(b"\n") else p + b"\n" for p in parts)
    want = unfiltered(data)
    assert block_path(data, chunk) == want
    assert live_path(data) == want


def _example(name: str) -> bytes:
    return read_marked_log(Path(__file__).parents[1] / "rules" / "examples" / name).data


def test_wan_lines_the_prefilter_drops_do_not_decide_the_family() -> None:
    """A healthy Wan log's lines (dropped by the prefilter) and then another family's
    failure: every path names the other family (found by the fuzz test above)."""
    data = _example("accelerate-defaults.neg.log") + _example("dit-wrong-keys.pos.log")
    want = unfiltered(data)
    assert [f["rule"] for f in want] == ["dit-wrong-keys"]
    assert "builds for Qwen-Image:" in want[0]["message"]
    for chunk in (1, 7, 4096):
        assert block_path(data, chunk) == want
    assert live_path(data) == want
    assert Matcher(RULES).prefilter().engine == DEFAULT_ENGINE  # type: ignore[union-attr]
    if DEFAULT_ENGINE == "hyperscan":
        with re2_only():
            assert Matcher(RULES).prefilter().engine == "re2"  # type: ignore[union-attr]
            assert block_path(data, chunk) == want
            assert live_path(data) == want
    with plain_python():
        assert Matcher(RULES).prefilter().engine == "re"  # type: ignore[union-attr]
        assert block_path(data, chunk) == want
        assert live_path(data) == want


@pytest.mark.parametrize("engine", ["hyperscan", "re2", "re"])
def test_prefilter_lines_equal_a_plain_literal_search(engine: str) -> None:
    if engine == "hyperscan" and DEFAULT_ENGINE != "hyperscan":
        pytest.skip("hyperscan has no wheel here")
    if engine == "re":
        with plain_python():
            m = Matcher(RULES)
    elif engine == "re2":
        with re2_only():
            m = Matcher(RULES)
    else:
        m = Matcher(RULES)
    pf = m.prefilter()
    assert pf is not None
    plain, folded = m.prefilter_literals() or ([], [])
    plain = [x for x in plain if x != b"\x1b"]
    data = b"".join(PIECES) + b"".join(NOISE) * 50 + b"\x1b[31mCUDA out \x1b[1mof memory\n"
    want = []
    for i, raw in enumerate(data.split(b"\n")):
        line = clean_bytes(raw)
        if any(lit in line for lit in plain) or any(lit in line.lower() for lit in folded):
            want.append((i, raw))
    assert pf.engine == engine and pf.lines(data) == want
    assert len(want) > 50


@pytest.mark.parametrize("engine", ["hyperscan", "re2", "re"])
def test_prefilter_case_folded_and_split_by_escape(engine: str, monkeypatch) -> None:
    monkeypatch.setenv("WANTUI_RE2", "0" if engine == "re" else "1")
    monkeypatch.setenv("WANTUI_HYPERSCAN", "1" if engine == "hyperscan" else "0")
    pf = LiteralScan([b"CUDA out of memory"], [b"avr_loss=nan"])
    assert pf.engine == engine or (engine == "hyperscan" and DEFAULT_ENGINE == "re2")
    data = b"x\nsteps: 1/2 [00:01, AVR_LOSS=NaN]\nCUDA \x1b[1mout of memory\nCUDA out of mem\n"
    assert [i for i, _ in pf.lines(data)] == [1, 2]
    assert pf.matches(b"..avr_loss=nAn..") and not pf.matches(b"avr_loss=1.2")


def test_prefilter_anchors_are_rare_in_healthy_output() -> None:
    """Few candidate lines in a healthy log: the scan does little per-line work."""
    healthy = Path("/work/shared/musubi/logs/train_ok_h100.log")
    fixture = Path(__file__).parent / "data" / "rules" / "logs" / "train_ok_h100.log"
    log = fixture if fixture.exists() else healthy
    if not log.exists():
        pytest.skip("no healthy log")
    pf = Matcher(RULES).prefilter()
    assert pf is not None
    found = pf.lines(log.read_bytes())
    # the bulk (a tqdm bar or an INFO record per step) never passes; what does is printed
    # once per run or per save: musubi's dataset config dump (rules check its values),
    # the run summary and the checkpoint lines
    assert not [raw for _, raw in found if b"it/s" in raw or b"s/it" in raw], found
    assert len(found) <= 16, found


def test_old_mac_cr_only_file_has_lines() -> None:
    data = b"INFO: start\rfound 0 videos\rValueError: No training items found in the dataset\r"
    lines = normalize_text(data)
    assert [(ln.number, ln.text) for ln in lines] == [
        (1, "INFO: start"),
        (2, "found 0 videos"),
        (3, "ValueError: No training items found in the dataset"),
    ]
    # streamed in small pieces, and longer than the sniffing window
    big = b"INFO: x\r" * 3000 + b"found 0 videos\r"
    n = Normalizer()
    out = []
    for i in range(0, len(big), 777):
        out += n.feed(big[i : i + 777])
    out += n.close()
    assert len(out) == 3001 and out[-1].number == 3001 and out[-1].text == "found 0 videos"


def test_tqdm_redraws_without_newline_stay_one_line() -> None:
    data = b"".join(b"\rsteps: %d/40 [00:01<00:02, 1.00it/s]" % i for i in range(1, 400))
    lines = normalize_text(data)
    assert len(lines) == 1 and lines[0].progress and "399/40" in lines[0].text


def test_scanner_plus_progress_regex_equals_the_plain_regex_keep() -> None:
    """The diagnosis session's filter with progress, ``ScanAnd(matcher scanner, progress
    regex)``, passes what the one plain regex "(?:<matcher prefilter>)|it/s|..." passes:
    same findings and the same progress."""
    import re

    from wantui.core.logtext import ScanAnd
    from wantui.core.progress import RunStats

    m = Matcher(RULES)
    pre, scan = m.prefilter_bytes(), m.prefilter()
    assert pre is not None and scan is not None
    extra = b"it/s|s/it|epoch \\d|saving checkpoint: "
    keep = re.compile(b"(?:" + pre.pattern + b")|" + extra, pre.flags)
    data = b"".join(NOISE) * 30 + b"".join(PIECES[:40]) + b"epoch 3/9\n" + b"".join(NOISE)

    def run(n: Normalizer) -> tuple:
        mm = Matcher(RULES)
        stats = RunStats()
        for i in range(0, len(data), 5000):
            for line in n.feed(data[i : i + 5000]):
                mm.feed(line)
                stats.feed(line)
        for line in n.close():
            mm.feed(line)
            stats.feed(line)
        mm.finish()
        return findings_json(mm.findings()), stats.losses, stats.checkpoints, stats.epoch

    got = run(Normalizer(prefilter=ScanAnd(scan, re.compile(extra, pre.flags)), history=True))
    assert got == run(Normalizer(keep=keep, history=True))
    assert got[1] and got[3] == 3


@pytest.mark.parametrize("engine", ["hyperscan", "re2", "re"])
def test_prefilter_short_and_odd_literals(engine: str, monkeypatch) -> None:
    monkeypatch.setenv("WANTUI_RE2", "0" if engine == "re" else "1")
    monkeypatch.setenv("WANTUI_HYPERSCAN", "1" if engine == "hyperscan" else "0")
    pf = LiteralScan([b"\rab", b"xy", b"Q", b"E(s)"], [b"n"])
    assert pf.engine == engine or (engine == "hyperscan" and DEFAULT_ENGINE == "re2")
    data = b"zz\nab\nqxyq\nQ\nN\nno\nError(s) E(s)\n"
    assert pf.lines(data) == [(2, b"qxyq"), (3, b"Q"), (4, b"N"), (5, b"no"), (6, b"Error(s) E(s)")]
    assert pf.lines(b"") == [] and pf.lines(b"\n\n") == []
    assert pf.lines(b"tail without newline xy") == [(0, b"tail without newline xy")]
