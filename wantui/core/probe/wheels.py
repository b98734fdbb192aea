"""Which PyTorch CUDA wheel to install, from the GPUs and the driver the probe saw.

The one place for this advice: the probe's findings (torch missing, a CPU-only build, no
kernels for the GPU), doctor's summary and the guided setup's install help all ask here.

The choices are musubi-tuner's own extras (pyproject.toml, v0.3.4: ``cu124`` torch>=2.5.1,
``cu128`` torch>=2.7.1, ``cu130`` torch>=2.9.1; v0.3.5 adds ``cu132``). What decides:

- the GPU: a wheel only runs on the architectures it was built for. The cu124 builds stop
  at sm_90 (Hopper), so Blackwell (RTX 50-series sm_120, B200 sm_100) needs cu128 or
  newer; the CUDA 12.8+ builds start at sm_75 (Turing), so Pascal/Volta (sm_60/70) cards
  need cu124;
- the driver: a wheel's CUDA runtime needs a driver at least that new. CUDA 12.x
  runtimes run on any 12.x driver (minor-version compatibility, >= 525.60.13), but the
  12.8 and 13.0 wheels are the ones users report failing on older drivers, so the driver
  each toolkit shipped with is required for them (NVIDIA's CUDA release notes).

cu128 is preferred where it fits: it covers RTX 50 to Turing and has the widest choice of
matching extension wheels (xformers, flash-attn, sageattention).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

INDEX = "https://download.pytorch.org/whl/"


@dataclass(frozen=True)
class Wheel:
    tag: str
    cuda: tuple[int, int]
    torch_min: str  # musubi-tuner's extra
    driver_linux: tuple[int, ...]
    driver_windows: tuple[int, ...]
    min_cap: float  # oldest compute capability with kernels in the build
    max_cap: float  # newest (exclusive): a GPU at or above it has no kernels


WHEELS = (
    Wheel("cu128", (12, 8), "2.7.1", (570, 26), (570, 65), 7.5, 99.0),
    Wheel("cu124", (12, 4), "2.5.1", (525, 60, 13), (527, 41), 5.0, 10.0),
    Wheel("cu130", (13, 0), "2.9.1", (580, 65, 6), (580, 88), 7.5, 99.0),
)
BY_TAG = {w.tag: w for w in WHEELS}
# musubi-tuner's torch extras and the versions that have them (wantui/core/versions.py).
# cu132 (PR #986): torch>=2.12.0 and torchvision>=0.27.0 from the cu132 index; not chosen
# above, since the driver it needs is not known here, but named where it applies.
EXTRAS: dict[str, str] = {"cu124": "", "cu128": "", "cu130": "", "cu132": ">=0.3.5"}


def extras_in(version: str) -> list[str]:
    """The torch extras of musubi-tuner ``version``."""
    from wantui.core.versions import holds

    return [tag for tag, spec in EXTRAS.items() if holds(spec, version)]


def _cu132_note(driver_cuda: tuple[int, int] | None) -> str:
    """A note on the cu132 extra, when the musubi-tuner in use has it and the driver runs
    CUDA 13.2."""
    from wantui.core.args.checkout import musubi_name, musubi_version

    if driver_cuda is None or driver_cuda < (13, 2) or "cu132" not in extras_in(musubi_version()):
        return ""
    return (
        f"; {musubi_name()} also has the cu132 extra (torch>=2.12.0 for CUDA 13.2, PR #986),"
        " which this driver runs"
    )


@dataclass
class WheelAdvice:
    """The wheel to install (None: none fits until the driver is updated) and why."""

    tag: str | None
    why: str
    driver_update: str | None = None  # "update the NVIDIA driver to 570 or newer ..."

    @property
    def index_url(self) -> str:
        return INDEX + (self.tag or "cu128")

    def command(self, pip: str, *, force: bool = False) -> str:
        again = " --force-reinstall" if force else ""
        return f"{pip}{again} torch torchvision --index-url {self.index_url}"

    def advice(self, pip: str, *, force: bool = False) -> list[str]:
        """Advice lines for a finding: the driver first when it must change."""
        lines = [self.driver_update] if self.driver_update else []
        return lines + [f"{self.command(pip, force=force)}  ({self.why})"]


def _version(text: str) -> tuple[int, ...] | None:
    m = re.match(r"\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?", text or "")
    return tuple(int(g) for g in m.groups() if g is not None) if m else None


def _cap(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _shown(v: tuple[int, ...]) -> str:
    return ".".join(str(x) for x in v)


def choose_wheel(
    capabilities: list[str],
    driver: str | None = None,
    *,
    driver_cuda: tuple[int, int] | None = None,
    windows: bool = False,
    gpu_name: str = "",
) -> WheelAdvice:
    """The wheel for GPUs of ``capabilities`` ("12.0") and an NVIDIA ``driver`` ("570.86.15")
    or the CUDA version the driver supports (``driver_cuda``); either may be unknown."""
    caps = [c for c in (_cap(x) for x in capabilities) if c is not None]
    drv = _version(driver) if driver else None

    def gpu_ok(w: Wheel) -> bool:
        return all(w.min_cap <= c < w.max_cap for c in caps)

    def driver_ok(w: Wheel) -> bool | None:
        if drv is not None:
            return drv >= (w.driver_windows if windows else w.driver_linux)
        if driver_cuda is not None:
            # 12.x runtimes run on a 12.0+ driver; the 12.8/13.0 wheels want their own
            return driver_cuda >= ((12, 0) if w.tag == "cu124" else w.cuda)
        return None

    gpu = gpu_name or (f"compute capability {', '.join(capabilities)}" if caps else "")
    seen = (
        f"driver {driver}"
        if driver
        else (f"driver for CUDA {_shown(driver_cuda)}" if driver_cuda else "")
    )
    facts = ", ".join(x for x in (gpu, seen) if x) or "GPU and driver not seen"
    for w in WHEELS:
        if gpu_ok(w) and driver_ok(w) is not False:
            need = _shown(w.driver_windows if windows else w.driver_linux)
            check = "" if driver_ok(w) else f"; needs NVIDIA driver {need}+"
            note = _cu132_note(driver_cuda)
            return WheelAdvice(w.tag, f"{w.tag}: torch>={w.torch_min} for {facts}{check}{note}")

    # nothing fits the driver: of the wheels for this GPU, the one that needs the smallest
    # driver update (a shared or rented box may not allow the newest)
    def need_of(w: Wheel) -> tuple[int, ...]:
        return w.driver_windows if windows else w.driver_linux

    fit = min((w for w in WHEELS if gpu_ok(w)), key=need_of, default=BY_TAG["cu128"])
    need = _shown(need_of(fit))
    return WheelAdvice(
        fit.tag,
        f"{fit.tag}: torch>={fit.torch_min} for {facts}",
        driver_update=f"Update the NVIDIA driver to {need} or newer first: {facts} is too old"
        f" for the {fit.tag} wheels.",
    )


def wheel_for(data: dict[str, Any]) -> WheelAdvice:
    """:func:`choose_wheel` from a probe report: torch's GPUs and driver when it imports,
    else what nvidia-smi said."""
    torch = data.get("torch") or {}
    smi = data.get("nvidia_smi") or {}
    gpus = [g for g in torch.get("gpus") or [] if isinstance(g, dict)]
    caps = [str(g.get("capability")) for g in gpus if g.get("capability")]
    name = str(gpus[0].get("name") or "") if gpus else ""
    rows = [str(r).split(",") for r in smi.get("gpus") or [] if isinstance(r, str)]
    if not caps:
        caps = [str(c).strip() for c in smi.get("capabilities") or [] if str(c).strip()]
    if not name and rows:
        name = rows[0][0].strip()
    driver = rows[0][3].strip() if rows and len(rows[0]) > 3 else None
    dc = torch.get("driver_cuda")
    driver_cuda = (dc // 1000, dc % 1000 // 10) if isinstance(dc, int) and dc > 0 else None
    if name and caps:
        name = f"{name} (sm_{caps[0].replace('.', '')})"
    windows = bool((data.get("platform") or {}).get("windows"))
    return choose_wheel(caps, driver, driver_cuda=driver_cuda, windows=windows, gpu_name=name)


def local_wheel() -> WheelAdvice:
    """The advice for this machine's GPUs, from nvidia-smi (no torch needed): for the
    guided setup before any interpreter can be probed. The probe's own reader is used."""
    import os

    from wantui.core.probe.probe_script import probe_nvidia_smi

    try:
        smi = probe_nvidia_smi(False)
    except Exception:  # a broken nvidia-smi: advice without it
        smi = {}
    return wheel_for({"nvidia_smi": smi, "platform": {"windows": os.name == "nt"}})
