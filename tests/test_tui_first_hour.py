"""Issue 9, the terminal app in the first hour: a new run starts clean, a stop is a stop,
the keys panel closes, undo says what it did, the app says where logs and the LoRA are,
and text from outside is never taken for markup. Driven through Pilot."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import pytest
from textual.content import Content
from textual.widgets import Static

from tests.fakes_tui.helpers import demo_app, wait_for
from wantui.tui.dialogs.fix_preview import FixDialog

pytestmark = pytest.mark.timeout(120)


def sync(fn):  # noqa: ANN001, ANN201 - no pytest-asyncio here: run the coroutine ourselves
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


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
    app, _ = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(pilot, lambda: app.feed.finished is not None)
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
    app, folder = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(pilot, lambda: app.feed.finished is not None)
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
    app, _ = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(pilot, lambda: app.feed.finished is not None)
        await pilot.press("k")  # the demo is one process: no [rankN]: lines
        await pilot.pause(0.2)
        assert any("no [rankN]: lines" in m for m in messages(app)), messages(app)


@sync
async def test_outside_strings_are_shown_as_written(tmp_path: Path) -> None:
    """A run notice, a step note, a checkpoint name and a GPU line that look like markup
    (a [rank0]: prefix, a folder named [bold]) show as written, brackets and all."""
    from wantui.core.supervisor.events import RunNotice
    from wantui.tui.widgets.stats_panel import StatsPanel

    app, _ = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(pilot, lambda: app.feed.finished is not None)
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
