#!/usr/bin/env python3
"""Does a supervised step ever block on its output? (prints figures; not a test)

A child prints short musubi-like lines at a fixed rate (default 200,000 lines/s for 10 s)
and then as fast as it can. Each is timed writing to /dev/null and supervised (its own
session, output straight into runs/<id>/<step>.log), while a follower process, the
attach path (``wantui attach --json``: tail + Normalizer + Matcher), reads the log live.
Printed: wall times, the supervised/devnull ratio (target <= 1.2), the follower's lag
behind the end of the run and its peak RSS.

    python bench/bench_supervisor.py [--rate 200000] [--seconds 10] [--burst-lines 2000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import os, sys, time
rate = int(os.environ["BENCH_RATE"]); seconds = float(os.environ["BENCH_SECONDS"])
lines = int(os.environ.get("BENCH_LINES", "0"))
out = sys.stdout.write
batch = 2000
t0 = time.perf_counter()
n = 0
if rate > 0:
    total = int(rate * seconds)
    while n < total:
        for i in range(batch):
            out(f"steps:  {n + i} it [00:01, 1.00it/s, avr_loss=0.123]\n")
        n += batch
        sys.stdout.flush()
        ahead = n / rate - (time.perf_counter() - t0)
        if ahead > 0:
            time.sleep(ahead)
else:
    while n < lines:  # one write per line, like print()
        for i in range(batch):
            out(f"INFO:musubi_tuner.training.trainer_base:line {n + i} of the burst\n")
        n += batch
sys.stdout.flush()
elapsed = time.perf_counter() - t0
with open(os.environ["BENCH_TIME_FILE"], "w") as fh:
    fh.write(f"{elapsed} {n}")
"""


def child_env(tmp: Path, rate: int, seconds: float, lines: int, name: str) -> dict[str, str]:
    return {
        "BENCH_RATE": str(rate),
        "BENCH_SECONDS": str(seconds),
        "BENCH_LINES": str(lines),
        "BENCH_TIME_FILE": str(tmp / f"{name}.time"),
    }


def read_time(path: Path) -> tuple[float, int]:
    elapsed, n = path.read_text().split()
    return float(elapsed), int(n)


def plain_run(
    tmp: Path, script: Path, env: dict[str, str], name: str, target: str
) -> tuple[float, int]:
    """The child without wantui, its output to ``target`` (/dev/null or a file)."""
    with open(target, "wb") as sink:
        subprocess.run(
            [sys.executable, str(script)],
            stdout=sink,
            stderr=sink,
            env={**os.environ, **env},
            check=True,
        )
    return read_time(tmp / f"{name}.time")


def supervised_run(
    tmp: Path, script: Path, env: dict[str, str], name: str, follow: bool
) -> dict[str, float]:
    from wantui.core.project import Project, Step
    from wantui.core.supervisor import start_run

    root = tmp / name
    root.mkdir()
    proj = Project(root=root, musubi_dir=str(script.parent), python=sys.executable)
    proj.steps["train"] = Step(name="train", script=script.name, env=env)
    handle = start_run(proj)
    follower = None
    if follow:
        # the attach path, in its own process so that its RSS is its own
        follower = subprocess.Popen(
            [sys.executable, "-m", "wantui", "attach", str(handle.run_dir), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    t_start = time.perf_counter()
    rec = handle.wait(poll=0.05)
    t_run_end = time.perf_counter()
    elapsed, n = read_time(tmp / f"{name}.time")
    log = handle.run_dir / "train.log"
    out: dict[str, float] = {
        "elapsed": elapsed,
        "lines": n,
        "status": rec.status,
        "log_bytes": log.stat().st_size,
    }
    if follower is not None:
        data = follower.stdout.read()  # type: ignore[union-attr]
        _, status, usage = os.wait4(follower.pid, 0)
        t_end = time.perf_counter()
        ok = (
            os.waitstatus_to_exitcode(status) == 0
            and json.loads(data)["run"]["status"] == "succeeded"
        )
        out.update(
            follower_lag_s=t_end - t_run_end,
            follower_mb_s=out["log_bytes"] / 1e6 / (t_end - t_start),
            follower_rss_mib=usage.ru_maxrss / 1024,
            follower_ok=ok,
        )
    shutil.rmtree(root, ignore_errors=True)  # keep the disk use of the bench small
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rate", type=int, default=200_000, help="lines per second in the paced test")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the paced test")
    ap.add_argument(
        "--burst-lines", type=int, default=2_000_000, help="lines in the as-fast-as-it-can test"
    )
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    with tempfile.TemporaryDirectory(prefix="wantui-bench-") as d:
        tmp = Path(d)
        script = tmp / "flood.py"
        script.write_text(CHILD)
        print(f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
        for label, rate, lines in (
            (f"paced {args.rate:,} lines/s for {args.seconds:g} s", args.rate, 0),
            (f"burst {args.burst_lines:,} lines as fast as possible", 0, args.burst_lines),
        ):
            print(f"\n{label}")
            results = {}
            null_s, n = plain_run(
                tmp, script, child_env(tmp, rate, args.seconds, lines, "null"), "null", os.devnull
            )
            results["to /dev/null (no wantui)"] = null_s
            file_s, _ = plain_run(
                tmp,
                script,
                child_env(tmp, rate, args.seconds, lines, "file"),
                "file",
                str(tmp / "plain.log"),
            )
            (tmp / "plain.log").unlink()
            results["to a file (no wantui)"] = file_s
            for follow in (False, True):
                name = f"sup{rate}{follow}"
                sup = supervised_run(
                    tmp, script, child_env(tmp, rate, args.seconds, lines, name), name, follow
                )
                key = "supervised + attach follower" if follow else "supervised, nobody following"
                results[key] = sup["elapsed"]
                if sup["status"] != "succeeded":
                    print(f"  run {sup['status']}!")
            for key, secs in results.items():
                print(
                    f"  {key:30} {secs:7.2f} s  {n / secs:>12,.0f} lines/s  ratio to /dev/null {secs / null_s:5.3f}"
                )
            worst = max(results.values()) / null_s
            overhead = (
                max(
                    results["supervised, nobody following"], results["supervised + attach follower"]
                )
                / file_s
            )
            print(
                f"  worst ratio to /dev/null {worst:.3f} (target <= 1.2: {'met' if worst <= 1.2 else 'NOT met'}); "
                f"supervised vs the same output to a plain file {overhead:.3f}; log {sup['log_bytes'] / 1e6:,.1f} MB"
            )
            print(
                f"  attach follower (tail + Normalizer + Matcher): {sup['follower_mb_s']:.1f} MB/s, "
                f"done {sup['follower_lag_s']:.2f} s after the run ended, peak RSS {sup['follower_rss_mib']:.0f} MiB, "
                f"{'all events and findings' if sup['follower_ok'] else 'FAILED'}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
