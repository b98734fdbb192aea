"""The pipeline screen: step states, one log pane per step, progress, loss, GPU,
checkpoints and live findings. It only shows what the Feed says and forwards keys."""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Header, Input, Static

from wantui.core.errors import WantuiError
from wantui.core.outputs import lora_path
from wantui.core.plan import live
from wantui.core.project import Project
from wantui.core.supervisor import read_record
from wantui.tui.feed import Batch, Feed, StepState
from wantui.tui.safe import SafeStatic, safe_str
from wantui.tui.screens.fix_flow import FixFlow
from wantui.tui.screens.preflight_gate import PreflightGate
from wantui.tui.widgets.findings_panel import FindingsPanel
from wantui.tui.widgets.gpu_meter import read_gpus
from wantui.tui.widgets.log_view import LogView
from wantui.tui.widgets.stats_panel import StatsPanel
from wantui.tui.widgets.step_list import StepList

METER_S = 2.0  # how often the header's meter and countdown are redrawn

FLUSH_S = 0.1  # one redraw per 100 ms, whatever the output rate
GPU_POLL_S = 2.0
WIDE = 140
# A running step's warning this likely to be the root cause (nan loss, found 0 videos,
# None- checkpoints) is worth stopping for; lower ones (rounded target_frames) are not.
PRECURSOR_PRIORITY = 80


class PipelineScreen(FixFlow, PreflightGate, Screen[None]):
    BINDINGS = [
        Binding("1", "show_step('latents')", "Latents", show=False),
        Binding("2", "show_step('te')", "T5", show=False),
        Binding("3", "show_step('train')", "Train", show=False),
        Binding("tab", "next_step", "Step"),
        Binding("slash", "search", "Search"),
        Binding("n", "search_next", "Next", show=False),
        Binding("f", "focus_findings", "Findings"),
        Binding("a", "fix", "Fix"),
        Binding("u", "undo", "Undo", show=False),  # in ? Keys: the footer must fit 80 columns
        Binding("s", "stop", "Stop"),
        Binding("r", "rerun", "Rerun"),
        Binding("g", "run_all", "Run"),
        Binding("z", "zoom", "Zoom"),
        Binding("k", "next_rank", "Rank", show=False),
        Binding("l", "where", "Log file, LoRA", show=False),
        Binding("p", "report", "Report for an issue", show=False),
        Binding("c", "cancel_finish", "Cancel on_finish", show=False),
        Binding("question_mark", "toggle_keys", "Keys"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(
        self,
        feed: Feed,
        source: Any,
        *,
        project: Project | None = None,
        title: str = "pipeline",
        read_only: bool = False,
        gpu: bool = True,
        watch_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.feed = feed
        self.source = source
        self.project = project
        self.title_text = title
        self.read_only = read_only
        self.gpu = gpu
        self.watch_dir = watch_dir
        self.checkpoints: list[str] = []
        self.selected = next(iter(feed.steps))
        self._stop_watch = threading.Event()
        self._offered_stop: set[str] = set()
        self.auto_follow = True  # until a step key is pressed
        self.zoomed = False  # z: the log alone, full width
        # multi-GPU: each rank's own lines, so the pane can show one rank alone (k)
        self.rank_lines: dict[str, deque[tuple[int, str]]] = {}
        self.rank_view: int | None = None  # None: all ranks, duplicates folded

    # -- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="body"):
            with Vertical(id="side"):
                yield StepList(id="steps")
                yield StatsPanel(id="stats")
            with Vertical(id="main"):
                yield SafeStatic("", id="pane-title")
                with ContentSwitcher(initial=f"log-{self.selected}", id="logs"):
                    for step in self.feed.steps:
                        yield LogView(max_lines=self.feed.max_lines, id=f"log-{step}")
                    yield LogView(max_lines=self.feed.max_lines, id="log-rank")
                yield Input(placeholder="search the log (Enter: find, Esc: close)", id="search")
            yield FindingsPanel(id="findings")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self._sub_title()
        self.query_one("#search", Input).display = False
        self.query_one(StepList).selected = self.selected
        self._refresh_states()
        note = (
            "no findings yet"
            if self.feed.diagnosis_available
            else "live diagnosis: not available yet"
        )
        self.query_one(FindingsPanel).set_note(note)
        self._pane_title()
        self.set_interval(FLUSH_S, self.flush)
        self.meter_text = ""
        self.set_interval(METER_S, self.update_meter)
        src = self.source
        if (
            self._can_run()
            and getattr(src, "run_dir", 1) is None
            and not getattr(src, "autostart", 0)
        ):
            # nothing ran here yet: show what the fast checks find before `g` is pressed
            self.run_checks(None, None)
        self.start_source()
        if self.gpu:
            self.poll_gpu()
        if self.watch_dir is not None:
            self.watch_checkpoints(self.watch_dir)
        self.on_resize()

    def _sub_title(self) -> None:
        self.sub_title = (
            safe_str(self.title_text)
            + (f" · {self.meter_text}" if getattr(self, "meter_text", "") else "")
            + ("  [read-only: another wantui runs this project]" if self.read_only else "")
        )

    def update_meter(self) -> None:
        """The rented GPU's meter (time, money, the estimate to the end) and the end
        action's countdown, in the header; nothing without a price or an action."""
        from wantui.core.away.meter import meter_for_record

        run_dir = getattr(self.source, "run_dir", None)
        if run_dir is None or self.project is None:
            return
        try:
            rec = read_record(run_dir)
        except Exception:  # noqa: BLE001 - no run.json (a replay): no meter
            return
        text = ""
        if rec.price_per_hour is not None:
            r = meter_for_record(rec, rec.price_per_hour, self.feed.last_progress.get("train"))
            text = r.line() if r is not None else ""
        fin = rec.finish or {}
        if fin.get("state") == "countdown":
            left = max(0.0, float(fin.get("deadline", 0)) - time.time())
            text += f"{' · ' if text else ''}{fin.get('action')} in {left:.0f} s (c: cancel)"
        if text != self.meter_text:
            self.meter_text = text
            self._sub_title()

    def action_cancel_finish(self) -> None:
        """c: cancel the on_finish/on_failure countdown of this run."""
        from wantui.core.away.finish import request_cancel

        run_dir = getattr(self.source, "run_dir", None)
        if run_dir is None:
            self.notify("no run here", timeout=4)
            return
        request_cancel(Path(run_dir))
        self.notify("on_finish/on_failure cancelled for this run", timeout=8)

    def show_run(self, status: str) -> None:
        """The header names the run on screen and its status (a new run, or its end)."""
        run_dir = getattr(self.source, "run_dir", None)
        if self.project is None or run_dir is None:
            return
        self.title_text = f"{self.project.name} · run {Path(run_dir).name} ({status})"
        self._sub_title()

    def start_clean(self, steps: list[str], preflight: list[Any] | None = None) -> None:
        """Before a new run: its steps' panes, the findings and the stop offers of the last
        run are cleared, so nothing on screen belongs to a run that is over. ``preflight``:
        what the checks just found for this run, shown until its own findings arrive."""
        self.feed.reset_run(steps)
        for step in steps:
            self.query_one(f"#log-{step}", LogView).clear()
            self.rank_lines.pop(step, None)
        self._offered_stop.clear()
        panel = self.query_one(FindingsPanel)
        panel.show(preflight or [])
        if not preflight:
            panel.set_note("no findings yet")
        if "train" in steps:
            self.checkpoints = []
            self.query_one(StatsPanel).show_checkpoints([])
        self.auto_follow = True
        self._refresh_states()

    def on_resize(self, _: object = None) -> None:
        self.set_class(self.app.size.width >= WIDE, "wide")

    def on_unmount(self) -> None:
        self._stop_watch.set()
        stop = getattr(self.source, "stop", None) or getattr(self.source, "stop_following", None)
        if stop is not None:
            stop()
        close = getattr(self.feed, "close", None)  # a feed process: stop it
        if close is not None:
            close()

    # -- workers ------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="source")
    def start_source(self) -> None:
        if self.source is None:
            return
        if getattr(self.source, "autostart", False) and self.source.run_dir is None:
            try:
                self.source.start()
            except WantuiError as exc:
                self.app.call_from_thread(
                    self.notify, f"cannot start the run: {exc}", severity="error", timeout=15
                )
                return
        from wantui.tui.feed_process import play

        if self.gpu and self.project is not None and hasattr(self.feed, "planned_sec"):
            # this machine's run: compare its speed with the plan (off the UI thread)
            self.feed.planned_sec = live.planned_sec_per_step(self.project, live.gpu_name())
        play(self.source, self.feed)

    @work(thread=True, group="gpu")
    def poll_gpu(self) -> None:
        first = True
        while not self._stop_watch.is_set():
            text = read_gpus()
            if text is None:
                if first:
                    self.app.call_from_thread(
                        self.query_one(StatsPanel).show_gpu, "GPU: nvidia-smi not found"
                    )
                return
            first = False
            self.app.call_from_thread(self.query_one(StatsPanel).show_gpu, text)
            self._stop_watch.wait(GPU_POLL_S)

    @work(thread=True, group="ckpt")
    def watch_checkpoints(self, folder: Path) -> None:
        from watchfiles import Change, watch

        folder.mkdir(parents=True, exist_ok=True)
        for changes in watch(
            folder, stop_event=self._stop_watch, rust_timeout=500, yield_on_timeout=False
        ):
            for change, path in changes:
                if change is Change.added and path.endswith(".safetensors"):
                    self.app.call_from_thread(self._add_checkpoints, [path])

    # -- drawing ------------------------------------------------------------------------
    def flush(self) -> None:
        batch = self.feed.drain()
        if not batch.empty():
            self.apply_batch(batch)

    def apply_batch(self, batch: Batch) -> None:
        for step, lines in batch.lines.items():
            self.query_one(f"#log-{step}", LogView).write_lines(lines, batch.dropped.get(step, 0))
        for step, updates in batch.updates.items():
            self.query_one(f"#log-{step}", LogView).update_lines(updates)
        for step, ranked in batch.ranked.items():
            store = self.rank_lines.setdefault(step, deque(maxlen=self.feed.max_lines * 4))
            store.extend(ranked)
            if step == self.selected and self.rank_view is not None:
                mine = [t for r, t in ranked if r == self.rank_view]
                self.query_one("#log-rank", LogView).write_lines(mine)
        for step, text in batch.partial.items():
            self.query_one(f"#log-{step}", LogView).set_partial(text)
        stats = self.query_one(StatsPanel)
        if self.selected in batch.progress:
            stats.show_progress(batch.progress[self.selected])
        if self.selected in batch.losses:
            stats.show_losses(self.feed.loss_history[self.selected])
        if batch.checkpoints:
            self._add_checkpoints(batch.checkpoints)
        if batch.states_changed:
            self._follow_active()
        if batch.states_changed or batch.ranked:
            self._refresh_states()  # the rank count is in the pane title
        if batch.findings or batch.links:
            self.query_one(FindingsPanel).show(self.feed.findings, relabel=bool(batch.links))
        if batch.findings:
            self._offer_stop(batch)
        for notice in batch.notices:
            self.notify(notice, severity="warning", timeout=8)
        if batch.finished:
            self.show_run(batch.finished)
            where = self.where_text(batch.finished)
            self.query_one(FindingsPanel).set_note(where)  # shown when no finding is
            self.notify(where, timeout=20 if batch.finished == "succeeded" else 10)

    def where_text(self, status: str | None = None) -> str:
        """Where the run's logs are and, once training has ended, the LoRA it saved."""
        out = [f"run {status}"] if status else []
        logs = [Path(st.log) for st in self.feed.steps.values() if st.log]
        if len(logs) > 1 and len({p.parent for p in logs}) == 1:
            out.append(f"logs: {logs[0].parent}/ ({', '.join(p.name for p in logs)})")
        else:
            out += [f"{st.name} log: {st.log}" for st in self.feed.steps.values() if st.log]
        lora = lora_path(self.project) if self.project is not None else None
        if lora is not None and lora.is_file() and self.feed.steps.get("train") is not None:
            if self.feed.steps["train"].state is StepState.DONE:
                out.append(f"LoRA saved: {lora}")
        return "\n".join(out) or "no step has run yet: no log file"

    def action_where(self) -> None:
        """l: the shown step's log file, and the finished LoRA."""
        st = self.feed.steps[self.selected]
        lines = [f"{self.selected} log: {st.log}" if st.log else f"{self.selected}: no log yet"]
        lora = lora_path(self.project) if self.project is not None else None
        if lora is not None:
            there = "saved" if lora.is_file() else "not written yet"
            lines.append(f"LoRA ({there}): {lora}")
        self.notify("\n".join(lines), timeout=15)

    def action_report(self) -> None:
        """p: write wantui-report.md (findings, anatomy, commands, versions; secrets
        removed) into the project folder, to attach to a public issue."""
        logs = [
            Path(st.log) for st in self.feed.steps.values() if st.log and Path(st.log).is_file()
        ]
        if not logs and self.project is None:
            self.notify("no log and no project yet: nothing to report", timeout=8)
            return
        self._write_report(logs)

    @work(thread=True, exclusive=True, group="report")
    def _write_report(self, logs: list[Path]) -> None:
        from wantui.core.report import write_report

        out = (self.project.root if self.project is not None else Path.cwd()) / "wantui-report.md"
        try:
            size = write_report(logs, self.project, out)
        except (WantuiError, OSError) as exc:
            self.app.call_from_thread(
                self.notify, f"report not written: {exc}", severity="error", timeout=15
            )
            return
        self.app.call_from_thread(
            self.notify, f"report written: {out} ({size} bytes, secrets removed)", timeout=15
        )

    def _follow_active(self) -> None:
        """Show the running step (else the failed one, else the last one that ran) until
        the user picks a pane."""
        if not self.auto_follow:
            return
        states = self.feed.steps
        pick = next((n for n, st in states.items() if st.state is StepState.RUNNING), None)
        pick = pick or next((n for n, st in states.items() if st.state is StepState.FAILED), None)
        ran = [n for n, st in states.items() if st.state in (StepState.DONE, StepState.STOPPED)]
        pick = pick or (ran[-1] if ran else None)  # else the last step that ran
        if pick and pick != self.selected:
            self.action_show_step(pick, manual=False)

    def _add_checkpoints(self, paths: list[str]) -> None:
        for p in paths:
            name = p.rsplit("/", 1)[-1]
            if name not in [c.rsplit("/", 1)[-1] for c in self.checkpoints]:
                self.checkpoints.append(p)
        self.query_one(StatsPanel).show_checkpoints(self.checkpoints)

    def _refresh_states(self) -> None:
        self.query_one(StepList).show(list(self.feed.steps.values()))
        self._pane_title()

    def _pane_title(self) -> None:
        st = self.feed.steps[self.selected]
        extra = f" — {st.note}" if st.note else ""
        ranks = ""
        if st.ranks > 1:  # short: the note after it must fit at 80 columns too
            if self.rank_view is None:
                ranks = f" · {st.ranks} ranks (k: one)"
            else:
                ranks = f" · rank {self.rank_view} of {st.ranks} (k: next)"
        title = Text.assemble((self.selected, "bold"), f" {st.state.value}{ranks}{extra}")
        self.query_one("#pane-title", Static).update(title)

    def _offer_stop(self, batch: Batch) -> None:
        """An error while its step still runs is a precursor: offer to stop now."""
        if self.read_only or not hasattr(self.source, "stop_run"):
            return
        for f in batch.findings:
            running = [
                s
                for s in f.steps
                if s in self.feed.steps and self.feed.steps[s].state is StepState.RUNNING
            ]
            serious = f.severity.value == "error" or (
                f.severity.value == "warning" and f.priority >= PRECURSOR_PRIORITY
            )
            if serious and running and f.rule not in self._offered_stop:
                self._offered_stop.add(f.rule)
                self.notify(
                    f"{f.title} — the run is still going: press s to stop it",
                    severity="error",
                    timeout=15,
                )

    # -- actions ------------------------------------------------------------------------
    def action_show_step(self, step: str, manual: bool = True) -> None:
        if step not in self.feed.steps:
            return
        self.auto_follow = self.auto_follow and not manual
        self.selected = step
        self.rank_view = None
        self.query_one(ContentSwitcher).current = f"log-{step}"
        self.query_one(StepList).selected = step
        stats = self.query_one(StatsPanel)
        stats.show_progress(self.feed.last_progress.get(step))
        stats.show_losses(self.feed.loss_history.get(step, []))
        self._pane_title()

    def action_next_rank(self) -> None:
        """All ranks (folded) -> rank 0 -> rank 1 ... -> all again."""
        store = self.rank_lines.get(self.selected)
        ranks = sorted({r for r, _ in store}) if store else []
        if not ranks:
            self.notify("this log has no [rankN]: lines (one process)", timeout=3)
            return
        if self.rank_view is None:
            self.rank_view = ranks[0]
        else:
            later = [r for r in ranks if r > self.rank_view]
            self.rank_view = later[0] if later else None
        view = self.query_one("#log-rank", LogView)
        if self.rank_view is None:
            self.query_one(ContentSwitcher).current = f"log-{self.selected}"
        else:
            view.clear()
            view.write_lines([t for r, t in store if r == self.rank_view])
            self.query_one(ContentSwitcher).current = "log-rank"
        self._pane_title()

    def _log(self) -> LogView:
        """The log pane shown now (a step's, or one rank's)."""
        if self.rank_view is not None:
            return self.query_one("#log-rank", LogView)
        return self.query_one(f"#log-{self.selected}", LogView)

    def action_next_step(self) -> None:
        steps = list(self.feed.steps)
        self.action_show_step(steps[(steps.index(self.selected) + 1) % len(steps)])

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "search":
            # like less(1): Enter finds and returns to the log; n finds the next one
            self.action_search_next()
            event.input.display = False
            self._log().focus()

    def action_search_next(self) -> None:
        needle = self.query_one("#search", Input).value
        if needle and not self._log().search(needle):
            self.notify(f"'{needle}' not found above", timeout=3)

    def key_escape(self) -> None:
        box = self.query_one("#search", Input)
        if box.display:
            box.display = False
            self._log().focus()
        elif self.query("HelpPanel"):
            self.app.action_hide_help_panel()

    def action_toggle_keys(self) -> None:
        """? opens the keys panel and ? (or Esc) closes it."""
        if self.query("HelpPanel"):
            self.app.action_hide_help_panel()
        else:
            self.app.action_show_help_panel()

    def action_focus_findings(self) -> None:
        self.query_one("#findings-list").focus()

    def action_zoom(self) -> None:
        # display flags, not a screen class: a class on the screen restyles every widget
        # (~40 ms on a busy 2-core box), a display flag only relayouts
        self.zoomed = not self.zoomed
        self.query_one("#side").display = not self.zoomed
        self.query_one(FindingsPanel).display = not self.zoomed
