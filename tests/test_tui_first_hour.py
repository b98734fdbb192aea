"""Issue 9, the terminal app in the first hour: a new run starts clean, a stop is a stop,
the keys panel closes, undo says what it did, the app says where logs and the LoRA are,
and text from outside is never taken for markup. Driven through Pilot."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.content import Content
from textual.widgets import Static

from tests.fakes_tui.helpers import (
    live_pilot,
    replayed_demo,
    stop_and_confirm,
    sync,
    wait_for,
)
from wantui.tui.dialogs.fix_preview import FixDialog
from wantui.tui.feed import StepState

pytestmark = pytest.mark.timeout(120)


def shown(notification) -> str:  # noqa: ANN001
    """A notification's text as its toast draws it (textual's Toast.render)."""
    if notification.markup:
        return Content.from_markup(notification.message).plain
    return notification.message


def messages(app) -> list[str]:  # noqa: ANN001
    return [shown(n) for n in app._notifications]


def plain(widget: Static) -> str:
    return str(widget.render())


# -- 19: the keys panel ------------------------------------------------------------------
@sync
async def test_keys_panel_closes_with_question_mark_and_escape(tmp_path: Path) -> None:
    async with replayed_demo(tmp_path) as (app, _, pilot):
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert app.screen.query("HelpPanel")
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert not app.screen.query("HelpPanel")
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert app.screen.query("HelpPanel")
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert not app.screen.query("HelpPanel")


# -- 20: undo says what it did -----------------------------------------------------------
@sync
async def test_undo_prints_a_sentence_not_a_repr(tmp_path: Path) -> None:
    async with replayed_demo(tmp_path) as (app, folder, pilot):
        await pilot.press("a")
        await pilot.pause(0.2)
        assert isinstance(app.screen, FixDialog)
        label = app.screen.title_text
        await pilot.press("a")
        assert await wait_for(
            pilot, lambda: "--output_name" in (folder / "wantui.toml").read_text()
        )
        await pilot.press("u")
        assert await wait_for(pilot, lambda: any("Undone" in m for m in messages(app)))
        said = next(m for m in messages(app) if "Undone" in m)
        assert "UndoResult" not in said and "PosixPath" not in said and "entry=" not in said
        assert said.startswith(f"Undone: {label}.")
        assert "wantui.toml" in said and "restored" in said


# -- 23: outside text is not markup ------------------------------------------------------
@sync
async def test_rank_notice_keeps_its_brackets(tmp_path: Path) -> None:
    async with replayed_demo(tmp_path) as (app, _, pilot):
        await pilot.press("k")  # the demo is one process: no [rankN]: lines
        await pilot.pause(0.2)
        assert any("no [rankN]: lines" in m for m in messages(app)), messages(app)


@sync
async def test_outside_strings_are_shown_as_written(tmp_path: Path) -> None:
    """A run notice, a step note, a checkpoint name and a GPU line that look like markup
    (a [rank0]: prefix, a folder named [bold]) show as written, brackets and all."""
    from wantui.core.supervisor.events import RunNotice
    from wantui.tui.widgets.stats_panel import StatsPanel

    async with replayed_demo(tmp_path) as (app, _, pilot):
        screen = app.screen
        app.feed.emit(RunNotice("cannot read /data/[bold]clips[/bold]/a.log"))
        app.feed.steps["train"].note = "[rank0]: stopped [red]x[/red]"
        screen.action_show_step("train")
        stats = screen.query_one(StatsPanel)
        stats.show_checkpoints(["/out/[bold]lora-000001.safetensors"])
        stats.show_gpu("GPU0 [b]97%[/b]")
        await pilot.pause(0.4)
        assert any("/data/[bold]clips[/bold]/a.log" in m for m in messages(app)), messages(app)
        assert "[rank0]: stopped [red]x[/red]" in plain(screen.query_one("#pane-title", Static))
        assert "[bold]lora-000001" in plain(screen.query_one("#checkpoints", Static))
        assert "[b]97%[/b]" in plain(screen.query_one("#gpu", Static))
        from wantui.tui.dialogs.confirm import ConfirmDialog

        await app.push_screen(ConfirmDialog("Run [b]anyway[/b]?", "• [[datasets]] #1: x"))
        await pilot.pause(0.2)
        assert plain(app.screen.query_one("#dialog-question", Static)) == "Run [b]anyway[/b]?"
        assert "• [[datasets]] #1: x" in plain(app.screen.query_one("#dialog-detail", Static))


@sync
async def test_setup_status_and_checkout_list_show_paths_as_written(tmp_path: Path) -> None:
    from rich.text import Text
    from textual.widgets import OptionList

    from wantui.tui.app import WantuiApp

    odd = tmp_path / "[bold]musubi"
    odd.mkdir()
    (odd / "wan_train_network.py").write_text("")  # a checkout: found in the cwd
    app = WantuiApp(start="setup", cwd=odd)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.5)
        screen = app.screen
        prompt = screen.query_one("#checkouts", OptionList).get_option_at_index(0).prompt
        text = prompt.plain if isinstance(prompt, Text) else Content.from_markup(prompt).plain
        assert "[bold]musubi" in text
        screen.say(f"probing {odd}/python ...")
        await pilot.pause(0.2)
        assert f"probing {odd}/python" in plain(screen.query_one("#status", Static))


# -- 18: a new run starts clean; a stop is a stop ------------------------------------------
def _rules(app) -> list[str]:  # noqa: ANN001
    return [f.rule for f in app.feed.findings]


@sync
async def test_a_new_run_starts_clean(tmp_path: Path) -> None:
    from tests.fakes.fakeproject import make_project
    from wantui.tui.dialogs.confirm import ConfirmDialog
    from wantui.tui.widgets.findings_panel import FindingsPanel

    root = tmp_path / "p"
    project = make_project(root, {"train": "fail"})
    async with live_pilot(project) as (app, pilot):
        assert await wait_for(pilot, lambda: app.feed.finished == "failed")
        first = app.source.run_dir.name
        assert f"run {first} (failed)" in app.screen.sub_title
        assert app.screen.query_one(FindingsPanel).findings  # the failure is explained
        # the user fixes the project by hand and runs again (g): a slow, healthy run
        make_project(root, env={"train": {"FAKE_STEPS": "60", "FAKE_DELAY": "0.05"}})
        await pilot.press("g")
        # the preflight gate asks first (the fake project has no model files): run anyway
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        assert await wait_for(
            pilot,
            lambda: (
                app.source.run_dir.name != first
                and app.feed.steps["train"].state is StepState.RUNNING
            ),
        )
        second = app.source.run_dir.name
        assert (
            f"run {second} (running)" in app.screen.sub_title and first not in app.screen.sub_title
        )
        assert app.feed.finished is None
        # nothing of the failed run: the panel shows this run's preflight, nothing else
        preflight = app.screen.gate.findings
        shown = app.screen.query_one(FindingsPanel).findings
        assert all(any(f is g for g in preflight) for f in shown), [f.rule for f in shown]
        assert not _rules(app)
        assert "failed" not in [st.state.value for st in app.feed.steps.values()]
        assert await wait_for(pilot, lambda: app.feed.finished is not None, timeout=60)
        assert f"run {second} (succeeded)" in app.screen.sub_title


@pytest.mark.parametrize("stop_exit", ["1", "0"])  # a launcher's exit 1; a trainer's clean 0
@sync
async def test_a_stop_is_a_stop(tmp_path: Path, stop_exit: str) -> None:
    from tests.fakes.fakeproject import make_project

    project = make_project(
        tmp_path / "p",
        steps=("train",),
        env={"train": {"FAKE_STEPS": "400", "FAKE_DELAY": "0.05", "FAKE_STOP_EXIT": stop_exit}},
    )
    async with live_pilot(project) as (app, pilot):
        assert await wait_for(pilot, lambda: app.feed.steps["train"].lines > 8)
        await stop_and_confirm(app, pilot)
        assert app.feed.steps["train"].state is StepState.STOPPED  # not failed, not done
        errors = [f.title for f in app.feed.findings if f.severity.value == "error"]
        assert not errors  # no "The run failed, and no rule recognises why"
        assert "(stopped)" in app.screen.sub_title


# -- 21: where the logs are, and the LoRA --------------------------------------------------
def _with_output(root: Path, name: str):  # noqa: ANN202 - a fake project that names its LoRA
    from tests.fakes.fakeproject import make_project
    from wantui.core.project import load_project, project_to_toml

    project = make_project(root)
    project.steps["train"].args += ["--output_dir", "out", "--output_name", name]
    (root / "wantui.toml").write_text(project_to_toml(project))
    return load_project(root)


@sync
async def test_the_app_says_where_the_logs_and_the_lora_are(tmp_path: Path) -> None:
    from wantui.tui.widgets.findings_panel import FindingsPanel

    root = tmp_path / "p"
    project = _with_output(root, "mylora")
    lora = root / "out" / "mylora.safetensors"
    lora.parent.mkdir(parents=True)
    lora.write_bytes(b"{}")  # what the trainer saves at its end
    async with live_pilot(project) as (app, pilot):
        assert await wait_for(pilot, lambda: app.feed.finished == "succeeded")
        run_dir = app.source.run_dir
        said = "\n".join(messages(app))
        assert f"LoRA saved: {lora}" in said
        assert f"logs: {run_dir}/ (latents.log, te.log, train.log)" in said
        panel = app.screen.query_one(FindingsPanel)
        assert f"LoRA saved: {lora}" in panel.note and str(run_dir) in panel.note
        app.clear_notifications()
        await pilot.press("2")  # the T5 step's pane
        await pilot.press("l")
        await pilot.pause(0.2)
        said = "\n".join(messages(app))
        assert f"te log: {run_dir / 'te.log'}" in said and f"LoRA (saved): {lora}" in said


@sync
async def test_no_lora_is_claimed_when_training_saved_none(tmp_path: Path) -> None:
    root = tmp_path / "p"
    project = _with_output(root, "never")
    project.steps["train"].env["FAKE_NO_LORA"] = "1"
    async with live_pilot(project) as (app, pilot):
        assert await wait_for(pilot, lambda: app.feed.finished is not None)
        said = "\n".join(messages(app))
        assert "LoRA saved" not in said and "train.log" in said
        await pilot.press("l")
        await pilot.pause(0.2)
        assert f"LoRA (not written yet): {root / 'out' / 'never.safetensors'}" in messages(app)[-1]


@sync
async def test_p_writes_a_redacted_report_for_an_issue(tmp_path: Path) -> None:
    root = tmp_path / "p"
    project = _with_output(root, "rep")
    project.steps["train"].env["HF_TOKEN"] = "hf_SeededSecretValue0123456789abcdef"
    async with live_pilot(project) as (app, pilot):
        assert await wait_for(pilot, lambda: app.feed.finished is not None)
        app.clear_notifications()
        await pilot.press("p")
        out = root / "wantui-report.md"
        assert await wait_for(
            pilot, lambda: out.is_file() and "report written" in "\n".join(messages(app))
        )
        text = out.read_text(encoding="utf-8")
        assert "# wantui report" in text and "## Commands" in text and "train.log" in text
        assert "hf_SeededSecretValue0123456789abcdef" not in text
