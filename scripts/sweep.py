#!/usr/bin/env python3
"""Break one value at a time in a working lab and run the real musubi-tuner step on it.

For each case (a dataset key or a command-line option, taken from the semantic map
``wantui/core/args/semantics.json``) the harness copies the lab (models are linked, not
copied), applies the one change, then

1. asks wantui before launch: ``wantui check --project CASE --json`` (predicted: an error
   finding),
2. runs the real musubi-tuner step on the CPU with a time bound, under ``nice``, and
   records whether and how it ends (exit status, timeout, "did nothing": exit 0 with no
   cache file or no checkpoint written),
3. asks wantui after the fact: ``wantui diagnose --json LOG`` (diagnosed: a finding that
   is not the unknown-failure fallback; a timeout counts as diagnosed when wantui names a
   stall).

Results go to ``--results`` (one JSON line per case, appended, so a case is never re-run
unless ``--rerun``) and each log, trimmed, to ``fixtures/sweep/<case>.log`` with the
setting that produced it in ``fixtures/sweep/<case>.json``. ``--matrix`` prints the
Markdown matrix of docs/sweep.md from the results.

    python scripts/build_lab.py --musubi M --out /tmp/lab --dtype fp32 --sparse --size 32 --frames 5
    python scripts/sweep.py --lab /tmp/lab --python VENV/bin/python \\
        --musubi M/src --pythonpath scripts/cpu_shim --results /tmp/sweep.jsonl
    python scripts/sweep.py --results /tmp/sweep.jsonl --matrix

Standalone: wantui is run as a subprocess (``--wantui``), musubi-tuner only through its
scripts. Needs a CPU torch and musubi-tuner's requirements in ``--python``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "sweep"
KEEP_LINES = 60  # a fixture keeps the log's head and tail: enough for every rule


@dataclass
class Case:
    id: str
    step: str  # "latents" or "train"
    target: str  # the dataset key or the option broken
    value: str  # the value, as the user would write it
    use: str  # what musubi does with it (semantics.json)
    apply: Callable[[Path], None]


# -- mutations ------------------------------------------------------------------------------


def _dataset(line: str, section: str = "general") -> Callable[[Path], None]:
    """Set one ``key = value`` line in the lab's dataset TOML (in [general] or the first
    [[datasets]] entry)."""
    key = line.split("=", 1)[0].strip()

    def apply(lab: Path) -> None:
        path = lab / "dataset.toml"
        text = path.read_text(encoding="utf-8")
        text = re.sub(rf"(?m)^{re.escape(key)}\s*=.*\n", "", text)
        head = "[general]\n" if section == "general" else "[[datasets]]\n"
        text = text.replace(head, head + line + "\n", 1)
        path.write_text(text, encoding="utf-8")

    return apply


def _file(rel: str, data: bytes) -> Callable[[Path], None]:
    def apply(lab: Path) -> None:
        p = lab / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.is_symlink():
            p.unlink()
        p.write_bytes(data)

    return apply


def _both(*fns: Callable[[Path], None]) -> Callable[[Path], None]:
    def apply(lab: Path) -> None:
        for fn in fns:
            fn(lab)

    return apply


def _args(step: str, *extra: str, drop: tuple[str, ...] = ()) -> Callable[[Path], None]:
    """Append (or replace) options of ``step`` in wantui.toml."""

    def apply(lab: Path) -> None:
        path = lab / "wantui.toml"
        text = path.read_text(encoding="utf-8")
        m = re.search(rf"(?ms)^\[steps\.{step}\].*?^args = (\[.*?\])$", text)
        assert m, f"no [steps.{step}] args in the lab"
        args: list[str] = json.loads(m.group(1))
        for flag in (*drop, *[e for e in extra if e.startswith("--")]):
            if flag in args:
                i = args.index(flag)
                del args[
                    i : i + (2 if i + 1 < len(args) and not args[i + 1].startswith("--") else 1)
                ]
        args += list(extra)
        text = text[: m.start(1)] + json.dumps(args) + text[m.end(1) :]
        path.write_text(text, encoding="utf-8")

    return apply


HTML = b"<!DOCTYPE html><html><head><title>clip</title></head><body>Sign in</body></html>\n"


def cases() -> list[Case]:
    d, f, a = _dataset, _file, _args
    L, T = "latents", "train"
    return [
        Case("ds-batch-size-0", L, "batch_size", "0", "loop", d("batch_size = 0")),
        Case("ds-batch-size-neg", L, "batch_size", "-1", "loop", d("batch_size = -1")),
        Case("ds-num-repeats-0", L, "num_repeats", "0", "range", d("num_repeats = 0")),
        Case("ds-num-repeats-neg", L, "num_repeats", "-2", "range", d("num_repeats = -2")),
        Case("ds-resolution-0", L, "resolution", "[32, 0]", "divides", d("resolution = [32, 0]")),
        Case("ds-resolution-neg", L, "resolution", "-32", "divides", d("resolution = -32")),
        Case(
            "ds-frame-stride-0",
            L,
            "frame_stride",
            "0 (slide)",
            "range",
            _both(d('frame_extraction = "slide"', "datasets"), d("frame_stride = 0", "datasets")),
        ),
        Case(
            "ds-frame-sample-0",
            L,
            "frame_sample",
            "0 (uniform)",
            "passes",
            _both(d('frame_extraction = "uniform"', "datasets"), d("frame_sample = 0", "datasets")),
        ),
        Case(
            "ds-target-frames-0",
            L,
            "target_frames",
            "[0]",
            "loop",
            d("target_frames = [0]", "datasets"),
        ),
        Case(
            "ds-target-frames-empty",
            L,
            "target_frames",
            "[]",
            "loop",
            d("target_frames = []", "datasets"),
        ),
        Case("ds-max-frames-0", L, "max_frames", "0", "compares", d("max_frames = 0", "datasets")),
        Case(
            "ds-source-fps-0", L, "source_fps", "0.0", "divides", d("source_fps = 0.0", "datasets")
        ),
        Case(
            "ds-video-dir-missing",
            L,
            "video_directory",
            "missing folder",
            "globs",
            d('video_directory = "data/no_such"', "datasets"),
        ),
        Case(
            "ds-video-dir-is-file",
            L,
            "video_directory",
            "a file",
            "globs",
            d('video_directory = "data/videos/clip_a.txt"', "datasets"),
        ),
        Case(
            "ds-video-dir-empty",
            L,
            "video_directory",
            "empty folder",
            "globs",
            _both(f("data/empty/.keep", b""), d('video_directory = "data/empty"', "datasets")),
        ),
        Case(
            "ds-caption-ext-none",
            L,
            "caption_extension",
            '".md" (no captions)',
            "decodes_text",
            d('caption_extension = ".md"'),
        ),
        Case(
            "ds-caption-latin1",
            L,
            "caption_extension",
            "caption not UTF-8",
            "decodes_text",
            f("data/videos/clip_a.txt", "caf\xe9 cr\xe8me au lait".encode("latin-1")),
        ),
        Case(
            "ds-video-html",
            L,
            "video_directory",
            "HTML page saved as .mp4",
            "decodes_video",
            f("data/videos/clip_a.mp4", HTML),
        ),
        Case(
            "ds-video-truncated",
            L,
            "video_directory",
            "video cut to 200 bytes",
            "decodes_video",
            _truncate("data/videos/clip_a.mp4", 200),
        ),
        Case(
            "ds-jsonl-bad-line",
            L,
            "video_jsonl_file",
            "line 2 not JSON",
            "decodes_jsonl",
            _both(
                f(
                    "data/videos.jsonl",
                    b'{"video_path": "data/videos/clip_a.mp4", "caption": "a"}\n{"video_path": "data/videos/clip_b.mp4", caption: b}\n',
                ),
                _jsonl_instead(),
            ),
        ),
        Case(
            "ds-cache-dir-is-file",
            L,
            "cache_directory",
            "a file",
            "globs",
            d('cache_directory = "data/videos/clip_a.txt"', "datasets"),
        ),
        Case("tr-num-repeats-0", T, "num_repeats", "0", "range", d("num_repeats = 0")),
        Case(
            "tr-max-train-steps-0",
            T,
            "--max_train_steps",
            "0",
            "range",
            a(T, "--max_train_steps", "0"),
        ),
        Case(
            "tr-max-train-epochs-0",
            T,
            "--max_train_epochs",
            "0",
            "loop",
            a(T, "--max_train_epochs", "0"),
        ),
        Case(
            "tr-grad-accum-0",
            T,
            "--gradient_accumulation_steps",
            "0",
            "divides",
            a(T, "--gradient_accumulation_steps", "0"),
        ),
        Case(
            "tr-save-every-n-steps-0",
            T,
            "--save_every_n_steps",
            "0",
            "modulus",
            a(T, "--save_every_n_steps", "0"),
        ),
        Case(
            "tr-network-args-no-eq",
            T,
            "--network_args",
            "loraplus_lr_ratio",
            "key_value",
            a(T, "--network_args", "loraplus_lr_ratio"),
        ),
        Case(
            "tr-optimizer-args-no-eq",
            T,
            "--optimizer_args",
            "weight_decay",
            "key_value",
            a(T, "--optimizer_args", "weight_decay"),
        ),
        Case(
            "tr-network-weights-missing",
            T,
            "--network_weights",
            "missing file",
            "loads_safetensors",
            a(T, "--network_weights", "output/nope.safetensors"),
        ),
        Case(
            "tr-resume-missing",
            T,
            "--resume",
            "missing folder",
            "opens",
            a(T, "--resume", "output/no-state"),
        ),
        Case(
            "tr-sample-prompts-missing",
            T,
            "--sample_prompts",
            "missing file",
            "decodes_text",
            a(T, "--sample_prompts", "prompts.txt", "--sample_every_n_steps", "1"),
        ),
        Case("tr-network-dim-0", T, "--network_dim", "0", "passes", a(T, "--network_dim", "0")),
        Case(
            "tr-output-dir-is-file",
            T,
            "--output_dir",
            "a file",
            "makedirs",
            a(T, "--output_dir", "dataset.toml"),
        ),
    ]


def _truncate(rel: str, size: int) -> Callable[[Path], None]:
    def apply(lab: Path) -> None:
        p = lab / rel
        data = p.read_bytes()[:size]
        p.unlink()
        p.write_bytes(data)

    return apply


def _jsonl_instead() -> Callable[[Path], None]:
    def apply(lab: Path) -> None:
        path = lab / "dataset.toml"
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^video_directory = .*$", 'video_jsonl_file = "data/videos.jsonl"', text)
        path.write_text(text, encoding="utf-8")

    return apply


# -- running ----------------------------------------------------------------------------------


def copy_lab(lab: Path, dest: Path) -> None:
    """The lab's small files copied, its models and caches linked (never written by a case:
    caches are copied because a latents run may delete them)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for item in lab.iterdir():
        if item.name in ("runs", "output"):
            (dest / item.name).mkdir()
        elif item.name == "models":
            (dest / "models").symlink_to(item.resolve())
        elif item.is_dir():
            shutil.copytree(item, dest / item.name)
        else:
            shutil.copy2(item, dest / item.name)


def step_command(lab: Path, step: str, python: str, musubi_src: Path) -> list[str]:
    """The step's command line from the lab's wantui.toml (the script run directly, with
    ``--device cpu`` for latents: accelerate launch adds nothing on one CPU process)."""
    import tomllib

    conf = tomllib.loads((lab / "wantui.toml").read_text(encoding="utf-8"))
    s = conf["steps"][step]
    cmd = [
        python,
        str(musubi_src / "musubi_tuner" / s["script"]),
        "--dataset_config",
        "dataset.toml",
    ]
    cmd += list(s["args"])
    if step == "latents":
        cmd += ["--device", "cpu"]
    return cmd


ZERO_STEPS = re.compile(r"total optimization steps[^:\n]*: 0\b")


def did_nothing(lab: Path, step: str, started: float, log: str = "") -> bool:
    """Exit 0 without the step's product: no latent cache written, no LoRA saved, or a
    training run of zero optimization steps (it still saves an untrained LoRA)."""
    if step == "train" and ZERO_STEPS.search(log):
        return True
    if step == "latents":
        caches = (lab / "data" / "cache").glob("*_wan.safetensors")
        return not any(p.stat().st_mtime >= started for p in caches)
    out = lab / "output"
    return not any(p.suffix == ".safetensors" for p in out.glob("*")) if out.is_dir() else True


def wantui_json(wantui: list[str], args: list[str], cwd: Path) -> dict:
    try:
        res = subprocess.run(
            ["nice", "-n", "19", *wantui, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return json.loads(res.stdout or "{}")
    except (subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        return {"error": str(exc)[:200]}


UNKNOWN = {"unknown-failure", "unrecognised-failure", "no-rule", "wrapper-failure-unknown"}


def trim(text: str) -> str:
    lines = text.splitlines()
    if len(lines) <= 2 * KEEP_LINES:
        return text
    cut = len(lines) - 2 * KEEP_LINES
    return (
        "\n".join(
            [
                *lines[:KEEP_LINES],
                f"[... {cut} lines trimmed by sweep.py ...]",
                *lines[-KEEP_LINES:],
            ]
        )
        + "\n"
    )


def predicted(case: Case, work: Path, ns: argparse.Namespace) -> list[str]:
    """The error findings of ``wantui check`` on the broken lab, before launch."""
    check = wantui_json(
        ns.wantui.split(), ["check", "--project", str(work), "--steps", case.step, "--json"], work
    )
    return [f.get("rule") for f in check.get("findings", []) if f.get("severity") == "error"]


def diagnosed(case: Case, log_path: Path, rc: int | None, ns: argparse.Namespace) -> list[str]:
    """The findings of ``wantui diagnose`` on the recorded log, less the fallback."""
    diag_args = ["diagnose", "--json", "--context", f"step={case.step}"]
    if rc is not None:
        diag_args += ["--exit-status", str(rc)]
    diag = wantui_json(ns.wantui.split(), [*diag_args, str(log_path)], log_path.parent)
    return [
        f.get("rule")
        for f in diag.get("findings", [])
        if f.get("rule") not in UNKNOWN and f.get("catalog") not in UNKNOWN
    ]


def recheck(result: dict, ns: argparse.Namespace) -> dict:
    """``result`` with wantui's verdicts taken again (musubi-tuner is not run again)."""
    case = next(c for c in cases() if c.id == result["id"])
    work = Path(ns.work) / case.id
    copy_lab(Path(ns.lab), work)
    case.apply(work)
    out = dict(result)
    log = (FIXTURES / f"{case.id}.log").read_text(encoding="utf-8")
    if out["outcome"] == "ok" and case.step == "train" and ZERO_STEPS.search(log):
        out["outcome"] = "did-nothing"
    if out["outcome"] == "timeout" and "Traceback (most recent call last)" in log:
        out["outcome"] = "failed, then hung"
    if out["outcome"] == "timeout" and not log.strip():
        out["outcome"] = "inconclusive"
    out["predicted"] = predicted(case, work, ns)
    out["diagnosed"] = diagnosed(case, FIXTURES / f"{case.id}.log", result["rc"], ns)
    write_fixture(out)
    shutil.rmtree(work, ignore_errors=True)
    return out


def run_case(case: Case, ns: argparse.Namespace) -> dict:
    work = Path(ns.work) / case.id
    copy_lab(Path(ns.lab), work)
    case.apply(work)
    errors = predicted(case, work, ns)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([*ns.pythonpath, ns.musubi]),
        PYTHONUNBUFFERED="1",
    )
    cmd = step_command(work, case.step, ns.python, Path(ns.musubi))
    started = time.time()
    try:
        res = subprocess.run(
            ["nice", "-n", "19", *cmd],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=ns.timeout,
        )
        rc: int | None = res.returncode
        log = res.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as exc:
        rc = None
        log = (exc.stdout or b"").decode("utf-8", "replace")
    secs = round(time.time() - started, 1)
    if rc is None:
        # a traceback and then no exit (worker threads keep the process alive) is a failure
        outcome = "failed, then hung" if "Traceback (most recent call last)" in log else "timeout"
        if not log.strip():
            outcome = "inconclusive"  # not even the imports finished: the machine was busy
    elif rc != 0:
        outcome = "failed"
    else:
        outcome = "did-nothing" if did_nothing(work, case.step, started, log) else "ok"
    FIXTURES.mkdir(parents=True, exist_ok=True)
    log_path = FIXTURES / f"{case.id}.log"
    log_path.write_text(trim(log), encoding="utf-8")
    named = diagnosed(case, log_path, rc, ns)
    result = {
        "id": case.id,
        "step": case.step,
        "target": case.target,
        "value": case.value,
        "use": case.use,
        "outcome": outcome,
        "rc": rc,
        "seconds": secs,
        "predicted": errors,
        "diagnosed": named,
    }
    write_fixture(result)
    shutil.rmtree(work, ignore_errors=True)
    return result


def write_fixture(result: dict) -> None:
    """The setting that produced ``<case>.log`` and wantui's verdicts on it (the floor
    tests/test_sweep_fixtures.py holds the diagnosis to)."""
    keep = ("id", "step", "target", "value", "use", "outcome", "rc", "predicted", "diagnosed")
    (FIXTURES / f"{result['id']}.json").write_text(
        json.dumps({k: result[k] for k in keep}, indent=1) + "\n", encoding="utf-8"
    )


def matrix(results: list[dict]) -> str:
    rows = [
        "| case | step | value broken | musubi use | musubi outcome | predicted (check) | diagnosed (log) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rc = "" if r["rc"] in (None, 0, 1) else f" (rc {r['rc']})"
        pred = ", ".join(r["predicted"]) or "-"
        diag = ", ".join(r["diagnosed"]) or "-"
        rows.append(
            f"| {r['id']} | {r['step']} | `{r['target']}` = {r['value']} | {r['use']} "
            f"| {r['outcome']}{rc} | {pred} | {diag} |"
        )
    done = [r for r in results if r["outcome"] != "inconclusive"]
    bad = [r for r in done if r["outcome"] != "ok"]
    pred = [r for r in bad if r["predicted"]]
    diag = [r for r in bad if r["diagnosed"]]
    rows.append("")
    rows.append(
        f"Values swept: {len(results)} ({len(results) - len(done)} inconclusive); "
        f"musubi failed, hung or did nothing: {len(bad)}; "
        f"predicted before launch: {len(pred)}/{len(bad)}; diagnosed from the log: {len(diag)}/{len(bad)}."
    )
    return "\n".join(rows) + "\n"


def load_results(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out: dict[str, dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out[r["id"]] = r
    order = [c.id for c in cases()]
    return sorted(out.values(), key=lambda r: order.index(r["id"]) if r["id"] in order else 999)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lab", help="a working lab made by scripts/build_lab.py (latents cached)")
    ap.add_argument(
        "--python", default=sys.executable, help="the interpreter with musubi-tuner's requirements"
    )
    ap.add_argument("--musubi", help="musubi-tuner's src folder (holds musubi_tuner/)")
    ap.add_argument(
        "--pythonpath",
        action="append",
        default=[],
        help="folders put first on PYTHONPATH (the CPU shim)",
    )
    ap.add_argument("--wantui", default=f"{sys.executable} -m wantui", help="how to run wantui")
    ap.add_argument("--work", default="/tmp/wantui-sweep", help="where cases are copied to")
    ap.add_argument("--results", required=True, type=Path, help="JSON lines, appended")
    ap.add_argument("--timeout", type=int, default=90, help="seconds per musubi run (default 90)")
    ap.add_argument("--only", default="", help="comma-separated case ids or prefixes")
    ap.add_argument("--rerun", action="store_true", help="run cases already in --results again")
    ap.add_argument("--matrix", action="store_true", help="print the matrix of --results and exit")
    ap.add_argument(
        "--recheck",
        action="store_true",
        help="take wantui's verdicts again for the recorded cases (musubi is not rerun)",
    )
    ns = ap.parse_args(argv)
    if ns.matrix:
        print(matrix(load_results(ns.results)), end="")
        return 0
    if not (ns.lab and ns.musubi):
        ap.error("--lab and --musubi are needed to run cases")
    if ns.recheck:
        redone = [recheck(r, ns) for r in load_results(ns.results)]
        ns.results.write_text("".join(json.dumps(r) + "\n" for r in redone), encoding="utf-8")
        print(matrix(redone), end="")
        return 0
    done = {r["id"] for r in load_results(ns.results)}
    wanted = [p for p in ns.only.split(",") if p]
    for case in cases():
        if wanted and not any(case.id.startswith(p) for p in wanted):
            continue
        if case.id in done and not ns.rerun:
            continue
        result = run_case(case, ns)
        with ns.results.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(result) + "\n")
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
