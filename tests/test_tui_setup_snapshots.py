"""80x24 snapshots of the four guided-setup screens (pytest-textual-snapshot).

Deterministic data: a fixed folder with a fake musubi-tuner checkout, model files in the
real Wan header shapes (sparse), two videos (one captioned), and a fixed probe answer
(two 80 GiB GPUs, so the data-parallel choice shows) instead of asking this machine's
Python. Re-bless with ``pytest tests/test_tui_setup_snapshots.py --snapshot-update``."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.fakes.fakeproject import FAKE_MUSUBI
from tests.modelfactory import dit_tensors, vae_tensors, write_safetensors
from wantui.tui.app import WantuiApp

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(sys.platform == "win32", reason="fixed POSIX paths on screen"),
]

FIXED = Path("/tmp/wantui-setup-snapshots")
PROBE = SimpleNamespace(
    data={
        "torch": {
            "version": "2.7.1+cu128",
            "cuda_build": "12.8",
            "gpus": [
                {"name": "NVIDIA H100 80GB HBM3", "total_bytes": 80 * 2**30},
                {"name": "NVIDIA H100 80GB HBM3", "total_bytes": 80 * 2**30},
            ],
        },
        "bitsandbytes": {"importable": True, "cuda_ok": True},
    },
    findings=[],
)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.rmtree(FIXED, ignore_errors=True)
    checkout = FIXED / "musubi-tuner"
    shutil.copytree(FAKE_MUSUBI, checkout)
    py = checkout / ".venv" / "bin" / "python"
    py.parent.mkdir(parents=True)
    os.symlink(sys.executable, py)
    proj = FIXED / "proj"
    models = proj / "models"
    models.mkdir(parents=True)
    for name, tensors in (
        ("wan2.2_t2v_low_noise_14B_fp16.safetensors", dit_tensors("14B", "t2v", dtype="F16")),
        ("wan2.2_t2v_high_noise_14B_fp16.safetensors", dit_tensors("14B", "t2v", dtype="F16")),
        ("wan_2.1_vae.safetensors", vae_tensors("2.1")),
    ):
        write_safetensors(models / name, tensors)  # no T5: the screen offers its download
    vids = proj / "data" / "videos"
    vids.mkdir(parents=True)
    for stem in ("a", "b"):
        (vids / f"{stem}.mp4").write_bytes(b"\x00" * 64)
    (vids / "a.txt").write_text("a person walking")
    # only the fixed folder's checkout is found: no home checkout, no active venv
    monkeypatch.setenv("HOME", str(FIXED / "home"))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    return proj


def _state(proj: Path):  # noqa: ANN202 - a SetupState
    from wantui.tui.screens.setup_base import SetupState

    return SetupState(
        cwd=proj,
        checkout=FIXED / "musubi-tuner",
        python=str(FIXED / "musubi-tuner/.venv/bin/python"),
        probe=PROBE,
    )


async def _settle(pilot) -> None:  # noqa: ANN001
    for _ in range(300):  # workers (scan, checks) finish, even on a loaded box; then a redraw
        await pilot.pause(0.1)
        if not pilot.app.workers._workers or all(  # noqa: SLF001
            w.is_finished for w in pilot.app.workers
        ):
            break
    # a blinking cursor is drawn or not depending on the moment of the picture
    from textual.widgets import Input

    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause(0.3)


def test_setup_1_checkout_80x24(snap_compare, world: Path) -> None:  # noqa: ANN001
    async def probed(pilot) -> None:  # noqa: ANN001
        await _settle(pilot)
        screen = pilot.app.screen
        screen.state.checkout, screen.state.python = _state(world).checkout, _state(world).python
        screen.show_probe(PROBE)
        await pilot.pause(0.2)

    app = WantuiApp(start="setup", cwd=world)
    assert snap_compare(app, terminal_size=(80, 24), run_before=probed)


def test_setup_2_models_80x24(snap_compare, world: Path) -> None:  # noqa: ANN001
    from wantui.tui.screens.setup_models import ModelsScreen

    async def models(pilot) -> None:  # noqa: ANN001
        await pilot.app.push_screen(ModelsScreen(_state(world)))
        await _settle(pilot)

    app = WantuiApp(start="setup", cwd=world)
    assert snap_compare(app, terminal_size=(80, 24), run_before=models)


def test_setup_3_dataset_80x24(snap_compare, world: Path) -> None:  # noqa: ANN001
    from wantui.tui.screens.setup_dataset import DatasetScreen

    async def dataset(pilot) -> None:  # noqa: ANN001
        await pilot.app.push_screen(DatasetScreen(_state(world)))
        pilot.app.screen.query_one("#media-dir").focus()
        await pilot.press("enter")
        await _settle(pilot)

    app = WantuiApp(start="setup", cwd=world)
    assert snap_compare(app, terminal_size=(80, 24), run_before=dataset)


def test_setup_4_training_80x24(snap_compare, world: Path) -> None:  # noqa: ANN001
    from wantui.core.models import scan_models
    from wantui.core.setup_defaults import assign_models
    from wantui.tui.screens.setup_training import TrainingScreen

    state = _state(world)
    state.models_dir = world / "models"
    state.models = assign_models(scan_models(world / "models"))
    state.dataset_toml = world / "dataset.toml"

    async def training(pilot) -> None:  # noqa: ANN001
        await pilot.app.push_screen(TrainingScreen(state))
        await _settle(pilot)

    app = WantuiApp(start="setup", cwd=world)
    assert snap_compare(app, terminal_size=(80, 24), run_before=training)
