"""wantui environment probe: run by the PIPELINE's interpreter, never imported by wantui.

    python probe_script.py [--checkout DIR] [--path DIR]... [--fast] [--budget SECONDS]

Prints one line ``WANTUI_PROBE_JSON {...}`` on stdout. Only the standard library is
imported at top level; torch and friends are imported inside try blocks, each timed, so
a broken package becomes data ("error": "...") instead of a crash. Anything those
imports print (C level included) is sent to stderr so stdout stays parseable.
Works on Python 3.8+ (the pipeline's interpreter may be older than wantui's).
"""

import argparse
import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time

MARKER = "WANTUI_PROBE_JSON "
SCHEMA = 1
T5_TOKENIZER = ("Wan-AI/Wan2.1-T2V-14B", "google/umt5-xxl")
CLIP_TOKENIZER = ("Wan-AI/Wan2.1-I2V-14B-720P", "xlm-roberta-large")
# imported for real: whether they import is the question (musubi imports them lazily)
ATTENTION_MODULES = ("xformers", "flash_attn", "flash_attn_interface", "sageattention")
# distribution name -> module name; version from metadata only (cheap)
VERSIONS = {
    "accelerate": "accelerate",
    "transformers": "transformers",
    "diffusers": "diffusers",
    "tensorboard": "tensorboard",
    "safetensors": "safetensors",
    "huggingface-hub": "huggingface_hub",
    "voluptuous": "voluptuous",
    "toml": "toml",
    "av": "av",
    "opencv-python": "cv2",
    "einops": "einops",
    "bitsandbytes": "bitsandbytes",
    "xformers": "xformers",
    "flash-attn": "flash_attn",
    "sageattention": "sageattention",
    "musubi-tuner": "musubi_tuner",
    "ftfy": "ftfy",
    "easydict": "easydict",
    "sentencepiece": "sentencepiece",
    "pillow": "PIL",
    "opencv-python-headless": "cv2",
    "opencv-contrib-python": "cv2",
}
ENV_KEYS = (
    "CUDA_VISIBLE_DEVICES",
    "HF_HOME",
    "HF_HUB_CACHE",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "PYTORCH_CUDA_ALLOC_CONF",
    "USE_LIBUV",
    "ACCELERATE_CONFIG_FILE",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
)


class Probe:
    def __init__(self, budget):
        self.t0 = time.monotonic()
        self.budget = budget
        self.timings = {}
        self.current = None  # the part running now, named in a report cut short

    def left(self):
        return self.budget - (time.monotonic() - self.t0)

    def timed(self, name, fn):
        t = time.monotonic()
        self.current = name
        try:
            return fn()
        finally:
            self.timings[name] = round(time.monotonic() - t, 3)
            self.current = None


def _err(exc):
    first = str(exc).splitlines()[0][:300] if str(exc) else ""
    return f"{type(exc).__name__}: {first}"


def _dist_version(dist):
    try:
        from importlib import metadata
    except ImportError:  # Python < 3.8
        return None
    try:
        return metadata.version(dist)
    except Exception:
        return None


def probe_python():
    return {
        "version": platform.python_version(),
        "executable": sys.executable,
        "implementation": platform.python_implementation(),
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "venv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
    }


def probe_platform():
    mem = None
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "windows": os.name == "nt",
        "wsl": "microsoft" in platform.release().lower(),
        "cpu_count": os.cpu_count(),
        "ram_bytes": mem,
        "mem_available_bytes": _meminfo("MemAvailable"),
        # a container's own limit: the OOM killer acts on it, not on the host's RAM
        "mem_limit_bytes": _cgroup_limit(),
    }


def _meminfo(key):
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_limit():
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as fh:
                raw = fh.read().strip()
        except OSError:
            continue
        if raw.isdigit() and int(raw) < (1 << 60):  # "max" or a huge number: no limit
            return int(raw)
    return None


def probe_torch(p):
    out = {"installed": False}
    try:
        import torch
    except Exception as exc:  # ImportError, OSError (DLL load failed), ...
        out["error"] = _err(exc)
        out["installed"] = _dist_version("torch") is not None
        return out, None
    out["installed"] = True
    out["version"] = getattr(torch, "__version__", None)
    out["cuda_build"] = getattr(torch.version, "cuda", None)
    out["hip_build"] = getattr(torch.version, "hip", None)
    try:
        out["cudnn"] = (
            torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        )
    except Exception:
        out["cudnn"] = None
    try:
        out["cuda_available"] = bool(torch.cuda.is_available())
    except Exception as exc:
        out["cuda_available"] = False
        out["cuda_error"] = _err(exc)
    gpus = []
    if out["cuda_available"]:
        try:
            count = torch.cuda.device_count()
            for i in range(count):
                props = torch.cuda.get_device_properties(i)
                g = {
                    "index": i,
                    "name": props.name,
                    "total_bytes": int(props.total_memory),
                    "capability": f"{props.major}.{props.minor}",
                }
                try:
                    free, total = torch.cuda.mem_get_info(i)
                    g["free_bytes"] = int(free)
                except Exception as exc:
                    g["free_error"] = _err(exc)
                try:
                    with torch.cuda.device(i):
                        g["bf16"] = bool(torch.cuda.is_bf16_supported())
                except Exception:
                    g["bf16"] = props.major >= 8
                gpus.append(g)
        except Exception as exc:
            out["cuda_error"] = _err(exc)
    try:  # the CUDA version the driver supports (12080 = 12.8): which wheels can run
        out["driver_cuda"] = int(torch._C._cuda_getDriverVersion())
    except Exception:
        pass
    if out["cuda_available"]:
        try:  # the GPU architectures this build has kernels for (sm_XY, compute_XY)
            out["arch_list"] = [str(a) for a in torch.cuda.get_arch_list()]
        except Exception as exc:
            out["arch_error"] = _err(exc)
    out["device_count"] = len(gpus)
    out["gpus"] = gpus
    return out, torch


def probe_bitsandbytes(torch, cuda_ok, test_cuda, fast=False):
    out = {"version": _dist_version("bitsandbytes")}
    if fast:  # importing bitsandbytes takes seconds; then only say whether it is there
        import importlib.util

        out["importable"] = None if importlib.util.find_spec("bitsandbytes") else False
        out["cuda_ok"] = None
        out["note"] = f"import skipped ({fast})"
        return out
    try:
        import bitsandbytes as bnb
    except Exception as exc:
        out["importable"] = False
        out["error"] = _err(exc)
        return out
    out["importable"] = True
    out["version"] = getattr(bnb, "__version__", out["version"])
    if not cuda_ok:
        out["cuda_ok"] = None
        out["cuda_note"] = "no CUDA device: the 8-bit optimizers cannot be tried"
    elif not test_cuda:
        out["cuda_ok"] = None
        out["cuda_note"] = "skipped (--fast)"
    else:
        try:  # one AdamW8bit step on a tiny CUDA tensor: what adamw8bit training needs
            w = torch.nn.Parameter(torch.zeros(4096, device="cuda"))
            opt = bnb.optim.AdamW8bit([w], lr=1e-3)
            w.grad = torch.ones_like(w)
            opt.step()
            torch.cuda.synchronize()
            out["cuda_ok"] = True
        except Exception as exc:
            out["cuda_ok"] = False
            out["cuda_error"] = _err(exc)
    return out


def probe_import(name, p, fast):
    import importlib
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except Exception as exc:
        return {"found": False, "importable": False, "error": _err(exc)}
    if spec is None:
        return {"found": False, "importable": False}
    out = {"found": True, "origin": spec.origin}
    if fast or p.left() < 1.0:
        out["importable"] = None
        out["note"] = "import skipped ({})".format("--fast" if fast else "time budget")
        return out
    t = time.monotonic()
    try:
        mod = importlib.import_module(name)
        out["importable"] = True
        out["version"] = getattr(mod, "__version__", None)
    except Exception as exc:
        out["importable"] = False
        out["error"] = _err(exc)
    out["import_s"] = round(time.monotonic() - t, 3)
    return out


def _hf_home():
    return os.path.expanduser(
        os.environ.get("HF_HOME")
        or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    )


def _parse_simple_yaml(text):
    """Top-level ``key: value`` pairs (accelerate's config is flat enough for that)."""
    out = {}
    for line in text.splitlines():
        if not line or line[0] in " \t#-" or ":" not in line:
            continue
        key, _, value = line.partition(":")
        value = value.strip().strip("'\"")
        out[key.strip()] = value
    return out


def probe_accelerate():
    out = {"version": _dist_version("accelerate")}
    path = os.environ.get("ACCELERATE_CONFIG_FILE")
    if not path:
        base = os.path.join(_hf_home(), "accelerate")
        cands = [
            os.path.join(base, "default_config.yaml"),
            os.path.join(base, "default_config.json"),
        ]
        path = next((c for c in cands if os.path.isfile(c)), cands[0])
    out["config_file"] = path
    out["config_exists"] = os.path.isfile(path)
    if out["config_exists"]:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read(200000)
            cfg = json.loads(text) if path.endswith(".json") else _parse_simple_yaml(text)
            keep = (
                "compute_environment",
                "distributed_type",
                "num_processes",
                "num_machines",
                "mixed_precision",
                "gpu_ids",
                "use_cpu",
                "dynamo_backend",
                "machine_rank",
            )
            out["config"] = {k: cfg[k] for k in keep if k in cfg}
        except Exception as exc:
            out["config_error"] = _err(exc)
    return out


def _real(path):
    try:
        return os.path.realpath(path)
    except Exception:
        return path


def probe_musubi(checkout):
    import importlib.util

    out = {"checkout": checkout, "version": _dist_version("musubi-tuner")}
    try:
        # find_spec on a top-level package does not import it
        spec = importlib.util.find_spec("musubi_tuner")
    except Exception as exc:
        spec = None
        out["error"] = _err(exc)
    out["found"] = spec is not None
    if spec is not None:
        locs = list(spec.submodule_search_locations or [])
        out["location"] = (
            locs[0] if locs else (os.path.dirname(spec.origin) if spec.origin else None)
        )
    # how it was installed: PEP 610 direct_url.json says editable or not
    try:
        from importlib import metadata

        dist = metadata.distribution("musubi-tuner")
        raw = dist.read_text("direct_url.json")
        if raw:
            du = json.loads(raw)
            out["install_url"] = du.get("url")
            out["editable"] = bool(du.get("dir_info", {}).get("editable"))
        else:
            out["editable"] = False
    except Exception:
        out["editable"] = None
    if checkout and out.get("location"):
        want = _real(os.path.join(checkout, "src", "musubi_tuner"))
        out["expected_location"] = want
        out["matches_checkout"] = _real(out["location"]) == want
    return out


def _tokenizer_cached(repo, sub):
    hub = os.environ.get("HF_HUB_CACHE") or os.path.join(_hf_home(), "hub")
    folder = os.path.join(hub, "models--" + repo.replace("/", "--"), "snapshots")
    hits = []
    for snap in glob.glob(os.path.join(folder, "*")):
        d = os.path.join(snap, sub)
        if os.path.isdir(d):
            names = set(os.listdir(d))
            if names & {
                "tokenizer.json",
                "spiece.model",
                "sentencepiece.bpe.model",
                "tokenizer_config.json",
            }:
                hits.append(d)
    return {
        "repo": repo,
        "subfolder": sub,
        "hub_cache": hub,
        "cached": bool(hits),
        "paths": hits[:3],
    }


def probe_disk(paths):
    out = []
    for raw in paths:
        path = os.path.abspath(os.path.expanduser(raw))
        probe_at = path
        while not os.path.exists(probe_at) and os.path.dirname(probe_at) != probe_at:
            probe_at = os.path.dirname(probe_at)
        entry = {"path": raw, "exists": os.path.exists(path), "measured_at": probe_at}
        try:
            usage = shutil.disk_usage(probe_at)
            entry["free_bytes"] = usage.free
            entry["total_bytes"] = usage.total
        except OSError as exc:
            entry["error"] = _err(exc)
        out.append(entry)
    return out


def probe_shm():
    if not os.path.isdir("/dev/shm"):
        return {"exists": False}
    try:
        usage = shutil.disk_usage("/dev/shm")
        return {"exists": True, "total_bytes": usage.total, "free_bytes": usage.free}
    except OSError as exc:
        return {"exists": True, "error": _err(exc)}


def probe_nvidia_smi(fast):
    exe = shutil.which("nvidia-smi")
    out = {"found": exe is not None, "path": exe}
    if exe and not fast:
        try:
            r = subprocess.run(
                [
                    exe,
                    "--query-gpu=name,memory.total,memory.used,driver_version",
                    "--format=csv,noheader,nounits",
                ],
                capture_output=True,
                text=True,
                timeout=4,
            )
            out["rc"] = r.returncode
            out["gpus"] = [line.strip() for line in r.stdout.splitlines() if line.strip()][:16]
            # separately: an old driver that does not know the field fails the whole query
            r = subprocess.run(
                [exe, "--query-gpu=compute_cap", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=4,
            )
            if r.returncode == 0:
                out["capabilities"] = [c.strip() for c in r.stdout.splitlines() if c.strip()][:16]
        except Exception as exc:
            out["error"] = _err(exc)
    return out


def probe_tensorboard():
    import importlib.util

    return {
        "importable": importlib.util.find_spec("tensorboard") is not None,
        "version": _dist_version("tensorboard"),
    }


def probe_tokenizers():
    return {
        "t5": _tokenizer_cached(*T5_TOKENIZER),
        "clip": _tokenizer_cached(*CLIP_TOKENIZER),
        "offline": any(
            os.environ.get(k, "") not in ("", "0", "false", "False")
            for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
        ),
    }


def part(data, name, fn):
    """data[name] = fn(), or {"probe_error": ...} when it raises (wantui then draws no
    finding from that part)."""
    try:
        data[name] = fn()
    except Exception as exc:
        data[name] = {"probe_error": _err(exc)}


def main(argv=None):
    ap = argparse.ArgumentParser(description="wantui environment probe")
    ap.add_argument("--checkout", default=None, help="the musubi-tuner checkout")
    ap.add_argument("--path", action="append", default=[], help="a folder whose free space matters")
    ap.add_argument("--fast", action="store_true", help="skip optional imports and GPU tests")
    ap.add_argument(
        "--budget", type=float, default=8.0, help="seconds before optional parts are skipped"
    )
    args = ap.parse_args(argv)

    # keep stdout for our one JSON line: anything imports print goes to stderr
    real_stdout = os.dup(1)
    os.dup2(2, 1)
    p = Probe(args.budget)
    data = {"schema": SCHEMA}
    emitted = threading.Lock()

    def emit(partial):
        """Write the report once (main thread or watchdog) and leave at once: a slow
        interpreter shutdown (torch, CUDA) must not eat the caller's time."""
        # the second caller waits for ever: the first ends the process with os._exit, and
        # returning here would let the main thread exit mid-write of the report
        emitted.acquire()
        report = {}
        for key in list(data):
            try:  # a section still being filled may change under us: keep what dumps
                json.dumps(data[key], default=str)
                report[key] = data[key]
            except Exception:
                report[key] = {"error": "incomplete when the time budget ran out"}
        if partial:
            report["partial"] = True
            report["probe_error"] = "time budget of {:g} s ran out during {}".format(
                p.budget, p.current or "the report"
            )
        report["timings"] = dict(p.timings)
        report["elapsed_s"] = round(time.monotonic() - p.t0, 3)
        line = MARKER + json.dumps(report, default=str) + "\n"
        try:
            os.write(real_stdout, line.encode("utf-8"))
        finally:
            os._exit(0)

    # a watchdog: an import or a driver call that hangs past the budget still gets a
    # report (what was gathered, plus which part hung) instead of a killed, silent child
    watchdog = threading.Timer(max(0.5, args.budget), emit, args=(True,))
    watchdog.daemon = True
    watchdog.start()
    try:
        data["python"] = probe_python()
        data["platform"] = probe_platform()
        data["env"] = {k: os.environ[k] for k in ENV_KEYS if k in os.environ}
        # cheap, certain parts first: only the slow imports below can be cut short. Each
        # part fails alone: an unreadable HF cache must not cost the torch report
        part(data, "versions", lambda: {dist: _dist_version(dist) for dist in VERSIONS})
        part(data, "tensorboard", probe_tensorboard)
        part(data, "accelerate", lambda: p.timed("accelerate", probe_accelerate))
        part(data, "musubi", lambda: p.timed("musubi", lambda: probe_musubi(args.checkout)))
        part(data, "tokenizers", probe_tokenizers)
        part(data, "disk", lambda: probe_disk(args.path))
        part(data, "shm", probe_shm)
        data["torch"] = {"installed": None, "timed_out": True, "version": _dist_version("torch")}
        data["torch"], torch = p.timed("torch", lambda: probe_torch(p))
        cuda_ok = bool(data["torch"].get("cuda_available"))
        data["bitsandbytes"] = {
            "importable": None,
            "cuda_ok": None,
            "version": _dist_version("bitsandbytes"),
            "note": "import did not finish within the time budget",
        }
        data["bitsandbytes"] = (
            p.timed(
                "bitsandbytes",
                lambda: probe_bitsandbytes(
                    torch,
                    cuda_ok,
                    not args.fast and p.left() > 2,
                    "--fast" if args.fast else ("time budget" if p.left() < 3 else ""),
                ),
            )
            if torch is not None
            else {
                "importable": False,
                "error": "torch is not importable",
                "version": _dist_version("bitsandbytes"),
            }
        )
        attention = {}
        data["attention"] = attention
        for name in ATTENTION_MODULES:
            attention[name] = {
                "importable": None,
                "note": "import did not finish within the time budget",
            }
            attention[name] = p.timed(name, lambda n=name: probe_import(n, p, args.fast))
        data["nvidia_smi"] = p.timed(
            "nvidia_smi", lambda: probe_nvidia_smi(args.fast or p.left() < 4)
        )
    except BaseException as exc:  # report what we have; never a traceback instead of JSON
        data["probe_error"] = _err(exc)
    emit(False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
