"""Progress parsing: tqdm bars, epochs, checkpoints, RunStats on the healthy log."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from wantui.core.logtext import Line, iter_file_lines
from wantui.core.progress import RunStats, parse_progress

HEALTHY = Path(__file__).parent / "data" / "rules" / "logs" / "train_ok_h100.log"


def test_train_bar() -> None:
    p = parse_progress("steps:  35%|███▌      | 14/40 [00:08<00:16,  1.59it/s, avr_loss=1.65]")
    assert p is not None
    assert (p.step, p.total, p.rate_its, p.eta_s, p.avr_loss, p.desc) == (
        14,
        40,
        1.59,
        16.0,
        1.65,
        "steps",
    )


def test_seconds_per_iteration_is_inverted() -> None:
    p = parse_progress("steps:  67%|██████▋   | 2/3 [00:06<00:03,  3.12s/it, avr_loss=1.98]")
    assert p is not None and p.rate_its == pytest.approx(1 / 3.12)


def test_unknown_rate_and_no_total() -> None:
    p = parse_progress("0it [00:00, ?it/s]")
    assert p is not None and p.step == 0 and p.total is None and p.rate_its is None
    p = parse_progress("4it [00:07,  1.88s/it]")
    assert (
        p is not None and p.step == 4 and p.total is None and p.rate_its == pytest.approx(1 / 1.88)
    )


def test_loading_bar_and_hours() -> None:
    p = parse_progress(
        "Loading wan2.1_t2v_1.3B_bf16.safetensors: 100%|██████████| 825/825 [00:08<00:00, 146.64it/s]"
    )
    assert p is not None and (p.step, p.total, p.desc) == (
        825,
        825,
        "Loading wan2.1_t2v_1.3B_bf16.safetensors",
    )
    p = parse_progress(
        "steps:  10%|█         | 100/1000 [1:02:03<9:18:27,  37.23s/it, avr_loss=0.0871]"
    )
    assert p is not None and p.elapsed_s == 3723 and p.eta_s == 9 * 3600 + 18 * 60 + 27


def test_nan_loss() -> None:
    p = parse_progress("steps:  50%|█████     | 5/10 [00:05<00:05,  1.00it/s, avr_loss=nan]")
    assert p is not None and p.avr_loss is not None and math.isnan(p.avr_loss)
    s = RunStats()
    s.feed(
        Line(
            1, "steps:  50%|█████     | 5/10 [00:05<00:05,  1.00it/s, avr_loss=nan]", progress=True
        )
    )
    assert s.loss_is_nan


@pytest.mark.parametrize(
    "text",
    [
        "INFO:x:bucket: (128, 128, 1), count: 2",
        "epoch 1/10",
        "",
        "12 [00:01, 1it/s]",
        "found [1, 2]",
    ],
)
def test_not_progress(text: str) -> None:
    assert parse_progress(text) is None


def test_runstats_on_healthy_log_every_step() -> None:
    s = RunStats().feed_all(iter_file_lines(HEALTHY, history=True))
    assert sorted(s.losses) == list(range(1, 41))
    assert s.step == 40 and s.total_steps == 40
    assert s.last_train is not None and s.last_train.rate_its == pytest.approx(1.61)
    assert s.losses[1] == pytest.approx(1.68) and s.losses[40] == pytest.approx(1.42)
    assert all(0.5 < v < 5 for v in s.losses.values()) and not s.loss_is_nan
    assert (s.epoch, s.epochs) == (10, 10)
    assert s.checkpoints == [
        "out/gpu-lora-step00000020.safetensors",
        "out/gpu-lora-step00000040.safetensors",
        "out/gpu-lora.safetensors",
    ]


def test_runstats_collapsed_lines_still_reach_the_end() -> None:
    s = RunStats().feed_all(iter_file_lines(HEALTHY))
    assert s.step == 40 and s.total_steps == 40 and 40 in s.losses


def _bar(step: int, loss: str) -> str:
    return f"steps:  50%|█████     | {step}/10 [00:05<00:05,  1.00it/s, avr_loss={loss}]"


def test_loss_history_keeps_first_seen_order_and_its_bound() -> None:
    s = RunStats(max_history=2)
    for n, (step, loss) in enumerate([(1, "1.5"), (2, "1.4"), (1, "1.3"), (3, "1.2")], 1):
        s.feed(Line(n, _bar(step, loss), progress=True))
    # a redraw of a known step updates its value; a step past the bound is not kept
    assert s.losses == {1: 1.3, 2: 1.4}
    assert s.loss_steps == [1, 2]


def test_session_reports_each_new_loss_once() -> None:
    from wantui.core.diagnosis import Session

    session = Session([], progress=True, live=True)
    session.start("train", step="train", source="train.log")
    session.feed("train", ("\r" + _bar(1, "1.5") + "\r" + _bar(2, "1.4") + "\n").encode())
    assert session.new_losses("train") == [1.5, 1.4]
    assert session.new_losses("train") == []
    session.feed("train", (_bar(2, "1.0") + "\n" + _bar(3, "0.9") + "\n").encode())
    assert session.new_losses("train") == [0.9]
