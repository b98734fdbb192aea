"""A step killed by a signal: accelerate's wrapper says "died with <Signals.SIGKILL: 9>"."""

from __future__ import annotations

from wantui.core.logtext import normalize_text
from wantui.core.matcher import Matcher
from wantui.core.rules import load_rules

WRAPPER = (
    "subprocess.CalledProcessError: Command '['python', 'wan_train_network.py']' "
    "died with <Signals.SIGKILL: 9>.\n"
)


def test_killed_child_is_killed_with_signal_status() -> None:
    """SIGKILL alone says who was killed, not who killed it: never host OOM on a guess."""
    m = Matcher(load_rules(include_user=False))
    for line in normalize_text(
        b"steps:   3%| | 30/1000 [05:10<2:47:12, 10.34s/it]\n" + WRAPPER.encode()
    ):
        m.feed(line)
    m.finish()
    found = m.findings()
    assert [f.rule for f in found] == ["step-killed"]
    assert m.exit_status == -9


def test_nonzero_exit_wrapper_is_still_never_a_finding() -> None:
    text = WRAPPER.replace("died with <Signals.SIGKILL: 9>", "returned non-zero exit status 1")
    m = Matcher(load_rules(include_user=False))
    for line in normalize_text(text.encode()):
        m.feed(line)
    m.finish()
    assert m.exit_status == 1
    assert [f.rule for f in m.findings()] == ["wrapper-failure-unknown"]


def _ranked(text: str) -> tuple[list[str], Matcher]:
    m = Matcher(load_rules(include_user=False))
    for line in normalize_text(text.encode()):
        m.feed(line)
    m.finish()
    return [f.rule for f in m.findings()], m


def test_traceback_behind_a_gui_prefix_is_still_a_failed_run() -> None:
    prefix = "[MusubiTuner WanLoRATrainer] TRAINER: "
    text = (
        f"{prefix}Traceback (most recent call last):\n"
        f'{prefix}  File "C:\\AI\\node\\run_training.py", line 16, in <module>\n'
        f"{prefix}NameError: name 'debug_print' is not defined\n"
    )
    rules, m = _ranked(text)
    assert rules == ["wrapper-failure-unknown"]
    evidence = m.findings()[0].evidence
    assert [e.line for e in evidence] == [1, 2, 3]


def test_flattened_wrapper_lines_mark_the_run_failed() -> None:
    for tail, status in (
        ("'--output_dir', 'out']' returned non-zero exit status 1.\n", 1),
        ("[Trainer] ERROR: Training subprocess failed with return code 3.\n", 3),
    ):
        rules, m = _ranked("INFO:musubi_tuner.training.trainer_base:preparing accelerator\n" + tail)
        assert rules == ["wrapper-failure-unknown"] and m.exit_status == status


def test_healthy_log_mentioning_no_wrapper_stays_clean() -> None:
    rules, m = _ranked("steps: 100%|██████████| 40/40 [00:20<00:00, 1.9it/s, avr_loss=0.1]\n")
    assert rules == [] and not m.failed
