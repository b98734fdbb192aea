"""Guided setup, screen by screen (Pilot): screen 4 shows what Ctrl+S saves, screens 2
and 3 take typing at once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.fakes_tui.helpers import wait_for
from tests.modelfactory import dit_tensors, t5_wan_tensors, vae_tensors, write_safetensors
from wantui.core.project import load_project
from wantui.tui.app import WantuiApp
from wantui.tui.screens.setup_base import SetupState

pytestmark = pytest.mark.timeout(120)

PROBE = SimpleNamespace(
    data={
        "torch": {
            "version": "2.7.1+cu128",
            "cuda_build": "12.8",
            "gpus": [{"name": "NVIDIA H100 80GB HBM3", "total_bytes": 80 * 2**30}],
        },
        "bitsandbytes": {"importable": True, "cuda_ok": True},
    },
    findings=[],
    ok=False,  # the preflight after Ctrl+S uses the findings, not the data
)


def _state(tmp: Path) -> SetupState:
    proj = tmp / "proj"
    models = proj / "models"
    models.mkdir(parents=True)
    for name, tensors in (
        ("wan2.2_t2v_low_noise_14B_fp16.safetensors", dit_tensors("14B", "t2v", dtype="F16")),
        ("wan2.2_t2v_high_noise_14B_fp16.safetensors", dit_tensors("14B", "t2v", dtype="F16")),
        ("wan_2.1_vae.safetensors", vae_tensors("2.1")),
        ("models_t5_umt5-xxl-enc-bf16.safetensors", t5_wan_tensors()),
    ):
        write_safetensors(models / name, tensors)
    (proj / "data" / "videos").mkdir(parents=True)
    return SetupState(
        cwd=proj, checkout=tmp / "musubi-tuner", python="/usr/bin/python3", probe=PROBE
    )


def test_setup_4_shows_exactly_what_ctrl_s_saves(tmp_path: Path) -> None:
    from wantui.core.models import scan_models
    from wantui.core.setup_defaults import assign_models
    from wantui.tui.screens.setup_training import TrainingScreen

    state = _state(tmp_path)
    state.models_dir = state.cwd / "models"
    state.models = assign_models(scan_models(state.models_dir))
    state.dataset_toml = state.cwd / "dataset.toml"
    assert state.models.dit_high_noise is not None

    async def main() -> None:
        app = WantuiApp(start="setup", cwd=state.cwd)
        async with app.run_test(size=(100, 40)) as pilot:
            await app.push_screen(TrainingScreen(state))
            await pilot.pause(0.2)
            shown = str(app.screen.query_one("#settings").render())
            await pilot.press("ctrl+s")
            assert await wait_for(pilot, lambda: (state.cwd / "wantui.toml").is_file())
            saved = load_project(state.cwd)
            # the high-noise expert was saved and is on screen, with the exact path
            assert "--dit_high_noise" in saved.steps["train"].args
            assert state.models.dit_high_noise.path in shown
            flat = "".join(shown.split())  # the Static wraps long lines
            assert "".join((state.cwd / "wantui.toml").read_text().split()) in flat

    asyncio.run(main())


@pytest.mark.parametrize("which", ["models", "dataset"])
def test_setup_2_and_3_focus_their_text_field_on_open(tmp_path: Path, which: str) -> None:
    from wantui.tui.screens.setup_dataset import DatasetScreen
    from wantui.tui.screens.setup_models import ModelsScreen

    state = _state(tmp_path)
    screen_cls, box_id = {
        "models": (ModelsScreen, "models-dir"),
        "dataset": (DatasetScreen, "media-dir"),
    }[which]

    async def main() -> None:
        app = WantuiApp(start="setup", cwd=state.cwd)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.push_screen(screen_cls(state))
            await pilot.pause(0.2)
            box = app.screen.query_one(f"#{box_id}")
            before = box.value
            await pilot.press("end", "z")  # typing goes to the box, no click needed
            assert app.focused is box
            assert box.value == before + "z"

    asyncio.run(main())


def test_setup_4_applies_any_fix_of_a_finding(tmp_path: Path) -> None:
    """Ctrl+F on screen 4 previews the finding's fixes; Tab shows the next one and
    applying applies that one (through the same fix flow as the CLI: journal, undo)."""
    from wantui.core.finding import Finding, Severity
    from wantui.core.fixactions import FixAction
    from wantui.core.fixes import FixSession
    from wantui.core.models import scan_models
    from wantui.core.setup_defaults import assign_models
    from wantui.tui.dialogs.fix_preview import FixDialog
    from wantui.tui.screens.setup_training import TrainingScreen

    state = _state(tmp_path)
    state.models_dir = state.cwd / "models"
    state.models = assign_models(scan_models(state.models_dir))
    state.dataset_toml = state.cwd / "dataset.toml"
    finding = Finding(
        "too-many-epochs",
        "too-many-epochs",
        Severity.WARNING,
        "Too many epochs",
        "fewer epochs",
        fixes=[
            FixAction("flag_set", {"step": "train", "flag": "--max_train_epochs", "value": str(n)})
            for n in (3, 5)
        ],
        origin="check",
    )

    async def main() -> None:
        app = WantuiApp(start="setup", cwd=state.cwd)
        async with app.run_test(size=(100, 40)) as pilot:
            await app.push_screen(TrainingScreen(state))
            await pilot.pause(0.2)
            await pilot.press("ctrl+s")
            assert await wait_for(pilot, lambda: (state.cwd / "wantui.toml").is_file())
            # the preflight after Ctrl+S shows its findings first; ours replace them
            assert await wait_for(pilot, lambda: app.screen.query_one("#preflight").display)
            saved = (state.cwd / "wantui.toml").read_bytes()
            app.screen.show_findings([finding])
            await pilot.pause(0.2)
            await pilot.press("ctrl+f")
            assert await wait_for(pilot, lambda: isinstance(app.screen, FixDialog))
            assert app.screen.choice == (1, 2)
            await pilot.press("tab")
            assert await wait_for(
                pilot, lambda: isinstance(app.screen, FixDialog) and app.screen.choice == (2, 2)
            )
            await pilot.press("a")
            assert await wait_for(pilot, lambda: not isinstance(app.screen, FixDialog))
            args = load_project(state.cwd).steps["train"].args
            assert args[args.index("--max_train_epochs") + 1] == "5"
            # recorded in the journal: the CLI's undo takes it back
            FixSession(load_project(state.cwd)).undo()
            assert (state.cwd / "wantui.toml").read_bytes() == saved

    asyncio.run(main())
