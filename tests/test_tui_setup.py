"""Guided setup through Pilot: from an empty folder to a saved, checked wantui.toml and
the pipeline screen, with a real probe run by the "pipeline's" interpreter and model
files in the real Wan header shapes (sparse files)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.fakes.fakeproject import FAKE_MUSUBI
from tests.fakes_tui.helpers import wait_for
from tests.modelfactory import dit_tensors, t5_wan_tensors, vae_tensors, write_safetensors
from wantui.core.project import load_project
from wantui.tui.app import WantuiApp

pytestmark = pytest.mark.timeout(120)


def _world(tmp: Path) -> Path:
    checkout = tmp / "musubi-tuner"
    shutil.copytree(FAKE_MUSUBI, checkout)
    venv_py = checkout / ".venv" / "bin" / "python"
    venv_py.parent.mkdir(parents=True)
    os.symlink(sys.executable, venv_py)
    proj = tmp / "proj"
    models = proj / "models"
    models.mkdir(parents=True)
    write_safetensors(
        models / "wan2.2_t2v_low_noise_14B_fp16.safetensors", dit_tensors("14B", "t2v", dtype="F16")
    )
    write_safetensors(
        models / "wan2.2_t2v_high_noise_14B_fp16.safetensors",
        dit_tensors("14B", "t2v", dtype="F16"),
    )
    write_safetensors(models / "wan_2.1_vae.safetensors", vae_tensors("2.1"))
    write_safetensors(models / "models_t5_umt5-xxl-enc-bf16.safetensors", t5_wan_tensors())
    vids = proj / "data" / "videos"
    vids.mkdir(parents=True)
    for stem in ("a", "b"):
        (vids / f"{stem}.mp4").write_bytes(b"\x00" * 64)
    (vids / "a.txt").write_text("a person walking")  # b has no caption
    return proj


def test_setup_from_empty_folder_to_pipeline(tmp_path: Path) -> None:
    proj = _world(tmp_path)

    async def main() -> None:
        app = WantuiApp(start="setup", cwd=proj)
        async with app.run_test(size=(100, 40)) as pilot:
            from wantui.tui.screens.setup_checkout import CheckoutScreen

            screen = app.screen
            assert isinstance(screen, CheckoutScreen)
            assert screen.choices and screen.choices[0][0] == (tmp_path / "musubi-tuner").resolve()
            await pilot.press("enter")
            assert await wait_for(pilot, lambda: screen.state.probe is not None, timeout=60)
            state = screen.state
            await pilot.press("ctrl+n")
            assert await wait_for(pilot, lambda: state.models is not None)
            m = state.models
            assert m.dit.path.endswith("low_noise_14B_fp16.safetensors")
            assert m.dit_high_noise.path.endswith("high_noise_14B_fp16.safetensors")
            assert m.vae is not None and m.t5 is not None and not m.missing
            await pilot.press("ctrl+n")
            app.screen.query_one("#media-dir").focus()
            await pilot.press("enter")
            assert await wait_for(pilot, lambda: state.dataset_toml is not None)
            assert await wait_for(
                pilot, lambda: "without a caption" in str(app.screen.query_one("#scan").render())
            )
            assert "1 without a caption" in str(app.screen.query_one("#scan").render())
            await pilot.press("ctrl+n")
            await pilot.pause(0.3)
            await pilot.press("ctrl+s")
            assert await wait_for(pilot, lambda: (proj / "wantui.toml").is_file())
            project = load_project(proj)
            args = project.steps["train"].args
            assert args[args.index("--task") + 1] == "t2v-A14B"
            assert args[args.index("--mixed_precision") + 1] == "fp16"  # from the DiT header
            assert "--dit_high_noise" in args and "--sdpa" in args
            assert project.python == str(tmp_path / "musubi-tuner" / ".venv" / "bin" / "python")
            assert await wait_for(pilot, lambda: bool(state.findings), timeout=60)
            # the end of the setup says what training will need (`wantui plan`'s verdict)
            status = app.screen.query_one("#status")
            assert await wait_for(pilot, lambda: "plan train:" in str(status.render()))
            await pilot.press("ctrl+g")
            await pilot.pause(0.3)
            from wantui.tui.screens.pipeline import PipelineScreen

            assert isinstance(app.screen, PipelineScreen)
            # the pipeline opens on the preflight's findings, not "no findings yet"
            from wantui.tui.widgets.findings_panel import FindingsPanel

            assert await wait_for(pilot, lambda: app.screen.gate is not None, timeout=60)
            assert app.screen.query_one(FindingsPanel).findings

    asyncio.run(main())


def test_setup_without_checkout_explains_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    empty = tmp_path / "empty"
    empty.mkdir()

    async def main() -> None:
        app = WantuiApp(start="setup", cwd=empty)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.2)
            status = str(app.screen.query_one("#status").render())
            assert "git clone https://github.com/kohya-ss/musubi-tuner" in status
            assert "pip install -e ." in status
            await pilot.press("ctrl+n")  # cannot go on without an interpreter
            assert "choose a checkout" in str(app.screen.query_one("#status").render())

    asyncio.run(main())
