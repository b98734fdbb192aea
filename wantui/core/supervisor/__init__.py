"""The supervisor: detached runs that survive SSH, their files, and typed events.

Typical use (the TUI does the same from a worker thread)::

    handle = start_run(project, ["latents", "te", "train"], skip_cached=True)
    follow_run(handle.run_dir, sink)  # StepStarted / StepOutput / StepExited / RunFinished
    stop_run(handle.run_dir)     # SIGINT -> SIGTERM -> SIGKILL to the step's group
"""

from __future__ import annotations

from wantui.core.supervisor.control import RunHandle, start_run, stop_run
from wantui.core.supervisor.events import (
    CollectingSink,
    Event,
    RunFinished,
    RunNotice,
    Sink,
    StepExited,
    StepOutput,
    StepSkipped,
    StepStarted,
    emit,
)
from wantui.core.supervisor.follow import follow_run
from wantui.core.supervisor.lock import RunLocked, is_locked
from wantui.core.supervisor.plan import StepPlan, plan_run, plan_step
from wantui.core.supervisor.rundir import (
    RunRecord,
    StepRecord,
    effective_status,
    find_run,
    latest_run,
    list_runs,
    read_record,
)

__all__ = [
    "CollectingSink",
    "Event",
    "RunFinished",
    "RunHandle",
    "RunLocked",
    "RunNotice",
    "RunRecord",
    "Sink",
    "StepExited",
    "StepOutput",
    "StepPlan",
    "StepRecord",
    "StepSkipped",
    "StepStarted",
    "effective_status",
    "emit",
    "find_run",
    "follow_run",
    "is_locked",
    "latest_run",
    "list_runs",
    "plan_run",
    "plan_step",
    "read_record",
    "start_run",
    "stop_run",
]
