"""Setup 1/4: the musubi-tuner checkout and the Python that runs it, then the probe."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from wantui.core import probe
from wantui.core.probe import cache, wheels
from wantui.core.setup_defaults import (
    find_interpreters,
    find_musubi_checkouts,
    install_help,
    is_musubi_checkout,
)
from wantui.tui.safe import SafeStatic, safe
from wantui.tui.screens.setup_base import SetupScreen, SetupState, findings_text


def probe_summary(data: dict) -> str:
    torch = data.get("torch") or {}
    gpus = torch.get("gpus") or []
    gpu = (
        ", ".join(f"{g.get('name')} {g.get('total_bytes', 0) / 2**30:.0f} GiB" for g in gpus)
        or "no CUDA GPU"
    )
    bnb = data.get("bitsandbytes") or {}
    return (
        f"torch {torch.get('version') or 'not installed'} (CUDA {torch.get('cuda_build') or '-'}) · {gpu}\n"
        f"bitsandbytes: {'importable' if bnb.get('importable') else 'not importable'}"
    )


class CheckoutScreen(SetupScreen):
    STEP = 1
    TITLE = "musubi-tuner and its Python"

    def __init__(self, cwd: Path | SetupState) -> None:
        super().__init__(cwd if isinstance(cwd, SetupState) else SetupState(cwd=Path(cwd)))
        self.choices: list[tuple[Path, str]] = []

    def body(self) -> ComposeResult:
        yield SafeStatic(
            "Pick the checkout and interpreter (Enter), or type the checkout's folder:",
            id="checkout-intro",
        )
        yield OptionList(id="checkouts", classes="setup-list")
        yield Input(placeholder="/path/to/musubi-tuner", id="checkout-path", compact=True)
        yield SafeStatic("", id="probe")

    def on_mount(self) -> None:
        self.refresh_choices(self.state.cwd)

    def refresh_choices(self, start: Path, extra: Path | None = None) -> None:
        found = find_musubi_checkouts(start)
        if extra is not None and extra.resolve() not in found:
            found.insert(0, extra.resolve())
        self.choices = [(c, py) for c in found for py in find_interpreters(c)]
        self.choices += [(c, "") for c in found if not find_interpreters(c)]
        ol = self.query_one("#checkouts", OptionList)
        ol.clear_options()
        for c, py in self.choices:
            shown = py
            if py and Path(py).is_relative_to(c):  # the checkout's own venv: say it short
                shown = str(Path(py).relative_to(c))
            shown = shown or "no venv found: type its python below"
            # a path is data, not markup, and a folder name may hold controls
            ol.add_option(Option(safe(Text(f"{c}  ·  {shown}"))))
        ol.display = bool(self.choices)  # no empty box when nothing was found
        if self.choices:
            ol.highlighted = 0
            ol.focus()
            self.say("Enter: use it and ask its Python what it can do (the probe)")
        else:
            self.query_one("#checkout-intro", Static).update(
                "No checkout found here, in its parents or in the usual folders. "
                "Type the folder of your musubi-tuner checkout (Enter):"
            )
            self.say(Text(install_help() + "\n\nCtrl+Q quits."))
            self.query_one("#checkout-path", Input).focus()
            self.install_advice()

    @work(thread=True, exclusive=True, group="wheel")
    def install_advice(self) -> None:
        """The torch wheel for this GPU and driver (nvidia-smi, up to a few seconds)."""
        text = install_help(wheels.local_wheel()) + "\n\nCtrl+Q quits."
        self.app.call_from_thread(self._show_install, text)

    def _show_install(self, text: str) -> None:
        if not self.choices:  # a checkout typed meanwhile: its list is on screen now
            self.say(Text(text))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = Path(event.value).expanduser()
        if path.is_file() and path.name.startswith("python"):
            # an interpreter was typed: pair it with the checkout already highlighted
            checkout = self.choices[0][0] if self.choices else path.parent
            self.use(checkout, str(path))
        elif path.is_dir() and is_musubi_checkout(path):
            self.refresh_choices(self.state.cwd, extra=path)
        else:
            self.say(
                Text(f"{path}: not a musubi-tuner checkout (no wan_train_network.py)", style="red")
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        checkout, python = self.choices[event.option_index]
        if not python:
            self.say("type the path of the python that has musubi-tuner installed")
            self.query_one("#checkout-path", Input).focus()
            return
        self.use(checkout, python)

    def use(self, checkout: Path, python: str) -> None:
        self.state.checkout, self.state.python = checkout, python
        self.say(f"probing {python} (up to a minute) ...")
        box = self.query_one("#probe", Static)
        box.styles.min_height = 3  # room for the loading indicator in the empty box
        box.loading = True  # the probe takes seconds: show that something happens
        self.run_probe(python, checkout)

    @work(thread=True, exclusive=True)
    def run_probe(self, python: str, checkout: Path) -> None:
        result = probe.run_probe(python, timeout=60, checkout=checkout, cwd=self.state.cwd)
        # the first Run checks against it without probing again
        cache.save_probe(self.state.cwd, result, str(checkout))
        self.app.call_from_thread(self.show_probe, result)

    def show_probe(self, result: object) -> None:
        self.query_one("#probe", Static).loading = False
        self.state.probe = result
        text = Text(probe_summary(getattr(result, "data", {}) or {}) + "\n")
        text.append_text(findings_text(list(getattr(result, "findings", []))))
        self.query_one("#probe", Static).update(text)
        self.say("Ctrl+N: next (model files)")

    def action_next(self) -> None:
        if self.state.python is None:
            self.say(Text("choose a checkout and its python first (Enter)", style="red"))
            return
        from wantui.tui.screens.setup_models import ModelsScreen

        self.app.push_screen(ModelsScreen(self.state))
