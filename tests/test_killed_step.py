"""A killed step (issue 9 item 17): say what is known, name the OOM killer only on
evidence (the kernel log, the cgroup's oom_kill counter), never offer a fix that makes it
worse, and a SIGKILLed launcher reads as killed, not as "exit status 1, no rule"."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.cli_helpers import run_wantui
from wantui.core import killed
from wantui.core.killed import KillWatch, cgroup_oom_kills, kernel_oom_lines
from wantui.core.logtext import normalize_text
from wantui.core.matcher import Matcher
from wantui.core.rules import load_rules
from wantui.core.supervisor import StepExited, StepOutput, StepStarted

WRAPPER = (
    "steps:   3%| | 30/1000 [05:10<2:47:12, 10.34s/it]\n"
    "subprocess.CalledProcessError: Command '['python', 'wan_train_network.py']' "
    "died with <Signals.SIGKILL: 9>.\n"
)
KERNEL = (
    "[ 8123.456789] Out of memory: Killed process 4821 (python) total-vm:96544312kB, "
    "anon-rss:63412560kB, file-rss:0kB, shmem-rss:0kB, UID:1000\n"
)


def _diagnose(text: str) -> list:
    m = Matcher(load_rules(include_user=False))
    for line in normalize_text(text.encode()):
        m.feed(line)
    m.finish()
    return m.findings()


def test_sigkill_alone_is_killed_not_host_oom() -> None:
    (f,) = _diagnose(WRAPPER)
    assert (f.rule, f.catalog) == ("step-killed", "process-killed")
    assert "SIGKILL (signal 9)" in f.title and "not in this log" in f.message
    assert not f.fixes  # no guess, so no fix for a guess


def test_kernel_oom_line_names_the_oom_killer_first() -> None:
    found = _diagnose(KERNEL + WRAPPER)
    assert [f.rule for f in found] == ["host-oom", "step-killed"]
    assert found[1].consequence_of == "host-oom"
    assert found[0].fixes[0].params == {
        "step": "train",
        "flag": "--max_data_loader_n_workers",
        "value": "2",
        "ceiling": True,
    }


def _project(tmp_path: Path, workers: str | None) -> Path:
    args = ["--task", "t2v-14B"] + (["--max_data_loader_n_workers", workers] if workers else [])
    (tmp_path / "wantui.toml").write_text(
        '[project]\nname = "x"\n\n[steps.train]\nscript = "wan_train_network.py"\n'
        f"args = {json.dumps(args)}\n"
    )
    (tmp_path / "train.log").write_text(KERNEL + WRAPPER)
    return tmp_path


@pytest.mark.parametrize(
    ("workers", "offered"), [("1", False), ("2", False), ("4", True), (None, True)]
)
def test_fewer_workers_is_offered_only_when_it_lowers_them(tmp_path, workers, offered) -> None:
    """The project had 1 worker: "use 2" would raise it. Absent: musubi's default is 8."""
    proj = _project(tmp_path, workers)
    r = run_wantui("fix", "--log", "train.log", "--json", cwd=proj, timeout=120)
    flags = [f["fix"]["params"].get("flag") for f in json.loads(r.stdout)["fixes"]]
    assert ("--max_data_loader_n_workers" in flags) is offered, r.stdout


def test_cgroup_counter_v1_and_v2(tmp_path) -> None:
    (tmp_path / "memory" / "job").mkdir(parents=True)
    (tmp_path / "memory" / "job" / "memory.oom_control").write_text(
        "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"
    )
    v1 = tmp_path / "v1"
    v1.write_text("4:memory:/job\n0::/\n")
    assert cgroup_oom_kills(str(v1), str(tmp_path)) == (
        3,
        str(tmp_path / "memory" / "job" / "memory.oom_control"),
    )
    (tmp_path / "user.slice").mkdir()
    (tmp_path / "user.slice" / "memory.events").write_text(
        "low 0\nhigh 0\nmax 5\noom 2\noom_kill 2\n"
    )
    v2 = tmp_path / "v2"
    v2.write_text("0::/user.slice\n")
    assert cgroup_oom_kills(str(v2), str(tmp_path))[0] == 2
    assert cgroup_oom_kills(str(tmp_path / "nope"), str(tmp_path)) is None


def test_kernel_log_records_after_the_step_started(tmp_path) -> None:
    kmsg = tmp_path / "kmsg"
    kmsg.write_text(
        "6,100,5000000,-;Out of memory: Killed process 11 (python) total-vm:1kB\n"
        " SUBSYSTEM=memory\n"
        "6,101,9000000,-;usb 1-1: new device\n"
        "3,102,9500000,-;Out of memory: Killed process 4821 (python) total-vm:96544312kB\n"
    )
    lines = kernel_oom_lines(since=8.0, kmsg=str(kmsg))
    assert lines == [
        "[    9.500000] Out of memory: Killed process 4821 (python) total-vm:96544312kB"
    ]
    assert kernel_oom_lines(kmsg=str(tmp_path / "missing")) is None  # unreadable: unknown


def _live(tmp_path, monkeypatch, evidence: list[tuple[str, str]], exited: StepExited):
    from wantui.cli.run_cmd import LiveReport

    monkeypatch.setattr(KillWatch, "evidence", lambda self: evidence)
    report = LiveReport(echo=None)
    log = tmp_path / "train.log"
    log.write_text("")
    report(StepStarted("train", ("python",), 1, 1, log))
    report(StepOutput("train", b"steps:   3%| | 30/1000 [05:10<2:47:12, 10.34s/it]\n"))
    report(exited)
    return report.findings()


def test_run_names_the_oom_killer_from_the_cgroup_counter(tmp_path, monkeypatch) -> None:
    line = "memory.events: oom_kill 0 -> 1 (/sys/fs/cgroup/memory.events, read by wantui)"
    found = _live(
        tmp_path, monkeypatch, [("/sys/fs/cgroup/memory.events", line)],
        StepExited("train", None, signal.SIGKILL),
    )  # fmt: skip
    assert found[0].rule == "host-oom"
    assert found[0].evidence[0].text == line


def test_run_without_evidence_says_killed_by_sigkill_only(tmp_path, monkeypatch) -> None:
    """The launcher itself killed (no wrapper line, no traceback): killed, not OOM."""
    found = _live(tmp_path, monkeypatch, [], StepExited("train", None, signal.SIGKILL))
    assert not [f for f in found if f.catalog == "host-oom"]
    assert any("SIGKILL" in f.title for f in found), [f.title for f in found]
    assert not any("exit status 1" in f.title + f.message for f in found)


def test_tui_feed_reports_a_killed_launcher_as_killed(monkeypatch) -> None:
    from wantui.tui.feed import Feed

    monkeypatch.setattr(KillWatch, "evidence", lambda self: [])
    feed = Feed(max_duty=1.0)
    feed.emit(StepStarted("train", (), None, None, Path("x.log")))
    feed.emit(StepOutput("train", b"steps:   3%| | 30/1000 [05:10<2:47:12, 10.34s/it]\n"))
    feed.emit(StepExited("train", None, signal.SIGKILL))
    titles = [f.title for f in feed.findings]
    assert any("killed by SIGKILL" in t for t in titles), titles


def test_watch_reads_this_machine_without_raising() -> None:
    """Whatever this machine lets us read (or not), the watch answers, it never raises."""
    watch = KillWatch()
    assert isinstance(watch.evidence(), list)
    assert killed.MAX_KMSG_BYTES <= 8 * 1024 * 1024
