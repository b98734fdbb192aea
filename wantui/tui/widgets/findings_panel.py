"""Findings as they arrive: a list (root causes first) and the selected one's explanation,
evidence lines and offered fixes."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from wantui.core.finding import Finding, Severity
from wantui.core.traceback_anatomy import summary_lines
from wantui.tui.safe import SafeStatic, safe

SEVERITY_STYLE = {
    Severity.ERROR: ("E", "bold red"),
    Severity.WARNING: ("W", "yellow"),
    Severity.INFO: ("i", "cyan"),
}


def reflow(text: str) -> str:
    """Rule messages are wrapped by hand in YAML; let the panel wrap them to its width
    (single newlines join, blank lines stay paragraph breaks)."""
    paras = [" ".join(p.split()) for p in text.strip().split("\n\n")]
    return "\n\n".join(p for p in paras if p)


def finding_label(f: Finding) -> Text:
    mark, style = SEVERITY_STYLE[f.severity]
    label = Text(f"{mark} ", style=style)
    label.append(f.title)
    if f.consequence_of:
        label.append(" (consequence)", style="dim")
    return label


def finding_detail(f: Finding) -> Text:
    out = Text()
    out.append(f.title + "\n", style="bold")
    ids = f.rule if f.catalog in (None, "", f.rule) else f"{f.rule} · {f.catalog}"
    out.append(f"{ids} · {f.severity.value}\n", style="dim")
    out.append(reflow(f.message) + "\n")
    if f.anatomy:
        out.append("\nTraceback anatomy\n", style="bold")
        for item in summary_lines(f.anatomy):
            out.append(f" {item}\n")
    if f.evidence:
        out.append("\nEvidence\n", style="bold")
        for e in f.evidence[:6]:
            out.append(f"{e.line:>6} ", style="dim")
            out.append(e.text[:300] + "\n")
    if f.advice:
        out.append("\nWhat to do\n", style="bold")
        for a in f.advice:
            out.append(f" • {a}\n")
    if f.fixes:
        out.append("\nFixes (press a)\n", style="bold")
        for i, fx in enumerate(f.fixes, 1):
            out.append(f" {i}. {fx.label or fx.action}" + ("" if fx.auto else " (guided)") + "\n")
    return out


class FindingsPanel(Horizontal):
    """List + detail: the detail follows the highlighted finding."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.findings: list[Finding] = []
        self.note = "no findings yet"

    def compose(self) -> ComposeResult:
        yield OptionList(id="findings-list")
        with VerticalScroll(id="finding-detail-box"):
            yield SafeStatic(Text(self.note), id="finding-detail")

    @property
    def selected(self) -> Finding | None:
        ol = self.query_one(OptionList)
        idx = ol.highlighted
        if idx is None or idx >= len(self.findings):
            return None
        return self.findings[idx]

    def show(self, findings: list[Finding], *, relabel: bool = False) -> None:
        """Replace the list (already ranked); highlight the first unless the user browses.
        ``relabel``: a finding shown already changed (it was linked to its cause)."""
        current = self.selected
        old, self.findings = self.findings, list(findings)
        ol = self.query_one(OptionList)
        n = len(old)
        if (
            n
            and not relabel
            and len(self.findings) >= n
            and all(a is b for a, b in zip(old, self.findings))
        ):
            # the usual case: new findings ranked after the ones shown: add only those
            if len(self.findings) == n:
                return
            ol.add_options([Option(safe(finding_label(f))) for f in self.findings[n:]])
        else:
            ol.clear_options()
            ol.add_options([Option(safe(finding_label(f))) for f in self.findings])
        if self.findings:
            # the root cause (first) is shown, unless the user is browsing the list
            browsing = ol.has_focus and current in self.findings
            ol.highlighted = self.findings.index(current) if browsing else 0
        self._detail()

    def set_note(self, note: str) -> None:
        self.note = note
        self._detail()

    def on_option_list_option_highlighted(self, _: OptionList.OptionHighlighted) -> None:
        self._detail()

    def _detail(self) -> None:
        f = self.selected
        # the note names files (logs, the LoRA): data, never markup
        self.query_one("#finding-detail", Static).update(
            finding_detail(f) if f else Text(self.note)
        )
