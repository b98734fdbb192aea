#!/usr/bin/env bash
# wantui GPU smoke test: drive the REAL musubi-tuner Wan pipeline through `wantui run` on a
# small real lab, then (optionally) break it three ways, let wantui diagnose and fix each
# break, rerun to success, and time training supervised vs bare.
#
#   scripts/gpu_smoke.sh --musubi DIR --work DIR [--python PY] [--inject MODE] [options]
#
#   --musubi DIR     musubi-tuner checkout (the one that has wan_train_network.py)
#   --python PY      the pipeline's interpreter (torch with CUDA, musubi-tuner installed);
#                    default: DIR/.venv/bin/python, else python3
#   --work DIR       work folder; the lab is built in DIR/lab, reports go to DIR/*.json|log
#   --inject MODE    none (default) | attention | precision | bnb | all
#                      attention: drop --sdpa             -> wantui: missing-attention-flag
#                      precision: --mixed_precision fp16 on a bf16 DiT -> precision-mismatch
#                      bnb:       --optimizer_type AdamW8bit without bitsandbytes
#                                                         -> bitsandbytes-missing
#                    each is run, diagnosed, fixed with `wantui fix --apply all --yes`, rerun
#   --steps N        training steps of the smoke run (default 20)
#   --time-steps N   steps of each timing run (default 60; 0 skips the timing)
#   --rounds N       bare/supervised timing pairs (default 2)
#   --dtype D        DiT dtype bf16 (default) or fp16
#
# Environment: WANTUI (a command; default: `wantui` on PATH, else this checkout run by
# WANTUI_PY without installing it) and WANTUI_PY (an interpreter with wantui's dependencies;
# default: the one next to `wantui`, else python3).
# GPU_SMOKE_CPU_REHEARSAL=1 (testing aid, not a proof): pretend CUDA is there, build an fp32 lab
# with 64x64 clips and skip the precision injection (an fp32 DiT has no dtype assertion), so the
# whole script can be exercised on a CPU box whose musubi imports (e.g. with a shim on PYTHONPATH).
# Prints "SMOKE: PASS" and exits 0 when every stage did what it should; "SMOKE: FAIL ..."
# and exits 1 otherwise; 2 for usage errors. On a machine without CUDA it still runs the
# latent step once and reports wantui's verdict (it should be no-cuda), then FAILs.
set -uo pipefail

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
die() { echo "gpu_smoke.sh: $*" >&2; exit 2; }

MUSUBI="" PY="" WORK="" INJECT="none" STEPS=20 TIME_STEPS=60 ROUNDS=2 DTYPE=bf16
while [ $# -gt 0 ]; do
  case "$1" in
    --musubi) MUSUBI="${2:-}"; shift 2 ;;
    --python) PY="${2:-}"; shift 2 ;;
    --work) WORK="${2:-}"; shift 2 ;;
    --inject) INJECT="${2:-}"; shift 2 ;;
    --steps) STEPS="${2:-}"; shift 2 ;;
    --time-steps) TIME_STEPS="${2:-}"; shift 2 ;;
    --rounds) ROUNDS="${2:-}"; shift 2 ;;
    --dtype) DTYPE="${2:-}"; shift 2 ;;
    -h|--help) usage ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ -n "$MUSUBI" ] && [ -n "$WORK" ] || die "--musubi and --work are required (see --help)"
[ -f "$MUSUBI/wan_train_network.py" ] || die "$MUSUBI: no wan_train_network.py (not a musubi-tuner checkout)"
case "$INJECT" in none|attention|precision|bnb|all) ;; *) die "--inject must be none, attention, precision, bnb or all" ;; esac
case "$DTYPE" in bf16|fp16) ;; *) die "--dtype must be bf16 or fp16" ;; esac
for n in "$STEPS" "$TIME_STEPS" "$ROUNDS"; do [[ "$n" =~ ^[0-9]+$ ]] || die "step and round counts must be whole numbers"; done
if [ -z "$PY" ]; then
  if [ -x "$MUSUBI/.venv/bin/python" ]; then PY="$MUSUBI/.venv/bin/python"; else PY="$(command -v python3)"; fi
fi
PY="$(command -v "$PY" || true)"  # absolute: wantui.toml resolves a relative python against the lab
[ -n "$PY" ] && [ -x "$PY" ] || die "--python: not an executable interpreter"
MUSUBI="$(cd "$MUSUBI" && pwd)"
HERE="$(cd "$(dirname "$0")" && pwd)"
# wantui itself: $WANTUI (a command, may have words), else `wantui` on PATH, else this checkout
# run by $WANTUI_PY without installing it (an offline GPU box cannot build an editable install).
export WANTUI_ROOT="$(cd "$HERE/.." && pwd)"
if [ -n "${WANTUI:-}" ]; then
  read -ra WCMD <<< "$WANTUI"
elif command -v wantui > /dev/null; then
  WCMD=("$(command -v wantui)")
  WANTUI_PY="${WANTUI_PY:-$(dirname "${WCMD[0]}")/python}"
fi
[ -x "${WANTUI_PY:-}" ] || WANTUI_PY="$(command -v python3)"
if [ -z "${WCMD+x}" ]; then
  WCMD=("$WANTUI_PY" -c 'import sys; sys.path.insert(0, sys.argv.pop(1)); from wantui.cli.main import main; sys.exit(main())' "$WANTUI_ROOT")
fi
"${WCMD[@]}" --help > /dev/null 2>&1 || die "cannot run wantui (${WCMD[*]}); install it or set WANTUI / WANTUI_PY"
mkdir -p "$WORK" || die "$WORK: cannot create"
WORK="$(cd "$WORK" && pwd)"
LAB="$WORK/lab"
FAILS=()
say() { printf '\n=== %s\n' "$*"; }
fail() { echo "FAILED: $*"; FAILS+=("$*"); }

# A small Python helper over wantui's own modules: edit the project, read reports and logs.
helper() {
  "$WANTUI_PY" - "$@" <<'PY'
import json, os, sys
from pathlib import Path

sys.path.insert(0, os.environ["WANTUI_ROOT"])  # this checkout's wantui, installed or not
cmd, *rest = sys.argv[1:]

def project():
    from wantui.core.project import load_project
    return load_project(os.environ["LAB"])

def save(p):
    from wantui.core.project import project_to_toml
    text = project_to_toml(p, p.file.read_text(encoding="utf-8"))  # tomlkit: comments survive
    tmp = p.file.with_suffix(".toml.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, p.file)

def set_opt(args, flag, value):
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]

if cmd == "inject":
    mode, shim = rest
    p = project(); t = p.steps["train"]
    if mode == "attention":
        t.args = [a for a in t.args if a != "--sdpa"]
    elif mode == "precision":
        # a bf16 DiT trained with --mixed_precision fp16 (script and accelerate agree, and both are wrong)
        set_opt(t.args, "--mixed_precision", "fp16"); set_opt(t.launch_args, "--mixed_precision", "fp16")
    elif mode == "bnb":
        set_opt(t.args, "--optimizer_type", "AdamW8bit")
        if shim != "-":  # bitsandbytes is installed: hide it from this step only
            t.env["PYTHONPATH"] = os.pathsep.join(x for x in (shim, os.environ.get("PYTHONPATH")) if x)
    save(p)
elif cmd == "uninject":  # undo what a fix does not touch (the bnb hiding shim)
    p = project(); p.steps["train"].env.pop("PYTHONPATH", None); save(p)
elif cmd == "set-steps":
    p = project(); set_opt(p.steps["train"].args, "--max_train_steps", rest[0])
    set_opt(p.steps["train"].args, "--save_every_n_steps", str(max(1, int(rest[0]) // 2))); save(p)
elif cmd == "argv":  # the bare command, NUL-separated, for the timing comparison
    sys.stdout.write("\0".join(project().argv("train")))
elif cmd == "report":  # wantui run --json -> status, first catalog id, train log path
    r = json.loads(Path(rest[0]).read_text(encoding="utf-8"))
    cats = [f["catalog"] for f in r.get("findings", [])]
    logs = [s["log"] for s in r["run"]["steps"] if s["name"] == "train"]
    print(r["run"]["status"], cats[0] if cats else "-", logs[0] if logs else "-", ",".join(cats) or "-")
elif cmd == "stats":  # what wantui reads from a training log: progress, rate, loss
    from wantui.core.logtext import iter_file_lines
    from wantui.core.progress import RunStats
    s = RunStats().feed_all(iter_file_lines(rest[0]))
    p = s.last_train
    out = {"step": s.step, "total": s.total_steps, "rate_its": p.rate_its if p else None,
           "elapsed_s": p.elapsed_s if p else None, "avr_loss": p.avr_loss if p else None,
           "losses": s.losses, "checkpoints": s.checkpoints}
    print(json.dumps(out))
PY
}
export LAB

# --- 0. the pipeline's interpreter ----------------------------------------------------------
say "pipeline interpreter: $PY"
CUDA="$("$PY" -c 'import torch; print(torch.cuda.is_available())' 2>/dev/null || echo none)"
echo "torch sees CUDA: $CUDA"
REHEARSAL="${GPU_SMOKE_CPU_REHEARSAL:-0}"
if [ "$REHEARSAL" = "1" ]; then
  echo "CPU REHEARSAL: pretending CUDA is available (fp32 DiT, 64x64 clips, no precision injection)"
  CUDA=True DTYPE=fp32
fi
"$PY" -c 'import torch, sys; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")' 2>&1 | tail -1

# --- 1. the lab -------------------------------------------------------------------------------
SCALE=()
[ "$REHEARSAL" = "1" ] && SCALE=(--size 64)
# Without CUDA every Wan script dies at import, before any model is read: a tiny lab is enough.
[ "$CUDA" = "True" ] || SCALE=(--tiny)
say "building the lab in $LAB (${SCALE[*]:-real Wan2.1 1.3B + VAE shapes}, $DTYPE)"
"$PY" "$HERE/build_lab.py" --musubi "$MUSUBI" --python "$PY" --out "$LAB" --steps "$STEPS" --dtype "$DTYPE" --reuse "${SCALE[@]}" > "$WORK/lab.json" \
  || { echo "SMOKE: FAIL (build_lab.py failed)"; exit 1; }
rm -rf "$LAB/runs" "$LAB/output"

run_wantui() {  # run_wantui NAME STEPS -> $WORK/NAME.json ; prints "status catalog log all-catalogs"
  # --force: the injected failures are meant to run (the preflight would hold them)
  "${WCMD[@]}" run --force --project "$LAB" --steps "$2" --json > "$WORK/$1.json" 2> "$WORK/$1.stderr"
  LAB="$LAB" helper report "$WORK/$1.json"
}

if [ "$CUDA" != "True" ]; then
  say "no CUDA: running the latent step once to show wantui's verdict"
  read -r status cat log all < <(run_wantui no-cuda latents)
  echo "run: $status, wantui says: $all"
  [ "$cat" = "no-cuda" ] && echo "wantui diagnosed no-cuda, as it should" || echo "unexpected verdict: $all"
  echo "SMOKE: FAIL (no CUDA in $PY; verdict: $all)"
  exit 1
fi

# --- 2. the healthy run: latents + training ---------------------------------------------------
say "baseline: wantui run --steps latents,train ($STEPS steps)"
read -r status cat log all < <(run_wantui baseline latents,train)
echo "run: $status; findings: $all"
[ "$status" = "succeeded" ] || fail "baseline run $status ($all)"
if [ -f "$log" ]; then
  cp "$log" "$WORK/baseline-train.log"
  LAB="$LAB" helper stats "$log" | tee "$WORK/baseline-stats.json"
fi

# --- 3. injected failures: diagnose, fix, rerun -----------------------------------------------
SHIM="$WORK/hide-bitsandbytes"
mkdir -p "$SHIM"
cat > "$SHIM/bitsandbytes.py" <<'EOF'
# gpu_smoke.sh: hide an installed bitsandbytes from one step, as if it were not installed.
raise ModuleNotFoundError("No module named 'bitsandbytes'", name="bitsandbytes")
EOF
declare -A EXPECT=([attention]=missing-attention-flag [precision]=precision-mismatch [bnb]=bitsandbytes-missing)
MODES=()
[ "$INJECT" = "all" ] && MODES=(attention precision bnb) || { [ "$INJECT" != "none" ] && MODES=("$INJECT"); }
for mode in "${MODES[@]}"; do
  if [ "$REHEARSAL" = "1" ] && [ "$mode" = "precision" ]; then say "inject precision: skipped in a CPU rehearsal"; continue; fi
  say "inject $mode"
  cp "$LAB/wantui.toml" "$WORK/wantui.before-$mode.toml"
  shim="-"
  if [ "$mode" = "bnb" ] && "$PY" -c 'import bitsandbytes' >/dev/null 2>&1; then shim="$SHIM"; fi
  LAB="$LAB" helper inject "$mode" "$shim" || { fail "$mode: could not edit wantui.toml"; continue; }
  cp "$LAB/wantui.toml" "$WORK/wantui.broken-$mode.toml"
  read -r status cat log all < <(run_wantui "inject-$mode" train)
  echo "run: $status; wantui says: $all"
  [ -f "$log" ] && cp "$log" "$WORK/inject-$mode-train.log"
  [ "$status" = "failed" ] || fail "$mode: the broken run did not fail ($status)"
  [ "$cat" = "${EXPECT[$mode]}" ] || fail "$mode: expected ${EXPECT[$mode]} first, wantui said $all"
  say "wantui fix --apply all --yes  ($mode)"
  "${WCMD[@]}" fix --project "$LAB" --log "$log" --apply all --yes | tee "$WORK/fix-$mode.txt"
  [ "${PIPESTATUS[0]}" = "0" ] || fail "$mode: wantui fix --apply failed"
  diff -u "$WORK/wantui.broken-$mode.toml" "$LAB/wantui.toml" > "$WORK/fix-$mode.diff"  # what the fix changed
  [ "$mode" = "bnb" ] && LAB="$LAB" helper uninject
  read -r status cat log all < <(run_wantui "rerun-$mode" train)
  echo "rerun: $status; findings: $all"
  [ -f "$log" ] && cp "$log" "$WORK/rerun-$mode-train.log"
  [ "$status" = "succeeded" ] || fail "$mode: rerun after the fix $status ($all)"
done

# --- 4. supervisor cost: seconds per step, supervised vs bare, same machine, same run ---------
if [ "$TIME_STEPS" -gt 0 ]; then
  say "timing: $ROUNDS x (bare, supervised), $TIME_STEPS steps each"
  LAB="$LAB" helper set-steps "$TIME_STEPS"
  mapfile -d '' ARGV < <(LAB="$LAB" helper argv)
  echo '{"rounds": [' > "$WORK/timing.json"
  for r in $(seq 1 "$ROUNDS"); do
    rm -rf "$LAB/output"
    (cd "$LAB" && "${ARGV[@]}" > "$WORK/bare-$r.log" 2>&1) || fail "bare timing run $r failed"
    bare="$(LAB="$LAB" helper stats "$WORK/bare-$r.log")"
    rm -rf "$LAB/output"
    read -r status cat log all < <(run_wantui "timed-$r" train)
    [ "$status" = "succeeded" ] || fail "supervised timing run $r $status"
    sup="$(LAB="$LAB" helper stats "$log")"
    [ "$r" -gt 1 ] && echo ',' >> "$WORK/timing.json"
    echo "{\"bare\": $bare, \"supervised\": $sup}" >> "$WORK/timing.json"
  done
  echo ']}' >> "$WORK/timing.json"
  "$WANTUI_PY" - "$WORK/timing.json" <<'PY'
import json, sys
rounds = json.load(open(sys.argv[1]))["rounds"]
def spi(s):  # seconds per step from tqdm's overall rate (smoothing=0 after the first step)
    return 1.0 / s["rate_its"] if s.get("rate_its") else float("nan")
b = [spi(r["bare"]) for r in rounds]; s = [spi(r["supervised"]) for r in rounds]
mb, ms = sum(b) / len(b), sum(s) / len(s)
print(f"seconds/step bare: {', '.join(f'{x:.4f}' for x in b)} (mean {mb:.4f})")
print(f"seconds/step supervised: {', '.join(f'{x:.4f}' for x in s)} (mean {ms:.4f})")
print(f"supervised/bare ratio: {ms / mb:.3f}")
PY
fi

say "reports and logs are in $WORK"
if [ "${#FAILS[@]}" -eq 0 ]; then echo "SMOKE: PASS"; exit 0; fi
printf 'SMOKE: FAIL (%s)\n' "$(IFS=';'; echo "${FAILS[*]}")"
exit 1
