"""The fast preflight gates every run: `wantui run` and the app's `g` show what the checks
found and ask before running into a known error; scripts pass --force."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli_helpers import start_wantui
from tests.fakes.fakeproject import make_project
from tests.fakes_tui.helpers import wait_for
from wantui.core.gate import preflight_gate
from wantui.core.probe.cache import CACHE_FILE, load_probe, save_probe
from wantui.core.probe.runner import ProbeResult
from wantui.core.supervisor import latest_run

pytestmark = pytest.mark.timeout(120)


# -- wantui run ------------------------------------------------------------------------------


def test_run_without_a_terminal_is_held_by_known_errors(tmp_path: Path, wantui_cli) -> None:
    project = make_project(tmp_path)  # fake steps: no --vae, no --dit, no attention flag ...
    r = wantui_cli("run", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "preflight of latents, te, train:" in r.stderr
    assert "error: Missing --vae" in r.stderr and "No attention flag" in r.stderr
    assert "not started" in r.stderr and "--force" in r.stderr
    assert latest_run(project) is None  # nothing ran
    r = wantui_cli("run", "--json", cwd=tmp_path)
    data = json.loads(r.stdout)
    assert r.returncode == 1 and data["run"] is None and data["preflight"]["held"] is True
    assert any(f["catalog"] == "missing-attention-flag" for f in data["findings"])


def test_force_runs_anyway_and_only_the_chosen_steps_are_checked(
    tmp_path: Path, wantui_cli
) -> None:
    project = make_project(tmp_path)
    r = wantui_cli("run", "--force", "--steps", "te", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "preflight of te:" in r.stderr and "--force: starting anyway" in r.stderr
    assert "Missing --t5" in r.stderr and "Missing --vae" not in r.stderr  # latents not run
    assert latest_run(project) is not None


def test_a_run_with_nothing_known_starts_without_asking(tmp_path: Path, wantui_cli) -> None:
    from tests.test_check_catalog_rows import build  # a healthy project, stand-in scripts

    project = build(tmp_path)
    r = wantui_cli("run", "--steps", "latents", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "preflight of latents: nothing found" in r.stderr and "not started" not in r.stderr
    assert latest_run(project).status == "succeeded"


def _pty_run(cwd: Path, answer: bytes) -> tuple[int, str]:
    """`wantui run` with a terminal on stdin and stderr; answers the question."""
    master, slave = pty.openpty()
    p = start_wantui(
        "run", "--steps", "te", cwd=cwd, stdin=slave, stderr=slave, stdout=subprocess.DEVNULL
    )
    os.close(slave)
    seen = b""
    end = time.monotonic() + 60
    while b"Run anyway? [y/N]" not in seen and time.monotonic() < end:
        if select.select([master], [], [], 0.5)[0]:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
    assert b"Run anyway? [y/N]" in seen, seen.decode(errors="replace")
    os.write(master, answer)
    while p.poll() is None:  # drain the terminal while the run is followed
        if select.select([master], [], [], 0.2)[0]:
            try:
                seen += os.read(master, 4096)
            except OSError:
                pass
    os.close(master)
    return p.wait(timeout=60), seen.decode(errors="replace")


def test_run_on_a_terminal_asks_before_running_into_known_errors(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    rc, text = _pty_run(tmp_path, b"n\n")
    assert rc == 1 and "not started" in text and latest_run(project) is None
    rc, text = _pty_run(tmp_path, b"y\n")
    assert rc == 0, text
    assert latest_run(project) is not None


# -- the gate and the cached probe -------------------------------------------------------------


def _fake_python(tmp: Path) -> tuple[str, Path]:
    """An "interpreter" (never run) in a venv-shaped prefix."""
    prefix = tmp / "venv"
    (prefix / "bin").mkdir(parents=True)
    site = prefix / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    py = prefix / "bin" / "python"
    py.write_text("#!/bin/sh\n")
    py.chmod(0o755)
    return str(py), site


def _report(prefix: Path) -> dict:
    return {
        "python": {"version": "3.12.3", "executable": "x", "prefix": str(prefix)},
        "torch": {"installed": False, "error": "No module named 'torch'"},
    }


def test_cached_probe_is_used_while_the_install_is_unchanged(tmp_path: Path) -> None:
    py, site = _fake_python(tmp_path)
    root = tmp_path / "proj"
    root.mkdir()
    res = ProbeResult(python=py, data=_report(tmp_path / "venv"), ok=True)
    assert save_probe(root, res, checkout="/m") == root / CACHE_FILE
    got, note = load_probe(root, py, checkout="/m")
    assert got is not None and "probed" in note
    assert any(f.rule == "probe-torch-missing" for f in got.findings)
    # another checkout, a day later, a pip install: not this install's report any more
    assert load_probe(root, py, checkout="/other")[0] is None
    assert load_probe(root, py, checkout="/m", now=time.time() + 2 * 86400)[0] is None
    time.sleep(0.01)
    (site / "torch").mkdir()
    got, note = load_probe(root, py, checkout="/m")
    assert got is None and "wantui doctor" in note
    # garbage in the project folder is "no cached probe", never an exception
    (root / CACHE_FILE).write_text('{"data": [1, 2]')
    assert load_probe(root, py)[0] is None
    (root / CACHE_FILE).write_text('{"saved": 1, "stamp": {}, "data": {"torch": 5}}')
    assert load_probe(root, py)[0] is None


def test_gate_uses_the_cached_probe_and_the_steps_that_run(tmp_path: Path) -> None:
    py, _ = _fake_python(tmp_path)
    project = make_project(tmp_path / "proj", python=py)
    gate = preflight_gate(project, ["train"])
    assert gate.steps == ["train"] and "not probed yet" in gate.summary()
    # the pipeline screen's note and `wantui run` also say what training will need
    assert "; plan train: " in gate.summary() and "GiB VRAM" in gate.plan_note
    rules = {f.rule for f in gate.findings}
    assert "missing-attention-flag" in {f.catalog for f in gate.findings}
    assert "probe-torch-missing" not in rules and "vae-required" not in rules
    checkout = str(project.resolve(project.musubi_dir))
    save_probe(project.root, ProbeResult(py, _report(tmp_path / "venv"), ok=True), checkout)
    gate = preflight_gate(project, ["train"])
    assert "probe-torch-missing" in {f.rule for f in gate.findings}
    assert "as probed" in gate.summary() and gate.blocking
    # --skip-cached leaves out caching steps whose caches exist: their findings too
    cache = project.root / "cache" / "vid"
    cache.mkdir(parents=True)
    (cache / "a_00000-013_0096x0064_wan.safetensors").write_bytes(b"x")
    (cache / "a_wan_te.safetensors").write_bytes(b"x")
    assert preflight_gate(project, None, skip_cached=True).steps == ["train"]


def test_doctor_saves_the_probe_that_run_then_uses(tmp_path: Path, wantui_cli) -> None:
    make_project(tmp_path)
    r = wantui_cli("doctor", "--fast", "--probe-timeout", "60", cwd=tmp_path)
    assert r.returncode in (0, 1), r.stderr
    assert (tmp_path / CACHE_FILE).is_file()
    r = wantui_cli("run", cwd=tmp_path)
    assert "as probed" in r.stderr, r.stderr


# -- the app -----------------------------------------------------------------------------------


def test_pipeline_shows_preflight_and_g_asks_before_running(tmp_path: Path) -> None:
    from wantui.tui.app import WantuiApp
    from wantui.tui.dialogs.confirm import ConfirmDialog
    from wantui.tui.feed_process import ProcessFeed
    from wantui.tui.sources import LiveSource
    from wantui.tui.widgets.findings_panel import FindingsPanel

    project = make_project(tmp_path)

    async def main() -> None:
        app = WantuiApp(feed=ProcessFeed(), source=LiveSource(project), project=project, gpu=False)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            # before any key: the fast checks' findings, not "no findings yet"
            assert await wait_for(pilot, lambda: screen.gate is not None)
            panel = screen.query_one(FindingsPanel)
            assert any(f.catalog == "missing-attention-flag" for f in panel.findings)
            assert "preflight of latents, te, train" in panel.note
            await pilot.press("g")
            assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            assert "Run anyway?" in str(app.screen.query_one("#dialog-question").render())
            detail = str(app.screen.query_one("#dialog-detail").render())
            assert "• Missing --vae" in detail and "\\" not in detail  # text, not markup
            await pilot.press("n")
            await pilot.pause(0.3)
            assert latest_run(project) is None
            await pilot.press("g")
            assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            assert await wait_for(pilot, lambda: latest_run(project) is not None)
            assert await wait_for(
                pilot, lambda: latest_run(project).status == "succeeded", timeout=60
            )

    asyncio.run(main())


def test_a_rerun_asked_for_with_a_fix_still_asks_before_deleting_caches(tmp_path: Path) -> None:
    from wantui.tui.app import WantuiApp
    from wantui.tui.dialogs.confirm import ConfirmDialog
    from wantui.tui.feed import Feed
    from wantui.tui.sources import LiveSource

    project = make_project(tmp_path)
    started: list[str] = []

    async def main() -> None:
        app = WantuiApp(feed=Feed(), source=LiveSource(project), project=project, gpu=False)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert await wait_for(pilot, lambda: screen.gate is not None)
            # known errors alone: the user asked for this rerun, it starts
            screen.run_checks(["train"], lambda: started.append("errors"), ask_for_errors=False)
            assert await wait_for(pilot, lambda: started == ["errors"])
            # a data loss: asked first, whoever asked for the run
            (tmp_path / "data" / "vid").mkdir(parents=True)
            cache = tmp_path / "cache" / "vid"
            cache.mkdir(parents=True)
            (cache / "clip1_00000-013_0096x0064_wan.safetensors").write_bytes(b"x")
            screen.run_checks(["latents"], lambda: started.append("loss"), ask_for_errors=False)
            assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            detail = str(app.screen.query_one("#dialog-detail").render())
            assert "would delete 1 cache file" in detail
            await pilot.press("n")
            await pilot.pause(0.3)
            assert started == ["errors"]

    asyncio.run(main())
