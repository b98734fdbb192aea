"""Setup 4/4: training settings with Wan2.2 defaults for this GPU, saved to wantui.toml;
then preflight, with one-key fixes, and the run."""

from __future__ import annotations

import sys

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Checkbox, Input, Label, Static

from wantui.core.errors import WantuiError
from wantui.core.fixes.flow import FixChoice, auto_fixes
from wantui.core.fsutil import atomic_write
from wantui.core.plan import summary
from wantui.core.preflight import preflight
from wantui.core.project import project_to_toml
from wantui.core.setup_defaults import build_project, choose_settings
from wantui.tui.safe import SafeStatic
from wantui.tui.screens.fix_flow import fix_session, offer_fix
from wantui.tui.screens.setup_base import SetupScreen
from wantui.tui.widgets.findings_panel import FindingsPanel


class TrainingScreen(SetupScreen):
    STEP = 4
    TITLE = "training settings"
    BINDINGS = [
        *SetupScreen.BINDINGS,
        Binding("ctrl+s", "save", "Save wantui.toml"),
        Binding("ctrl+f", "fix", "Fix selected"),
        Binding("ctrl+g", "go", "Open pipeline"),
    ]

    def body(self) -> ComposeResult:
        with Horizontal(classes="setup-row"):
            yield Label("output name")
            yield Input("wan22-lora", id="output-name", compact=True)
        with Horizontal(classes="setup-row"):
            yield Label("output folder")
            yield Input("output", id="output-dir", compact=True)
        yield Checkbox(
            "data-parallel training on every GPU", True, id="data-parallel", compact=True
        )
        yield SafeStatic("", id="settings")
        yield FindingsPanel(id="preflight")

    def on_mount(self) -> None:
        # shown once the preflight has run: at 80x24 the settings need the room before
        self.query_one("#preflight", FindingsPanel).display = False
        self.say("Ctrl+S saves wantui.toml and runs the preflight checks")
        box = self.query_one("#data-parallel", Checkbox)
        n = self.state.gpu_count
        box.label = f"data-parallel training on all {n} GPUs (accelerate --multi_gpu)"
        # one GPU: nothing to choose; Windows: one process whatever (said in the reasons)
        box.display = n > 1
        box.disabled = sys.platform == "win32"
        if box.disabled:
            box.value = False
        self.show_settings()

    def on_input_changed(self, _: Input.Changed) -> None:
        self.show_settings()

    def on_checkbox_changed(self, _: Checkbox.Changed) -> None:
        self.show_settings()

    def settings(self):  # noqa: ANN201 - TrainingSettings
        m = self.state.models
        dit = getattr(m, "dit", None)
        return choose_settings(
            dit_dtype=getattr(dit, "dtype", None),
            dit_kind=getattr(dit, "kind", None),
            dit_details=getattr(dit, "details", None),
            two_experts=getattr(m, "dit_high_noise", None) is not None,
            vram_gib=self.state.vram_gib,
            gpu_count=self.state.gpu_count,
            data_parallel=self.query_one("#data-parallel", Checkbox).value,
            bitsandbytes_ok=self.state.bitsandbytes_ok,
            output_name=self.query_one("#output-name", Input).value.strip() or "wan22-lora",
            output_dir=self.query_one("#output-dir", Input).value.strip() or "output",
        )

    def _path(self, role: str, fallback: str) -> str:
        m = getattr(self.state.models, role, None)
        return m.path if m is not None else fallback

    def show_settings(self) -> None:
        """The reasons, then the wantui.toml that Ctrl+S will write, byte for byte (the same
        text ``action_save`` writes, not a second rendering)."""
        s = self.settings()
        out = Text()
        for r in s.reasons:
            out.append(f"• {r}\n")
        project = self.build(s)
        out.append(f"\nCtrl+S writes {project.file}:\n", style="bold")
        out.append(self.toml_text(project), style="dim")
        self.query_one("#settings", Static).update(out)

    def toml_text(self, project):  # noqa: ANN001, ANN201 - Project -> str
        """The file Ctrl+S writes: the project merged into the existing file, if any."""
        try:
            old = project.file.read_text(encoding="utf-8") if project.file.is_file() else None
        except (OSError, UnicodeDecodeError):
            old = None
        return project_to_toml(project, old)

    def build(self, settings=None):  # noqa: ANN001, ANN201 - TrainingSettings -> Project
        models_dir = self.state.models_dir or self.state.cwd / "models"
        high = getattr(self.state.models, "dit_high_noise", None)
        return build_project(
            self.state.cwd,
            musubi_dir=str(self.state.checkout or ""),
            python=self.state.python or "python",
            dataset_config=str(
                self.state.dataset_toml.name if self.state.dataset_toml else "dataset.toml"
            ),
            vae=self._path("vae", str(models_dir / "wan_2.1_vae.safetensors")),
            t5=self._path("t5", str(models_dir / "models_t5_umt5-xxl-enc-bf16.pth")),
            dit=self._path("dit", str(models_dir / "wan2.2_t2v_low_noise_14B_fp16.safetensors")),
            dit_high_noise=high.path if high is not None else None,
            settings=settings or self.settings(),
            vram_gib=self.state.vram_gib,
        )

    def action_save(self) -> None:
        project = self.build()
        try:
            atomic_write(
                project.file,
                self.toml_text(project).encode("utf-8"),
                project_root=project.root,
            )
        except (WantuiError, OSError) as exc:
            self.say(Text(f"cannot save: {exc}", style="red"))
            return
        self.project = project
        self.say(f"saved {project.file}; running preflight ...")
        self.run_preflight(project)

    @work(thread=True, exclusive=True)
    def run_preflight(self, project: object) -> None:
        findings = list(preflight(project, probe=self.state.probe))
        data = getattr(self.state.probe, "data", None)
        verdict = summary.train_verdict(summary.plan_for_project(project, data))
        self.app.call_from_thread(self.show_findings, findings, verdict)

    def show_findings(self, findings: list, verdict: str | None = None) -> None:
        self.state.findings = findings
        panel = self.query_one("#preflight", FindingsPanel)
        panel.display = True
        panel.show(findings)
        if not findings:
            panel.set_note("preflight: nothing to report")
        errors = sum(f.severity.value == "error" for f in findings)
        plan = f" · plan {verdict}" if verdict else ""
        self.say(
            f"preflight: {len(findings)} finding(s), {errors} error(s){plan} · Ctrl+F fixes the selected one · Ctrl+G opens the pipeline"
        )

    def action_fix(self) -> None:
        """Preview the selected finding's fixes (Tab: the next one), apply the one chosen,
        check again."""
        finding = self.query_one("#preflight", FindingsPanel).selected
        project = getattr(self, "project", None)
        if finding is None or project is None or not auto_fixes(finding):
            self.say("no automatic fix for the selected finding (save first)")
            return
        session = fix_session(project)

        def answer(choice: FixChoice, plan: object, _how: str) -> None:
            outcome = session.apply(choice, plan)  # type: ignore[arg-type]
            if outcome.applied is None:
                self.say(Text(f"fix not applied: {outcome.error or outcome.refused}", style="red"))
                return
            self.project = session.project
            self.run_preflight(self.project)

        offer_fix(self.app, session, finding, answer)

    def action_go(self) -> None:
        project = getattr(self, "project", None)
        if project is None:
            self.say(Text("save first (Ctrl+S)", style="red"))
            return
        from wantui.cli.tui_cmd import output_dir
        from wantui.tui.sources import LiveSource

        self.app.open_pipeline(  # type: ignore[attr-defined]
            project=project,
            source=LiveSource(project),
            title=project.name,
            watch_dir=output_dir(project),
        )

    def action_next(self) -> None:
        self.action_save()
