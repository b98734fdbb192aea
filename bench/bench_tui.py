"""TUI performance figures (prints them; not a test).

1. first screen: a fresh interpreter imports the app, opens the pipeline screen on the
   demo, and reports the time to the first drawn screen; torch must not be imported.
2. flood: a real child (through the supervisor, into its log file) prints RATE lines per
   second for SECONDS while the app shows it: musubi-tuner's own output, a tqdm bar redrawn
   with \r per step (every bar reaches the progress tracker), INFO records, epoch and
   checkpoint lines, and now and then a warning a rule's literal lets through to the
   matcher; meanwhile a key that toggles the zoom
   is pressed every 50 ms and the time until the state changed is recorded (p50/p99/max);
   the child's wall time is compared with the same child writing to /dev/null; the app's
   RSS is sampled.

    python bench/bench_tui.py [--seconds 10] [--rate 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import sys, time
rate, seconds = int(sys.argv[1]), float(sys.argv[2])
tick = 0.01
per_tick = max(1, int(rate * tick))
def bar(i):
    return "\rsteps: %3d%%|%-10s| %d/1000000 [00:%02d<12:00,  1.59it/s, avr_loss=0.%04d]" % (
        i * 100 // 1000000, "#" * (i % 10), i, i % 60, i % 9973)
LINES = [
    "INFO:musubi_tuner.training.trainer_base:DiT dtype: torch.bfloat16, device: cuda:0\n",
    "INFO:musubi_tuner.dataset.bucket:bucket: (960, 544, 81), count: 12\n",
    "INFO:musubi_tuner.dataset.cache_io:epoch is incremented. current_epoch: 0, epoch: 1\n",
]
def line(i):
    k = i % 50
    if k == 0:
        return "epoch %d/1000\n" % (i // 50 + 1)
    if k == 25:
        return "saving checkpoint: /out/lora-step%08d.safetensors\n" % i
    if i % 1000 == 7:  # musubi's dataset dump: the matcher's prefilter lets it through
        return "[Dataset 0]\n"
    if k % 3:
        return bar(i) + bar(i + 1) + "\n"
    return LINES[i % len(LINES)]
w = sys.stdout.write
n = 0
start = time.perf_counter()
while True:
    elapsed = time.perf_counter() - start
    if elapsed >= seconds:
        break
    w("".join(line(n + i) for i in range(per_tick)))
    n += per_tick
    ahead = n / rate - (time.perf_counter() - start)
    if ahead > 0:
        time.sleep(ahead)
sys.stdout.flush()
print("flood done: %d lines in %.2f s" % (n, time.perf_counter() - start), file=sys.stderr)
"""

BARE = r"""
import time
t0 = time.perf_counter()
import asyncio
from textual.app import App
from textual.widgets import Footer, Header, Static

class Bare(App):
    def compose(self):
        yield Header()
        yield Static("x")
        yield Footer()

async def main():
    async with Bare().run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        print("FIRST", time.perf_counter() - t0)
asyncio.run(main())
"""

FIRST_SCREEN = r"""
import time
t0 = time.perf_counter()
import asyncio, sys
from pathlib import Path
from wantui.cli.tui_cmd import build_app
from wantui.tui.screens.pipeline import PipelineScreen

async def main():
    app = build_app(Path(sys.argv[1]))
    async with app.run_test(size=(80, 24)) as pilot:
        while not isinstance(app.screen, PipelineScreen):
            await asyncio.sleep(0.005)
        await pilot.pause()
        print("FIRST", time.perf_counter() - t0)
asyncio.run(main())
print("TORCH", "torch" in sys.modules)
"""


def rss_mib() -> float:
    try:
        for row in Path("/proc/self/status").read_text().splitlines():
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def first_screen(runs: int = 3) -> None:
    times = []
    torch = False
    from tests.fakes.fakeproject import make_project

    folder = Path(tempfile.mkdtemp(prefix="wantui-bench-"))
    make_project(folder)  # a project with three steps and no run yet: what `wantui` opens
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", FIRST_SCREEN, str(folder)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
        for row in out.stdout.splitlines():
            if row.startswith("FIRST"):
                times.append(float(row.split()[1]))
            if row.startswith("TORCH"):
                torch = torch or row.endswith("True")
        if out.returncode != 0:
            print(out.stderr[-2000:])
    bare = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", BARE], capture_output=True, text=True, cwd=ROOT, timeout=120
        )
        bare += [float(r.split()[1]) for r in out.stdout.splitlines() if r.startswith("FIRST")]
    print(
        f"for scale, a bare Textual app (Header, Static, Footer) on this machine: median {statistics.median(bare):.3f} s"
    )
    print(
        f"first screen of `wantui` in a project (fresh interpreter, imports included): min {min(times):.3f} s, median {statistics.median(times):.3f} s over {len(times)} runs"
    )
    print(f"torch imported by the TUI process: {torch}")


def devnull_baseline(script: Path, rate: int, seconds: float) -> float:
    t = time.perf_counter()
    with open(os.devnull, "wb") as null:
        subprocess.run(
            [sys.executable, str(script), str(rate), str(seconds)],
            stdout=null,
            stderr=null,
            check=True,
        )
    return time.perf_counter() - t


def _iso(s: str) -> float:
    return datetime.strptime(s.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").timestamp()


async def flood(rate: int, seconds: float, thread: bool = False) -> None:
    from textual import events

    from wantui.core.project import Project, Step
    from wantui.tui.app import WantuiApp
    from wantui.tui.feed import Feed
    from wantui.tui.feed_process import ProcessFeed
    from wantui.tui.sources import LiveSource

    tmp = Path(tempfile.mkdtemp(prefix="wantui-bench-"))
    script = tmp / "flood.py"
    script.write_text(CHILD)
    base = devnull_baseline(script, rate, seconds)
    project = Project(root=tmp, name="bench", python=sys.executable, dataset_config=None)
    project.steps["train"] = Step("train", str(script), [str(rate), str(seconds)])
    # the app's default: following + diagnosis in a child process; --thread: the old way
    feed = Feed(("train",)) if thread else ProcessFeed(("train",))
    print(f"run model: {'in-process thread (Feed)' if thread else 'child process (ProcessFeed)'}")
    app = WantuiApp(
        feed=feed,
        source=LiveSource(project, steps=["train"], autostart=True),
        project=project,
        gpu=False,
    )
    latencies: list[float] = []
    pressed_at: list[float] = []  # wall clock of each press, to split flood / catch-up
    rss: list[float] = []
    async with app.run_test(size=(120, 40)):
        await asyncio.sleep(0.5)
        idle: list[float] = []
        for _ in range(20):  # the same measure before the flood, for scale
            screen = app.screen
            before = screen.zoomed
            t = time.perf_counter()
            app.post_message(events.Key("z", "z"))
            while screen.zoomed == before:
                await asyncio.sleep(0.001)
            idle.append(time.perf_counter() - t)
            await asyncio.sleep(0.02)
        while feed.steps["train"].state.value == "pending":
            await asyncio.sleep(0.02)
        flood_start = time.time()
        while feed.finished is None:
            screen = app.screen
            before = screen.zoomed
            t = time.perf_counter()
            # the key as the terminal driver delivers it (Pilot.press adds its own waits)
            app.post_message(events.Key("z", "z"))
            while screen.zoomed == before:
                await asyncio.sleep(0.001)
            latencies.append(time.perf_counter() - t)
            pressed_at.append(time.time())
            rss.append(rss_mib())
            await asyncio.sleep(0.05)
        caught_up = time.time()
        shown = app.screen.query_one("#log-train").line_count
    record = json.loads(next(tmp.glob("runs/*/run.json")).read_text())
    step = record["steps"][0]
    took = _iso(step["ended"]) - _iso(step["started"])
    lat = sorted(latencies)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(
        f"flood: {rate} lines/s for {seconds:g} s -> {feed.steps['train'].lines} lines through the app"
    )
    print(
        f"child wall time: {took:.2f} s under the supervisor vs {base:.2f} s to /dev/null (ratio {took / base:.2f}, target <= 1.2)"
    )
    end = _iso(step["ended"])
    rate_in = feed.steps["train"].lines / max(caught_up - flood_start, 1e-9)
    print(
        f"the app had shown and diagnosed every line {max(caught_up - end, 0.0):.1f} s after the child ended "
        f"({rate_in:,.0f} lines/s through normaliser, matcher and panes)"
    )
    print(
        f"key latency over {len(lat)} presses: p50 {statistics.median(lat) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms (target p99 < 100 ms)"
    )
    during = sorted(x for x, w in zip(latencies, pressed_at) if w <= end)
    if during:
        p99d = during[min(len(during) - 1, int(len(during) * 0.99))]
        print(
            f"  of which while the child was flooding: {len(during)} presses, p50 {statistics.median(during) * 1000:.1f} ms, p99 {p99d * 1000:.1f} ms, max {during[-1] * 1000:.1f} ms"
        )
    print(
        f"key latency idle (same machine, before the flood): p50 {statistics.median(idle) * 1000:.1f} ms, max {max(idle) * 1000:.1f} ms"
    )
    print(
        f"app RSS: start {rss[0]:.0f} MiB, max {max(rss):.0f} MiB, end {rss[-1]:.0f} MiB; pane keeps {shown} lines (max_lines {feed.max_lines})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=200_000)
    ap.add_argument("--skip-first", action="store_true")
    ap.add_argument(
        "--thread", action="store_true", help="diagnose in a UI-process thread (for comparison)"
    )
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    if not a.skip_first:
        first_screen()
    asyncio.run(flood(a.rate, a.seconds, a.thread))


if __name__ == "__main__":
    main()
