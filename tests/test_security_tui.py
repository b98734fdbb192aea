"""The app draws outside text inert (#10 defect 9, the TUI half): an OSC 52 clipboard
write, a CSI, a C1 control or a bidi override in a log line, a log file's name, a
finding's capture, a dialog or a setup screen never reaches the terminal. Asserted on
what the app renders (its screenshot holds every layer: panes, findings, toasts)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rich.text import Text

from tests.fakes_tui.helpers import wait_for
from wantui.tui.app import WantuiApp
from wantui.tui.feed import Feed
from wantui.tui.safe import safe_text
from wantui.tui.sources import ReplaySource, replay_plan
from wantui.tui.widgets.findings_panel import FindingsPanel
from wantui.tui.widgets.log_view import LogView

pytestmark = pytest.mark.timeout(90)

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"  # writes the clipboard, BEL-terminated
CSI_C1 = "\x9b2J"  # clear the screen, 8-bit CSI
BIDI = "\u202e"
HOSTILE = (OSC52, CSI_C1, BIDI, "\x1b[2J")
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def _hostile_log(tmp: Path) -> Path:
    name = f"train{OSC52}.log"
    log = tmp / name
    path = f"/data/models/W{OSC52}an{CSI_C1}{BIDI}.pth"
    log.write_text(
        f"INFO: step starts {OSC52} and {CSI_C1} and {BIDI}gnp.exe\n"
        "Traceback (most recent call last):\n"
        '  File "/data/venv/lib/python3.11/site-packages/torch/serialization.py", line 751\n'
        "    super().__init__(open(name, mode))\n"
        f"FileNotFoundError: [Errno 2] No such file or directory: '{path}'\n",
        encoding="utf-8",
    )
    return log


def _assert_inert(rendered: str) -> None:
    for ch in RAW:
        assert ch not in rendered, f"{ch!r} reached the screen"


def test_safe_text_keeps_styles() -> None:
    text = Text.assemble(("E ", "bold red"), f"model {OSC52}x", (" tail", "dim"))
    out = safe_text(text)
    # (Rich itself drops BEL; ESC it keeps, and safe_text shows it)
    assert out.plain == "E model \\x1b]52;c;cm0gLXJmIH4=x tail"
    assert [(out.plain[s.start : s.end], str(s.style)) for s in out.spans] == [
        ("E ", "bold red"),
        (" tail", "dim"),
    ]


def test_log_lines_file_names_and_findings_are_inert(tmp_path: Path) -> None:
    log = _hostile_log(tmp_path)
    app = WantuiApp(
        feed=Feed(),
        source=ReplaySource(replay_plan(log), instant=True),
        title=f"replay {log.name}",
        gpu=False,
    )

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            assert await wait_for(pilot, lambda: app.feed.finished is not None)
            view = app.screen.query_one("#log-train", LogView)
            assert any(OSC52 in line for line in view.lines())  # kept raw, drawn inert
            findings = app.screen.query_one(FindingsPanel).findings
            assert any(f.rule == "model-file-not-found" for f in findings)
            assert any(CSI_C1 in f.title for f in findings)  # the capture holds a C1 CSI
            await pilot.press("3")
            await pilot.press("l")  # the notification names the log file
            await pilot.pause(0.3)
            shot = app.export_screenshot()
            assert "\\x1b]52;c;cm0gLXJmIH4=" in shot.replace("&#160;", " ")  # visible
            _assert_inert(shot)
            for y in range(view.size.height):
                _assert_inert(view.render_line(y).text)
            _assert_inert(app.screen.sub_title)

    asyncio.run(go())


def test_dialog_and_setup_screen_are_inert(tmp_path: Path) -> None:
    from wantui.tui.dialogs.fix_preview import FixDialog
    from wantui.tui.screens.setup_checkout import CheckoutScreen

    # the folder the setup starts in (an unpacked archive) holds a checkout: its path,
    # with an OSC 52 in a folder name, is listed on the first screen
    cwd = tmp_path / f"unpacked{OSC52}"
    (cwd / "musubi-tuner").mkdir(parents=True)
    (cwd / "musubi-tuner" / "wan_train_network.py").write_text("# stand-in\n")
    app = WantuiApp(start="setup", cwd=cwd, gpu=False)

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.3)
            assert isinstance(app.screen, CheckoutScreen)
            assert any(OSC52 in str(c) for c, _ in app.screen.choices)
            app.screen.say(f"{tmp_path}/ck{OSC52}: not a musubi-tuner checkout")
            app.notify(f"title {OSC52}", title=f"t{CSI_C1}")
            await pilot.pause(0.2)
            _assert_inert(app.export_screenshot())
            app.push_screen(
                FixDialog(
                    f"Set --dit to m{OSC52}.safetensors",
                    f"--- a/ds{BIDI}.toml\n+++ b/ds.toml\n@@ -1 +1 @@\n-x = 1{CSI_C1}\n+x = 2\n",
                    refused=f"outside {OSC52}",
                )
            )
            await pilot.pause(0.3)
            _assert_inert(app.export_screenshot())

    asyncio.run(go())


def test_untrusted_folder_rules_are_said_in_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the CLI says on stderr: a project's .wantui/rules left out (not trusted) is
    said in a notification, not skipped in silence."""
    proj = tmp_path / "proj"
    (proj / ".wantui" / "rules").mkdir(parents=True)
    (proj / ".wantui" / "rules" / "mine.yaml").write_text("id: mine\n")
    log = proj / "train.log"
    log.write_text("INFO: epoch 1/10\n")
    monkeypatch.chdir(proj)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("WANTUI_RULES_PATH", raising=False)
    app = WantuiApp(
        feed=Feed(), source=ReplaySource(replay_plan(log), instant=True), title="t", gpu=False
    )

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            assert await wait_for(pilot, lambda: app.feed.finished is not None)
            await pilot.pause(0.3)
            said = " ".join(n.message for n in app._notifications)
            assert "not loaded: this folder is not trusted" in said
            assert "wantui rules trust" in said

    asyncio.run(go())
