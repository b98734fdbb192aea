"""findings.jsonl links a finding to its cause as soon as the cause is found (a reader
tailing the file mid-run sees the link before the run ends), and old files whose links
are only in the end line still read the same."""

from __future__ import annotations

import json
from pathlib import Path

from wantui.core.supervisor.diagnoser import FINDINGS_FILE, FindingsTail, RunDiagnoser
from wantui.tui.feed import Batch
from wantui.tui.feed_process import ProcessFeed

# the consequence (training finds no items) printed before its cause (a caching step's
# "found 0 videos"): the link can only be made once the cause's line is read
CONSEQUENCE = b"ValueError: num_samples should be a positive integer value, but got num_samples=0\n"
CAUSE = b"INFO:musubi_tuner.dataset.datasources:found 0 videos\n"


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / FINDINGS_FILE).read_text().splitlines()]


def test_the_link_is_written_when_the_cause_is_found(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    log = run_dir / "train.log"
    log.write_bytes(CONSEQUENCE)
    diag = RunDiagnoser(run_dir)
    try:
        diag.step_started("train", log)
        with diag._lock:  # noqa: SLF001 - read what the step wrote so far, now
            diag._drain()  # noqa: SLF001
        tail = FindingsTail(run_dir)
        first = tail.poll()
        assert [f.rule for f in first] == ["cache-missing"]
        assert first[0].consequence_of is None and tail.relinked() == []

        with open(log, "ab") as fh:
            fh.write(CAUSE)
        with diag._lock:  # noqa: SLF001
            diag._drain()  # noqa: SLF001
        more = tail.poll()
        assert [f.rule for f in more] == ["dataset-empty"]
        assert not tail.ended  # mid-run: the end line is not there yet
        assert first[0].consequence_of == "dataset-empty"  # the link line, applied
        assert tail.relinked() == [first[0]]
        links = [r for r in _records(run_dir) if "link" in r]
        assert links == [{"link": 0, "consequence_of": "dataset-empty"}]
    finally:
        diag.step_ended("train", 1)
        diag.close()
    records = _records(run_dir)
    assert records[-1] == {"end": True, "links": {"0": "dataset-empty"}}
    assert sum(1 for r in records if "link" in r) == 1  # never repeated


def test_an_old_file_with_links_only_in_its_end_line(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    new = tmp_path / "new"
    new.mkdir()
    log = run_dir / "train.log"
    log.write_bytes(CONSEQUENCE + CAUSE)
    diag = RunDiagnoser(new)
    diag.step_started("train", log)
    diag.step_ended("train", 1)
    diag.close()
    old = [r for r in _records(new) if "link" not in r]  # what an older wantui wrote
    (run_dir / FINDINGS_FILE).write_text("".join(json.dumps(r) + "\n" for r in old))
    for folder in (run_dir, new):
        tail = FindingsTail(folder)
        found = tail.poll()
        assert tail.ended
        assert {f.rule: f.consequence_of for f in found} == {
            "cache-missing": "dataset-empty",
            "dataset-empty": None,
        }


def test_a_link_reaches_the_ui_side_of_the_feed() -> None:
    feed = ProcessFeed(("train",))
    from wantui.core.finding import Finding, Severity

    def finding(rule: str) -> Finding:
        return Finding(rule=rule, catalog=rule, severity=Severity.ERROR, title=rule, message="")

    feed._merge(Batch(findings=[finding("cache-missing")]), {}, True)  # noqa: SLF001
    feed.drain()
    assert feed.findings[0].consequence_of is None
    feed._merge(  # noqa: SLF001
        Batch(findings=[finding("dataset-empty")], links={0: "dataset-empty"}), {}, True
    )
    batch = feed.drain()
    assert batch.links == {0: "dataset-empty"}
    assert [(f.rule, f.consequence_of) for f in feed.findings] == [
        ("dataset-empty", None),
        ("cache-missing", "dataset-empty"),
    ]


def test_the_feed_sends_a_link_found_after_its_finding(tmp_path: Path) -> None:
    from wantui.core.supervisor import StepOutput, StepStarted
    from wantui.tui.feed import Feed

    feed = Feed(("train",))
    feed.emit(StepStarted("train", (), None, None, tmp_path / "train.log"))
    feed.emit(StepOutput("train", CONSEQUENCE))
    first = feed.drain()
    assert [f.rule for f in first.findings] == ["cache-missing"] and not first.links
    feed.emit(StepOutput("train", CAUSE))
    batch = feed.drain()
    assert [f.rule for f in batch.findings] == ["dataset-empty"]
    assert batch.links == {0: "dataset-empty"}
