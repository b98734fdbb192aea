"""Benchmark: ``wantui plan`` end to end, in a fresh interpreter each time, without torch.

Writes a project folder with a real-header 14B DiT (sparse file), a dataset of 200 clips
and a training command, then runs ``python -m wantui plan --json --gpu ... --ram ...``
(the no-probe path) ``--repeat`` times and reports wall time, and whether torch was
imported. Also prints the calibration table (predicted against published).

    python bench/bench_plan.py [--repeat 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import modelfactory as mf  # noqa: E402

from wantui.core.plan.calibration import POINTS, predict  # noqa: E402

TRAIN = ["accelerate", "launch", "wan_train_network.py", "--task", "t2v-A14B", "--dit",
         "dit.safetensors", "--dataset_config", "ds.toml", "--mixed_precision", "bf16", "--sdpa",
         "--fp8_base", "--fp8_scaled", "--gradient_checkpointing", "--blocks_to_swap", "20",
         "--network_dim", "32", "--optimizer_type", "adamw8bit", "--max_train_epochs", "16"]  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "vids").mkdir()
        for i in range(200):
            (d / "vids" / f"c{i:03d}.mp4").write_bytes(b"")
            (d / "vids" / f"c{i:03d}.txt").write_text("a cat")
        (d / "ds.toml").write_text(
            '[general]\nresolution = [960, 544]\ncaption_extension = ".txt"\n'
            '[[datasets]]\nvideo_directory = "vids"\ntarget_frames = [1, 25, 45]\n'
        )
        mf.write_safetensors(d / "dit.safetensors", mf.dit_tensors("14B", "t2v"))
        code = (
            "import sys, runpy\n"
            "sys.argv = ['wantui', 'plan', '--json', '--gpu', 'RTX 4090', '--ram', '64', '--',"
            f" *{TRAIN!r}]\n"
            "try:\n    runpy.run_module('wantui', run_name='__main__')\n"
            "except SystemExit as e:\n    rc = e.code\n"
            "print('torch imported' if 'torch' in sys.modules else 'no torch', file=sys.stderr)\n"
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        times, cpu, out = [], [], None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            import resource  # POSIX; this bench is for Linux boxes

            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            out = subprocess.run([sys.executable, "-c", code], cwd=d, env=env,
                                 capture_output=True, text=True)  # fmt: skip
            times.append(time.perf_counter() - t0)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
        assert out is not None
        plan = json.loads(out.stdout)
        train = plan["steps"][-1]
        print(f"wantui plan (fresh interpreter, no probe): median {statistics.median(times):.3f} s,"
              f" min {min(times):.3f} s over {args.repeat} runs (CPU time: median"
              f" {statistics.median(cpu):.3f} s; wall time waits on a loaded box);"
              f" {out.stderr.strip()}")  # fmt: skip
        print(f"  train: {train['vram_peak_gib']} GiB VRAM, {train['ram_peak_gib']} GiB RAM,"
              f" fits {train['fits']}, min swap {train['min_blocks_to_swap']},"
              f" {train['sec_per_step']} s/step, {train['total_steps']} steps, {train['hours']} h")  # fmt: skip
    print("\ncalibration: predicted vs published")
    for p in POINTS:
        print(f"  {p.id:<32} {p.kind:<11} published {p.value:>6g}  predicted {predict(p):>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
