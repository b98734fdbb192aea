"""The checks a run passes before it starts (``wantui run``, the app's Run and Rerun).

Only the fast ones: the inputs (dataset TOML, the command lines), the model headers, the
cache files a caching step would delete, and the last probe of the pipeline's Python when
it is still valid (:mod:`wantui.core.probe.cache`); never a new probe, which takes
seconds. The findings kept are those of the steps that will really run. A run is held
for the user's word when one of them is an error (the run would fail) or a data loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wantui.core.finding import Finding, Severity
from wantui.core.preflight import preflight
from wantui.core.probe.cache import load_probe
from wantui.core.project import Project
from wantui.core.supervisor.plan import plan_run

# warnings that are worth stopping for: what they predict cannot be undone
DATA_LOSS = frozenset({"cache-deleted"})


@dataclass
class Gate:
    steps: list[str]  # the steps that will run (after --skip-cached)
    findings: list[Finding] = field(default_factory=list)
    probe_note: str = ""
    plan_note: str = ""  # `wantui plan`'s verdict for training, when it runs

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR or f.catalog in DATA_LOSS]

    @property
    def data_loss(self) -> list[Finding]:
        return [f for f in self.findings if f.catalog in DATA_LOSS]

    def summary(self) -> str:
        """One line: what was found, and how the pipeline's Python was judged."""
        errors = sum(f.severity is Severity.ERROR for f in self.findings)
        warnings = sum(f.severity is Severity.WARNING for f in self.findings)
        what = f"{errors} error(s), {warnings} warning(s)" if self.findings else "nothing found"
        plan = f"; plan {self.plan_note}" if self.plan_note else ""
        return f"preflight of {', '.join(self.steps) or 'no step'}: {what}; {self.probe_note}{plan}"


def concerns(f: Finding, steps: list[str]) -> bool:
    """Whether a finding is about one of ``steps`` (a finding of no step is about all)."""
    return not f.steps or "any" in f.steps or bool(set(f.steps) & set(steps))


def preflight_gate(
    project: Project, steps: list[str] | None = None, *, skip_cached: bool = False
) -> Gate:
    """The fast checks for a run of ``steps`` (default: the enabled ones). Raises the
    supervisor's WantuiError for steps it would refuse (unknown, not set up)."""
    plans = plan_run(project, steps, skip_cached=skip_cached)
    running = [p.name for p in plans if not p.skip_reason]
    checkout = str(project.resolve(project.musubi_dir)) if project.musubi_dir else None
    probe, note = load_probe(
        project.root, project.python_path(), checkout=checkout, project=project
    )
    found = preflight(project, probe=probe, steps=running)
    verdict = None
    if "train" in running:
        from wantui.core.plan.summary import plan_for_project, train_verdict

        verdict = train_verdict(plan_for_project(project, probe.data if probe else None))
    return Gate(running, [f for f in found if concerns(f, running)], note, verdict or "")
