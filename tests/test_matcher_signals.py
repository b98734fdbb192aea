"""A step killed by a signal: accelerate's wrapper says "died with <Signals.SIGKILL: 9>"."""

from __future__ import annotations

from wantui.core.logtext import normalize_text
from wantui.core.matcher import Matcher
from wantui.core.rules import load_rules

WRAPPER = (
    "subprocess.CalledProcessError: Command '['python', 'wan_train_network.py']' "
    "died with <Signals.SIGKILL: 9>.\n"
)


def test_killed_child_is_host_oom_with_signal_status() -> None:
    m = Matcher(load_rules(include_user=False))
    for line in normalize_text(
        b"steps:   3%| | 30/1000 [05:10<2:47:12, 10.34s/it]\n" + WRAPPER.encode()
    ):
        m.feed(line)
    m.finish()
    found = m.findings()
    assert [f.rule for f in found] == ["host-oom"]
    assert m.exit_status == -9


def test_nonzero_exit_wrapper_is_still_never_a_finding() -> None:
    text = WRAPPER.replace("died with <Signals.SIGKILL: 9>", "returned non-zero exit status 1")
    m = Matcher(load_rules(include_user=False))
    for line in normalize_text(text.encode()):
        m.feed(line)
    m.finish()
    assert m.exit_status == 1
    assert [f.rule for f in m.findings()] == ["wrapper-failure-unknown"]
