"""Benchmark: checking a pasted command against a musubi-tuner checkout.

The first check reads the checkout's parsers and dataset schema from source (ast) and
caches them under ``$XDG_CACHE_HOME/wantui/musubi``; later checks load the cache. Times:

* the first check (empty cache: the source read included),
* later checks in the same process (median and minimum of ``--repeat``),
* ``wantui check -- COMMAND`` as a new process after the first read (what a user runs
  again; Python's start-up and imports included).

    python bench/bench_check_command.py [--checkout DIR] [--repeat 10]

``--checkout`` (or ``WANTUI_MUSUBI_CHECKOUT``): a real musubi-tuner checkout; default: an
export of v0.3.4 (30c658c) from the musubi-tuner mirror when it is there, else a
musubi-style checkout written from the bundled catalog (tests/musubi_like.py). The command
names a DiT, a T5 and a dataset made with tests/modelfactory.py, so the model-file checks
run too. Target: under 0.5 s after the first read.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import modelfactory as mf  # noqa: E402
import musubi_like  # noqa: E402

MIRROR = Path("/work/.mirror/kohya-ss+musubi-tuner/repo")


def _checkout(arg: str | None, tmp: Path) -> tuple[Path, str]:
    given = arg or os.environ.get("WANTUI_MUSUBI_CHECKOUT")
    if given:
        return Path(given), "given"
    if (MIRROR / "HEAD").exists():
        out = tmp / "musubi-tuner"
        out.mkdir()
        tar = subprocess.run(
            ["git", "-C", str(MIRROR), "archive", "30c658c"], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(out)], input=tar.stdout, check=True)
        return out, "export of 30c658c"
    musubi_like.write_checkout(tmp / "musubi-tuner")
    return tmp / "musubi-tuner", "musubi-style, from the bundled catalog"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkout")
    ap.add_argument("--repeat", type=int, default=10)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")
        checkout, kind = _checkout(a.checkout, tmp)
        work = tmp / "work"
        (work / "models").mkdir(parents=True)
        (work / "i").mkdir()
        mf.write_safetensors(work / "models/dit.safetensors", mf.dit_tensors("14B", "t2v"))
        mf.write_safetensors(work / "models/t5.safetensors", mf.t5_wan_tensors())
        (work / "d.toml").write_text(
            '[general]\nresolution = 512\n[[datasets]]\nimage_directory = "i"\n'
        )
        script = next(checkout.glob("**/musubi_tuner/wan_train_network.py"))
        cmd = (
            f"python {script} --dataset_config d.toml --task t2v-14B --dit models/dit.safetensors"
            " --t5 models/t5.safetensors --mixed_prec bf16 --sdpa --log_grad_metrics"
            " --optimizer_type adamw --network_module networks.lora_wan --network_dim 16"
            " --output_dir out --output_name x"
        )
        t0 = time.perf_counter()
        from wantui.core.preflight import check_pasted_with_reference

        findings, ref = check_pasted_with_reference(cmd, work)
        first = time.perf_counter() - t0
        runs = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            check_pasted_with_reference(cmd, work)
            runs.append(time.perf_counter() - t0)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}

        def cli_runs(command: str) -> list[float]:
            runs = []
            for _ in range(3):
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "wantui", "check", "--", command], cwd=work,
                               env=env, capture_output=True, check=False)  # fmt: skip
                runs.append(time.perf_counter() - t0)
            return runs

        cli = cli_runs(cmd)
        bundled = cli_runs(cmd.replace(str(script), "wan_train_network.py"))
        print(f"checkout: {checkout} ({kind}); {ref.describe()}")
        print(f"findings: {', '.join(sorted(f.rule for f in findings))}")
        print(
            f"first check (parsers read from source, import of wantui included): {first * 1000:.0f} ms"
        )
        print(
            f"later checks, same process: median {statistics.median(runs) * 1000:.0f} ms,"
            f" min {min(runs) * 1000:.0f} ms ({a.repeat} runs)"
        )
        print(
            f"`wantui check -- COMMAND`, new process, cache on disk: median"
            f" {statistics.median(cli) * 1000:.0f} ms, min {min(cli) * 1000:.0f} ms (3 runs)"
        )
        print(
            f"the same command with no checkout (bundled catalog), new process: median"
            f" {statistics.median(bundled) * 1000:.0f} ms (Python start-up and imports)"
        )
        ok = statistics.median(runs) < 0.5
        print("target < 500 ms after the first read:", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
