"""Benchmark: `wantui diagnose` against `grep -E -f <the rules' regexes>` on big logs.

Builds two logs in a temporary folder: a realistic musubi-tuner training log (tqdm redraws
and INFO lines, a found-0 warning early and a CUDA OOM traceback plus accelerate's wrapper
near the end) and a tqdm-heavy one (nothing but progress bars redrawn with \r, the same
failure at the end). On each, in one run and one table: grep, wantui with no grep on PATH
(Hyperscan where installed, else RE2), wantui with RE2 scanning the blocks
(WANTUI_HYPERSCAN=0, as where Hyperscan has no wheel), and wantui on the plain-Python
fallback (WANTUI_RE2=0, as where google-re2 has no wheel): seconds, MB/s, ratio to grep,
peak RSS, and whether the JSON of every engine is the same. Then feeds the matcher live,
line by line, and prints per-line latency percentiles. The files are deleted afterwards.

    python bench/bench_diagnose.py --size-mb 100
    python bench/bench_diagnose.py            # 300 MB

Targets: >= 1x grep with no grep on PATH, peak RSS in the tens of MB, live
p99 < 5 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wantui.core.logtext import Normalizer
from wantui.core.matcher import Matcher
from wantui.core.rules import load_rules

BAR = "█▏▎▍▌▋▊▉"


def _bar(desc: str, n: int, total: int, rate: float, loss: float | None) -> str:
    pct = n * 100 // total
    full = pct // 10
    bar = ("█" * full + BAR[n % 8] + " " * (9 - full))[:10]
    post = f", avr_loss={loss:.3g}" if loss is not None else ""
    return f"{desc}: {pct:3d}%|{bar}| {n}/{total} [00:{n % 60:02d}<00:{(total - n) % 60:02d}, {rate:5.2f}it/s{post}]"


def _block(rng: random.Random, epoch: int, epochs: int, step0: int, total: int) -> str:
    """One epoch of a training log: INFO lines, a tqdm line with many \\r redraws."""
    out = [
        f"epoch {epoch}/{epochs}\n",
        f"INFO:musubi_tuner.dataset.cache_io:epoch is incremented. current_epoch: {epoch - 1}, epoch: {epoch}\n",
        f"INFO:musubi_tuner.dataset.cache_io:epoch is incremented. current_epoch: {epoch - 1}, epoch: {epoch}\n",
    ]
    redraws = []
    for s in range(step0, step0 + 8):
        loss = 1.2 + rng.random() * 0.5
        redraws.append("\r" + _bar("steps", s, total, 1.5 + rng.random() * 0.2, loss))
    out.append("".join(redraws) + "\n")
    for _ in range(rng.randint(2, 6)):
        out.append(
            rng.choice(
                [
                    "INFO:musubi_tuner.training.trainer_base:DiT dtype: torch.bfloat16, device: cuda:0\n",
                    "INFO:musubi_tuner.dataset.bucket:bucket: (960, 544, 81), count: 12\n",
                    "INFO:musubi_tuner.wan.modules.model:Loaded DiT model from /models/wan2.2_t2v_low_noise_14B_fp16.safetensors, info=<All keys matched successfully>\n",
                    "WanModel: Gradient checkpointing enabled. Activation CPU offloading: False\n",
                    "INFO:musubi_tuner.utils.lora_utils:Loading state dict without FP8 optimization. Dtype of weight: None, hook enabled: False\n",
                    "\rLoading wan2.1_t2v_14B_bf16.safetensors:  40%|████      | 532/1095 [00:01<00:01, 420.1it/s]"
                    "\rLoading wan2.1_t2v_14B_bf16.safetensors: 100%|██████████| 1095/1095 [00:02<00:00, 460.2it/s]\n",
                ]
            )
        )
    if step0 % 400 == 0:
        out.append(f"saving checkpoint: /out/my-lora-step{step0:08d}.safetensors\n")
    return "".join(out)


HEAD = """The following values were not passed to `accelerate launch` and had defaults used instead:
\t`--num_processes` was set to a value of `1`
Trying to import sageattention
Failed to import sageattention
INFO:musubi_tuner.wan.modules.model:Detected DiT dtype: torch.bfloat16
INFO:musubi_tuner.training.trainer_base:Load dataset config from /data/dataset.toml
INFO:musubi_tuner.dataset.datasources:glob images in /data/stills
INFO:musubi_tuner.dataset.datasources:found 0 images
INFO:musubi_tuner.dataset.datasources:glob videos in /data/videos
INFO:musubi_tuner.dataset.datasources:found 24 videos
"""

TAIL = """Traceback (most recent call last):
  File "/w/musubi-tuner/src/musubi_tuner/wan_train_network.py", line 900, in <module>
    main()
  File "/w/musubi-tuner/src/musubi_tuner/training/trainer_base.py", line 2060, in train
    accelerator.backward(loss)
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.55 GiB of which 1.12 GiB is free. Including non-PyTorch memory, this process has 22.40 GiB memory in use.
Traceback (most recent call last):
  File "/venv/bin/accelerate", line 8, in <module>
    sys.exit(main())
  File "/venv/lib/python3.10/site-packages/accelerate/commands/launch.py", line 1199, in simple_launcher
    raise subprocess.CalledProcessError(returncode=process.returncode, cmd=cmd)
subprocess.CalledProcessError: Command '['/venv/bin/python', 'src/musubi_tuner/wan_train_network.py', '--task', 't2v-14B']' returned non-zero exit status 1.
"""


def build_tqdm_log(path: Path, size_mb: int) -> int:
    """A log of progress bars only: each line one step's bar redrawn 40 times with \\r
    (tqdm's refresh), as a long run's stderr is; the OOM at the end."""
    rng = random.Random(2)
    total = 10**6
    lines = []
    for step in range(1, 400):
        redraws = "".join(
            "\r" + _bar("steps", step, total, 1.5 + rng.random() * 0.2, 1.2 + rng.random() * 0.5)
            for _ in range(40)
        )
        lines.append((redraws + "\n").encode())
    pool = b"".join(lines)
    with open(path, "wb") as fh:
        fh.write(HEAD.encode())
        written = 0
        while written < size_mb * 1_000_000:
            fh.write(pool)
            written += len(pool)
        fh.write(TAIL.encode())
    return path.stat().st_size


def build_log(path: Path, size_mb: int) -> int:
    rng = random.Random(1)
    target = size_mb * 1_000_000
    total = 10**9
    blocks = []
    step = 1
    for e in range(1, 200):  # a pool of distinct epochs, written over and over
        blocks.append(_block(rng, e, 10**6, step, total).encode())
        step += 8
    written = 0
    with open(path, "wb") as fh:
        fh.write(HEAD.encode())
        i = 0
        buf: list[bytes] = []
        while written < target:
            b = blocks[i % len(blocks)]
            buf.append(b)
            written += len(b)
            i += 1
            if len(buf) >= 2000:
                fh.write(b"".join(buf))
                buf.clear()
        fh.write(b"".join(buf))
        fh.write(TAIL.encode())
    return path.stat().st_size


# -- Python regex -> POSIX ERE -------------------------------------------------------
_SIMPLE = [
    (r"(?P<", None),
    ("\\d", "[0-9]"),
    ("\\D", "[^0-9]"),
    ("\\s", "[[:space:]]"),
    ("\\S", "[^[:space:]]"),
    ("\\w", "[[:alnum:]_]"),
    ("\\W", "[^[:alnum:]_]"),
    ("\\t", "\t"),
]


def to_ere(py: str) -> str | None:
    """Convert a Python regex to GNU ERE where the constructs map; None otherwise."""
    if re.search(r"\(\?[=!<]|\\[1-9]|\(\?[aiLmsux]", py.replace("(?P<", "(")):
        return None  # lookarounds, backrefs and inline flags have no ERE form
    s = re.sub(r"\(\?P<\w+>", "(", py)
    s = s.replace("(?:", "(")
    s = re.sub(r"([*+?}])\?", r"\1", s)  # lazy -> greedy: same set of matching lines
    # class shorthands inside [...] need POSIX classes without brackets
    out = []
    in_class = False
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            table = {"d": "0-9", "s": "[:space:]", "w": "[:alnum:]_"}
            if in_class and nxt in table:
                out.append(table[nxt])
            elif not in_class and nxt in "dDsSwWt":
                out.append(dict((k[1], v) for k, v in _SIMPLE[1:])[nxt])
            elif in_class and nxt in "DSW":
                return None
            else:
                out.append(c + nxt)
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class and out and out[-1] not in ("[", "[^"):
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


def rule_patterns_file(folder: Path) -> tuple[Path, int, int]:
    rules = load_rules(include_user=False)
    pats = [p for r in rules.rules for p in r.patterns()]
    ere: list[str] = []
    skipped = 0
    for p in pats:
        if p.ignore_case:
            skipped += 1
            continue
        e = to_ere(p.source)
        if e is None:
            skipped += 1
            continue
        ok = subprocess.run(["grep", "-E", "-e", e, "/dev/null"], capture_output=True).returncode
        if ok == 2:  # invalid ERE
            skipped += 1
            continue
        ere.append(e)
    f = folder / "patterns.ere"
    f.write_text("\n".join(ere) + "\n")
    return f, len(ere), skipped


def timed(
    cmd: list[str], out: Path, env: dict[str, str] | None = None
) -> tuple[float, int, int, float]:
    """Run ``cmd`` with stdout to a file; return (seconds, exit status, peak RSS KiB, CPU
    seconds: user + system, what a shared machine's load does not inflate).

    Not /dev/null: GNU grep notices /dev/null and stops at the first match, like -q."""
    start = time.perf_counter()
    with open(out, "wb") as sink:
        p = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(p.pid, 0)
    took = time.perf_counter() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode() if p.stderr else ""
    if p.returncode not in (0, 1):
        print(f"  {cmd[0]} failed ({p.returncode}): {err.strip()[:300]}")
    return took, p.returncode, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def live_latency(path: Path, max_lines: int) -> dict[str, float]:
    """Feed raw lines through Normalizer + Matcher as ``wantui run``/``attach`` do (the
    matcher's block scanner): one line per feed (per-line latency percentiles and
    lines/s), then the same lines in 64 KiB chunks (lines/s), as a pipe delivers a flood."""
    rules = load_rules(include_user=False)
    with open(path, "rb") as fh:
        lines = [ln for _, ln in zip(range(max_lines), fh)]
        fh.seek(max(0, path.stat().st_size - 4000))
        lines += fh.read().splitlines(keepends=True)[1:]
    m = Matcher(rules)
    n = Normalizer(prefilter=m.prefilter())
    times: list[int] = []
    clock = time.perf_counter_ns
    start = time.perf_counter()
    for raw in lines:
        t0 = clock()
        for line in n.feed(raw):
            m.feed(line)
        times.append(clock() - t0)
    one_by_one = time.perf_counter() - start
    m.finish()
    found_lines = [f.rule for f in m.findings()]
    m = Matcher(rules)
    n = Normalizer(prefilter=m.prefilter())
    blob = b"".join(lines)
    start = time.perf_counter()
    for i in range(0, len(blob), 65536):
        for line in n.feed(blob[i : i + 65536]):
            m.feed(line)
    chunked = time.perf_counter() - start
    m.finish()
    assert [f.rule for f in m.findings()] == found_lines, "live paths disagree"
    times.sort()
    q = lambda f: times[min(len(times) - 1, int(f * len(times)))] / 1e6  # noqa: E731
    return {
        "p50": q(0.5),
        "p99": q(0.99),
        "max": times[-1] / 1e6,
        "count": len(times),
        "lines_s": len(times) / one_by_one,
        "chunked_lines_s": len(times) / chunked,
    }


def _engine() -> str:
    """The engine wantui's default install scans blocks with here (Hyperscan only where
    it imports and can build a database on this CPU, as LiteralScan decides)."""
    from wantui.core.literalscan import LiteralScan

    return {"hyperscan": "Hyperscan", "re2": "RE2"}.get(LiteralScan([b"x"]).engine, "re")


def no_grep_path(folder: Path) -> str:
    """A PATH with python but no grep: wantui must not need one."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    return str(bin_dir)


def compare(
    log: Path, folder: Path, pats: Path, label: str, *, fallback: bool = True
) -> dict[str, float]:
    with open(log, "rb") as fh:  # warm the page cache for every tool alike
        while fh.read(1 << 24):
            pass
    mb = log.stat().st_size / 1e6
    env = dict(os.environ, LC_ALL="C")
    grep_cmd = ["grep", "-E", "-n", "-f", str(pats), str(log)]
    wantui_cmd = [sys.executable, "-m", "wantui", "diagnose", "--no-user-rules", "--json", str(log)]
    bare = dict(os.environ, PATH=no_grep_path(folder))
    g1, _, g_rss, g1_cpu = timed(grep_cmd, folder / "grep.out", env)
    w_s, w_rc, w_rss, w_cpu = timed(wantui_cmd, folder / "re2.out", bare)
    g2, _, _, g2_cpu = timed(grep_cmd, folder / "grep.out", env)
    # RE2 scanning the blocks too, as where Hyperscan has no wheel
    r_s, _, r_rss, r_cpu = timed(
        wantui_cmd, folder / "re2only.out", dict(bare, WANTUI_HYPERSCAN="0")
    )
    if fallback:
        p_s, _, p_rss, p_cpu = timed(wantui_cmd, folder / "py.out", dict(bare, WANTUI_RE2="0"))
    else:  # (slow: --no-fallback skips it)
        (folder / "py.out").write_bytes((folder / "re2.out").read_bytes())
        p_s = p_cpu = float("nan")
        p_rss = 0
    g_s, g_cpu = min(g1, g2), min(g1_cpu, g2_cpu)
    same = (folder / "re2.out").read_bytes() == (folder / "py.out").read_bytes()
    same = same and (folder / "re2.out").read_bytes() == (folder / "re2only.out").read_bytes()
    found = [f["rule"] for f in json.loads((folder / "re2.out").read_text())["findings"]]
    print(f"\n{label}: {mb:.0f} MB; findings {found} (exit {w_rc}); same JSON all engines: {same}")
    print(
        f"  {'':44} {'wall s':>7} {'x grep':>7} {'CPU s':>7} {'CPU MB/s':>9} {'x grep':>7}"
        f" {'peak RSS':>9}"
    )
    rows = [
        ("grep -E -n -f (rule regexes, best of 2)", g_s, g_cpu, g_rss),
        (f"wantui diagnose: {_engine()}, no grep on PATH", w_s, w_cpu, w_rss),
        ("wantui diagnose: RE2 only, no grep", r_s, r_cpu, r_rss),
        ("wantui diagnose: plain-Python fallback", p_s, p_cpu, p_rss),
    ]
    for name, sec, cpu, rss in rows:
        print(
            f"  {name:44} {sec:7.2f} {g_s / sec:6.2f}x {cpu:7.2f} {mb / cpu:9.0f}"
            f" {g_cpu / cpu:6.2f}x {rss / 1024:6.0f} MB"
        )
    return {"ratio": g_s / w_s, "cpu_ratio": g_cpu / w_cpu, "rss_mb": w_rss / 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=300)
    ap.add_argument("--live-lines", type=int, default=200_000)
    ap.add_argument("--no-fallback", action="store_true", help="skip the plain-Python engine")
    ap.add_argument("--dir", default=None, help="where to build the logs (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="wantui-diagbench-") as tmp:
        folder = Path(tmp)
        log = folder / "train.log"
        tqdm_log = folder / "tqdm.log"
        t0 = time.perf_counter()
        build_log(log, args.size_mb)
        build_tqdm_log(tqdm_log, args.size_mb)
        print(f"logs built in {time.perf_counter() - t0:.1f} s")
        pats, n_ere, skipped = rule_patterns_file(folder)
        print(f"grep patterns: {n_ere} rule regexes as ERE ({skipped} not convertible)")
        fallback = not args.no_fallback
        a = compare(log, folder, pats, "training log", fallback=fallback)
        b = compare(tqdm_log, folder, pats, "tqdm-heavy log", fallback=fallback)
        ok = min(a["cpu_ratio"], b["cpu_ratio"]) >= 1 and max(a["rss_mb"], b["rss_mb"]) < 100
        print(
            "\ntarget >= 1x grep (CPU time) with no grep on PATH, RSS < 100 MB:"
            f" {'met' if ok else 'NOT met'} (wall: {a['ratio']:.2f}x, {b['ratio']:.2f}x)"
        )
        live = live_latency(log, args.live_lines)
        print(
            f"live, {live['count']} lines fed one by one: {live['lines_s']:,.0f} lines/s,"
            f" p50 {live['p50']:.3f} ms, p99 {live['p99']:.3f} ms, max {live['max']:.2f} ms"
            " (target p99 < 5 ms)"
        )
        print(
            f"live, the same lines in 64 KiB chunks: {live['chunked_lines_s']:,.0f} lines/s"
            " (target >= 300,000)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
