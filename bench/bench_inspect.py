"""Benchmark: model inspection cost vs file size.

Writes sparse files of the real Wan sizes (a real header, then ``os.truncate`` to the
declared size) and times ``inspect_file`` on each; then writes one smaller file with real
data and times a full load with the safetensors library next to ``inspect_file`` on it.

    python bench/bench_inspect.py [--repeat 20] [--full-mb 512] [--dir /tmp/x]

Prints ms per file and the ratio. The full load is measured with a warm page cache (the
file was just written), so it is a lower bound for a cold disk.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import modelfactory as mf  # noqa: E402

from wantui.core.models import inspect_file  # noqa: E402


def _time(fn, repeat: int) -> float:
    fn()  # warm the import and the OS cache for the header
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    # the median is what a user sees; on a shared, loaded box the minimum is the cost itself
    return statistics.median(runs) * 1000, min(runs) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument(
        "--full-mb", type=int, default=512, help="size of the fully loaded comparison file"
    )
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="bench-inspect-"))
    work.mkdir(parents=True, exist_ok=True)

    cases = {
        "wan2.1_t2v_1.3B_bf16.safetensors": mf.dit_tensors("1.3B", "t2v"),
        "wan2.1_t2v_14B_bf16.safetensors": mf.dit_tensors("14B", "t2v"),
        "wan2.1_i2v_720p_14B_fp16.safetensors": mf.dit_tensors("14B", "i2v", dtype="F16"),
        "wan2.2_t2v_low_noise_14B_fp16.safetensors": mf.dit_tensors("14B", "t2v", dtype="F16"),
        "wan2.1_t2v_14B_fp8_e4m3fn.safetensors": mf.dit_tensors("14B", "t2v", fp8=True),
        "umt5_xxl_fp16.safetensors": mf.t5_hf_tensors(),
        "models_t5_umt5-xxl-enc-bf16.safetensors": mf.t5_wan_tensors(),
    }
    print(
        f"{'file':46} {'declared':>10} {'on disk':>9} {'tensors':>7} {'median':>9} {'min':>8}  kind"
    )
    worst = 0.0
    for name, tensors in cases.items():
        p = mf.write_safetensors(work / name, tensors)
        ms, best = _time(lambda p=p: inspect_file(p), args.repeat)
        worst = max(worst, ms)
        info = inspect_file(p)
        disk = p.stat().st_blocks * 512
        print(
            f"{name:46} {info.size / 1e9:8.2f}GB {disk / 1e6:7.2f}MB {info.tensors:7d} {ms:7.2f}ms {best:6.2f}ms  {info.summary()}"
        )

    # one real file with data on disk, loaded fully by the safetensors library
    import numpy as np
    from safetensors.numpy import load_file, save_file

    n = args.full_mb * 1024 * 1024 // 2 // 64  # bf16-sized elements per tensor, 64 tensors
    real = work / "real_data.safetensors"
    rng = np.random.default_rng(0)
    save_file(
        {
            f"blocks.{i}.w": rng.standard_normal(n, dtype=np.float32).astype(np.float16)
            for i in range(64)
        },
        str(real),
    )
    size = real.stat().st_size
    load_ms, _ = _time(lambda: load_file(str(real)), max(3, args.repeat // 5))
    insp_ms, _ = _time(lambda: inspect_file(real), args.repeat)
    print()
    print(
        f"full load of a real {size / 1e6:.0f} MB file (safetensors.numpy.load_file, warm cache): {load_ms:.1f} ms"
    )
    print(f"inspect_file on the same file: {insp_ms:.2f} ms (ratio {load_ms / insp_ms:.0f}x)")
    rate = size / (load_ms / 1000)
    print(
        f"full load extrapolated to 28.6 GB at that rate: {28.6e9 / rate:.1f} s;"
        f" inspect_file on the 28.6 GB file: worst median {worst:.2f} ms per file (budget 50 ms)"
    )
    return 0 if worst < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
