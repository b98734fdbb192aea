"""Finding the musubi-tuner checkout and the interpreters that may run it."""

from __future__ import annotations

import os
from pathlib import Path

from wantui.core.probe.wheels import WheelAdvice, choose_wheel


def install_help(wheel: WheelAdvice | None = None) -> str:
    """How to get musubi-tuner, with the torch wheel for this machine's GPU and driver
    (:mod:`wantui.core.probe.wheels`; unknown: the default, with what it needs)."""
    wheel = wheel or choose_wheel([])
    driver = f"\n{wheel.driver_update}\n" if wheel.driver_update else ""
    return f"""\
musubi-tuner was not found. To get it (Linux, a CUDA GPU):
{driver}
  git clone https://github.com/kohya-ss/musubi-tuner
  cd musubi-tuner
  python3 -m venv .venv && . .venv/bin/activate
  pip install torch torchvision \\
      --index-url {wheel.index_url}
  pip install -e .

{wheel.why}. Install torch first, then musubi-tuner itself (`pip install -e .`), in
the same venv."""


INSTALL_HELP = install_help()

# A checkout has the repo-root wrapper scripts (or at least the package sources).
_MARKERS = ("wan_train_network.py", "src/musubi_tuner/wan_train_network.py")
# Where people usually put a venv inside the checkout, POSIX and Windows.
_VENV_PYTHONS = (
    ".venv/bin/python",
    "venv/bin/python",
    "env/bin/python",
    ".venv/Scripts/python.exe",
    "venv/Scripts/python.exe",
)


def is_musubi_checkout(folder: Path) -> bool:
    return any((folder / m).is_file() for m in _MARKERS)


def find_musubi_checkouts(cwd: Path, home: Path | None = None) -> list[Path]:
    """Checkouts in the cwd, its parents, beside it and in the usual home folders."""
    home = home if home is not None else Path.home()
    candidates: list[Path] = [cwd, *cwd.parents]
    candidates += [cwd / "musubi-tuner", cwd.parent / "musubi-tuner"]
    candidates += [
        home / "musubi-tuner",
        home / "src" / "musubi-tuner",
        Path("/workspace/musubi-tuner"),
    ]
    found: list[Path] = []
    for c in candidates:
        try:
            if c.is_dir() and is_musubi_checkout(c):
                r = c.resolve()
                if r not in found:
                    found.append(r)
        except OSError:  # unreadable parent folders are simply not candidates
            continue
    return found


def find_interpreters(
    checkout: Path | None, env: dict[str, str] | None = None, *, conda: bool = False
) -> list[str]:
    """Interpreters that may have musubi-tuner installed: the checkout's venvs first, then
    the active venv (and, with ``conda``, the active conda env). The probe (run_probe)
    decides which one really works."""
    env = dict(os.environ) if env is None else env
    out: list[str] = []
    for rel in _VENV_PYTHONS if checkout is not None else ():
        p = checkout / rel
        if p.is_file():
            out.append(str(p))
    envs = ("VIRTUAL_ENV", "CONDA_PREFIX") if conda else ("VIRTUAL_ENV",)
    for var in envs:
        prefix = env.get(var)
        if not prefix:
            continue
        for rel in ("bin/python", "Scripts/python.exe", "python.exe"):
            p = Path(prefix) / rel
            if p.is_file() and str(p) not in out:
                out.append(str(p))
                break
    return out
