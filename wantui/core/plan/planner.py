"""The plan: per step, peak VRAM and host RAM, whether it fits, the smallest block swap
(or the first other change) that would, seconds per step, total steps, hours and cost."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from wantui.core.plan.arch import DitArch, arch_from_header, arch_from_task, ceil_div
from wantui.core.plan.gpus import GpuClass, find_gpu
from wantui.core.plan.inputs import (
    DEFAULT_RESOLUTION,
    Bucket,
    DatasetPlan,
    PlanInputs,
    read_dataset,
)
from wantui.core.plan.memory import (
    GiB,
    TrainSettings,
    latents_memory,
    te_memory,
    train_memory,
    weight_bytes,
)
from wantui.core.plan.speed import UNCERTAINTY, SpeedSettings, sec_per_step

VRAM_UNCERTAINTY = 0.20  # the memory model reproduces the published peaks within this
DEFAULT_MAX_STEPS = 1600  # parser_common.py --max_train_steps default
WAN22_BOUNDARY = {"t2v-A14B": 0.875, "i2v-A14B": 0.9}
# what the driver (and a desktop on the same GPU) keeps: nvidia-smi shows ~0.3-0.6 GiB
# in use on an idle card, so a plan that needs every last byte is not a plan that fits
DRIVER_RESERVE = 0.5 * GiB


def usable(gpu_bytes: float) -> float:
    return gpu_bytes - DRIVER_RESERVE


@dataclass
class Machine:
    gpu_name: str | None = None
    gpu_bytes: float | None = None
    ram_bytes: float | None = None
    gpu_class: GpuClass | None = None
    windows: bool = False
    source: str = "unknown"  # probe | options | gpu table | unknown

    def to_json(self) -> dict[str, Any]:
        return {
            "gpu": self.gpu_name,
            "gpu_memory_gib": _gib(self.gpu_bytes),
            "ram_gib": _gib(self.ram_bytes),
            "speed_class": self.gpu_class.name if self.gpu_class else None,
            "windows": self.windows,
            "source": self.source,
        }


def machine_from_probe(data: dict[str, Any]) -> Machine:
    """GPU and host memory as the probe reports them (the smallest GPU, the smaller of
    RAM and the container's limit)."""
    torch = data.get("torch") or {}
    gpus = [g for g in torch.get("gpus") or [] if isinstance(g, dict)]
    m = Machine(source="probe")
    if gpus:
        small = min(gpus, key=lambda g: int(g.get("total_bytes") or 0))
        m.gpu_name = str(small.get("name") or "") or None
        m.gpu_bytes = float(small.get("total_bytes") or 0) or None
    plat = data.get("platform") or {}
    limits = [v for v in (plat.get("ram_bytes"), plat.get("mem_limit_bytes"))
              if type(v) is int and v > 0]  # fmt: skip
    m.ram_bytes = float(min(limits)) if limits else None
    m.windows = bool(plat.get("windows"))
    m.gpu_class = find_gpu(m.gpu_name)
    return m


@dataclass
class StepPlan:
    step: str
    vram_peak_gib: float | None = None
    ram_peak_gib: float | None = None
    fits: bool | None = None
    min_blocks_to_swap: int | None = None
    change: str | None = None
    sec_per_step: float | None = None
    total_steps: int | None = None
    hours: float | None = None
    cost: float | None = None
    assumptions: list[str] = field(default_factory=list)
    uncertainty: dict[str, Any] = field(default_factory=dict)
    parts: dict[str, float] = field(default_factory=dict)  # GiB that make the VRAM peak
    ram_parts: dict[str, float] = field(default_factory=dict)  # GiB that make the RAM peak

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Plan:
    machine: Machine
    steps: list[StepPlan] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def step(self, name: str) -> StepPlan | None:
        return next((s for s in self.steps if s.step == name), None)

    def to_json(self) -> dict[str, Any]:
        # no "version" here: every --json output starts with one (cli/render.write_json)
        return {
            "machine": self.machine.to_json(),
            "steps": [s.to_json() for s in self.steps],
            "notes": list(self.notes),
        }


def _gib(n: float | None) -> float | None:
    return None if n is None else round(n / GiB, 2)


# -- training ------------------------------------------------------------------------------


def _dit_arch(inputs: PlanInputs, task: str, assumptions: list[str]) -> DitArch:
    dit = inputs.flag("train", "--dit")
    info = None
    if dit:
        from wantui.core.models import inspect_file

        info = inspect_file(inputs.resolve(dit))
        arch = arch_from_header(info, task)
        if arch is not None:
            return arch
    fallback = arch_from_task(task)
    why = (
        "no --dit" if not dit else f"--dit is not a readable Wan DiT ({info.kind if info else '?'})"
    )
    assumptions.append(f"DiT sizes from --task {task} and bf16 weights ({why})")
    return fallback


def train_settings(inputs: PlanInputs, arch: DitArch, seq: int, batch: int) -> TrainSettings:
    f = inputs.flag
    precision = f("train", "--mixed_precision") or "no"
    optimizer = (f("train", "--optimizer_type") or "adamw").lower().split(".")[-1]
    return TrainSettings(
        arch=arch,
        seq=seq,
        batch=batch,
        experts=2 if f("train", "--dit_high_noise") else 1,
        # an fp8 file without --fp8_base is up-cast to 16 bits on load (wan_train_network.py)
        fp8_base=inputs.has("train", "--fp8_base"),
        fp8_scaled=inputs.has("train", "--fp8_scaled"),
        act_bytes=4 if precision == "no" else 2,
        blocks_to_swap=inputs.int_flag("train", "--blocks_to_swap", 0) or 0,
        h2d_only=inputs.has("train", "--block_swap_h2d_only"),
        ring_size=inputs.int_flag("train", "--block_swap_ring_size", 2) or 2,
        pinned=inputs.has("train", "--use_pinned_memory_for_block_swap"),
        grad_ckpt=inputs.has("train", "--gradient_checkpointing"),
        ckpt_offload=inputs.has("train", "--gradient_checkpointing_cpu_offload"),
        offload_inactive=inputs.has("train", "--offload_inactive_dit"),
        force_v21_time=inputs.has("train", "--force_v2_1_time_embedding"),
        rank=inputs.int_flag("train", "--network_dim", 4) or 4,
        optimizer=optimizer or "adamw",
        windows=inputs.windows,
    )


def fits(s: TrainSettings, gpu_bytes: float) -> bool:
    return train_memory(s).vram <= gpu_bytes


def min_blocks_to_swap(s: TrainSettings, gpu_bytes: float) -> int | None:
    """The smallest --blocks_to_swap whose predicted peak fits; None when even the largest
    (N - 1) does not. Block swap and --offload_inactive_dit exclude each other."""
    if s.offload_inactive and s.experts == 2:
        return 0 if fits(s, gpu_bytes) else None
    lo, hi = 0, s.arch.layers - 1
    if not fits(dataclasses.replace(s, blocks_to_swap=hi), gpu_bytes):
        return None
    while lo < hi:  # the peak falls as the swap grows: bisect
        mid = (lo + hi) // 2
        if fits(dataclasses.replace(s, blocks_to_swap=mid), gpu_bytes):
            hi = mid
        else:
            lo = mid + 1
    return lo


def other_change(s: TrainSettings, gpu_bytes: float, frames: int) -> str | None:
    """The first changes, in the order people are told to try them, after which some block
    swap fits; each trial keeps the changes before it."""
    done: list[str] = []
    trials: list[tuple[str, TrainSettings]] = []

    def step(what: str, trial: TrainSettings) -> TrainSettings:
        done.append(what)
        trials.append((", ".join(done), trial))
        return trial

    if not s.grad_ckpt:
        s = step("add --gradient_checkpointing", dataclasses.replace(s, grad_ckpt=True))
    if not s.fp8_base:
        s = step("add --fp8_base --fp8_scaled",
                 dataclasses.replace(s, fp8_base=True, fp8_scaled=True))  # fmt: skip
    if not s.ckpt_offload:
        s = step("add --gradient_checkpointing_cpu_offload",
                 dataclasses.replace(s, ckpt_offload=True))  # fmt: skip
    if s.batch > 1:
        s = step("batch_size = 1", dataclasses.replace(s, batch=1))
    f = frames
    while f > 1:
        f = max(1, ((f - 1) // 2) // 4 * 4 + 1)
        ratio = ((f - 1) // 4 + 1) / ((frames - 1) // 4 + 1)
        done[len(done) - (1 if done and done[-1].startswith("fewer frames") else 0) :] = []
        step(f"fewer frames (target_frames = [{f}])",
             dataclasses.replace(s, seq=max(1, int(s.seq * ratio))))  # fmt: skip
    for what, trial in trials:
        swap = min_blocks_to_swap(trial, gpu_bytes)
        if swap is not None:
            return what + (f", --blocks_to_swap {swap}" if swap else "")
    return None


def _total_steps(inputs: PlanInputs, ds: DatasetPlan | None, assumptions: list[str]) -> int | None:
    epochs = inputs.int_flag("train", "--max_train_epochs", None)
    accum = inputs.int_flag("train", "--gradient_accumulation_steps", 1) or 1
    if epochs:
        if ds is None or not ds.known_items:
            assumptions.append("total steps unknown: the dataset's media could not be counted")
            return None
        per_epoch = ceil_div(ceil_div(ds.batches_per_epoch(), inputs.num_processes()), accum)
        return epochs * per_epoch
    steps = inputs.int_flag("train", "--max_train_steps", None)
    if steps is None:
        assumptions.append(
            f"--max_train_steps not given: musubi-tuner's default {DEFAULT_MAX_STEPS}"
        )
        return DEFAULT_MAX_STEPS
    return steps


def plan_train(inputs: PlanInputs, ds: DatasetPlan | None, machine: Machine,
               price: float | None) -> StepPlan:  # fmt: skip
    out = StepPlan("train")
    a = out.assumptions
    task = inputs.flag("train", "--task") or "t2v-14B"
    arch = _dit_arch(inputs, task, a)
    peak = ds.peak if ds else None
    if peak is None:
        a.append("no readable dataset config: sizes of the samples unknown")
        return out
    s = train_settings(inputs, arch, peak.seq, peak.batch)
    est = train_memory(s)
    out.vram_peak_gib = _gib(est.vram)
    out.ram_peak_gib = _gib(est.ram)
    out.parts = {k: round(v / GiB, 2) for k, v in est.parts.items()}
    out.ram_parts = {k: round(v / GiB, 2) for k, v in est.ram_parts.items()}
    a.append(
        f"largest sample {peak.width}x{peak.height}, {peak.frames} frame(s) -> {peak.seq}"
        f" tokens, batch {peak.batch}; DiT {arch.size_name} ({arch.source}), {arch.file_dtype}"
    )
    a += est.notes
    if s.experts == 2 and s.offload_inactive and s.blocks_to_swap:
        a.append("--blocks_to_swap with --offload_inactive_dit stops musubi-tuner (an assertion)")
    if s.h2d_only and not s.grad_ckpt:
        a.append("--block_swap_h2d_only without --gradient_checkpointing stops musubi-tuner")
    out.uncertainty = {"vram_rel": VRAM_UNCERTAINTY}
    if machine.gpu_bytes:
        room = usable(machine.gpu_bytes)
        vram_ok = est.vram <= room
        ram_ok = machine.ram_bytes is None or est.ram <= machine.ram_bytes
        out.fits = vram_ok and ram_ok
        out.min_blocks_to_swap = min_blocks_to_swap(s, room)
        if out.min_blocks_to_swap is None:
            out.change = other_change(s, room, peak.frames)
        a.append(f"{DRIVER_RESERVE / GiB:.1f} GiB of the GPU left to the driver")
        if not vram_ok and machine.windows:
            a.append(
                "on Windows the driver spills into shared GPU memory instead of failing:"
                " steps run several times slower than planned"
            )
        if not ram_ok:
            a.append("host RAM is the limit: the OOM killer ends the step ('Killed')")
    else:
        a.append("GPU memory unknown (no probe, --gpu-memory or --gpu): fit not judged")
    gpu = machine.gpu_class
    if gpu is None:
        a.append("GPU class unknown (give --gpu NAME): no speed estimate")
    else:
        blk_lin, _, _ = weight_bytes(s)
        fp8 = "fp8_scaled" if s.fp8_scaled else ("fp8" if s.fp8_base else "none")
        attention = next((n for n in ("flash3", "flash_attn", "sage_attn", "xformers")
                          if inputs.has("train", "--" + n)), "sdpa")  # fmt: skip
        boundary = WAN22_BOUNDARY.get(task, 0.875)
        sp = sec_per_step(
            SpeedSettings(
                arch=arch, seq=ds.mean_seq(), batch=peak.batch, fp8=fp8, attention=attention,
                split_attn=inputs.has("train", "--split_attn"), grad_ckpt=s.grad_ckpt,
                ckpt_offload=s.ckpt_offload, blocks_to_swap=s.blocks_to_swap,
                swap_mode="h2d" if s.h2d_only else ("classic-pinned" if s.pinned else "classic"),
                block_bytes=blk_lin, windows=machine.windows, rank=s.rank, experts=s.experts,
                offload_inactive=s.offload_inactive,
                switch_probability=2 * boundary * (1 - boundary) if s.experts == 2 else 0.0,
                expert_bytes=arch.params * (1 if s.fp8_base else 2),
            ),
            gpu,
        )  # fmt: skip
        out.sec_per_step = round(sp.sec_per_step, 2)
        out.uncertainty["sec_per_step"] = [round(sp.low, 2), round(sp.high, 2)]
        out.uncertainty["speed_factor"] = UNCERTAINTY
        a.append(f"speed from the {gpu.name} reference throughput ({gpu.tflops:g} TFLOPS bf16)")
        a += sp.notes
    out.total_steps = _total_steps(inputs, ds, a)
    if out.total_steps is not None and out.sec_per_step is not None:
        out.hours = round(out.total_steps * out.sec_per_step / 3600, 2)
        if price is not None:
            out.cost = round(out.hours * price, 2)
    return out


# -- caching steps -------------------------------------------------------------------------


def _judge(out: StepPlan, vram: float, ram: float, machine: Machine) -> None:
    out.vram_peak_gib, out.ram_peak_gib = _gib(vram), _gib(ram)
    if machine.gpu_bytes:
        out.fits = vram <= usable(machine.gpu_bytes) and (
            machine.ram_bytes is None or ram <= machine.ram_bytes
        )


def plan_latents(inputs: PlanInputs, ds: DatasetPlan | None, machine: Machine) -> StepPlan:
    out = StepPlan("latents")
    peak = ds.peak if ds else None
    if peak is None:
        out.assumptions.append("no readable dataset config: sizes of the samples unknown")
        return out
    batch = inputs.int_flag("latents", "--batch_size", None) or 1
    est = latents_memory(
        peak.width, peak.height, peak.frames, batch=batch,
        clip=bool(inputs.flag("latents", "--clip")),
        vae_cache_cpu=inputs.has("latents", "--vae_cache_cpu"),
    )  # fmt: skip
    _judge(out, est.vram, est.ram, machine)
    out.parts = {k: round(v / GiB, 2) for k, v in est.parts.items()}
    out.ram_parts = {k: round(v / GiB, 2) for k, v in est.ram_parts.items()}
    out.uncertainty = {"vram_rel": 0.5}
    out.assumptions.append("VAE activations from first principles; no published figure (±50%)")
    return out


def plan_te(inputs: PlanInputs, machine: Machine) -> StepPlan:
    out = StepPlan("te")
    t5 = inputs.flag("te", "--t5")
    params, size = None, None
    if t5:
        from wantui.core.models import inspect_file

        info = inspect_file(inputs.resolve(t5))
        if info.kind == "t5" and info.header is not None:
            params = float(sum(m.numel for m in info.header.tensors.values()))
            size = float(info.size) or None
    if params is None:
        out.assumptions.append("T5 size of umt5-xxl (the --t5 file could not be read)")
    est = te_memory(
        t5_params=params or 5.68e9, t5_file_bytes=size, fp8_t5=inputs.has("te", "--fp8_t5"),
        batch=inputs.int_flag("te", "--batch_size", 16) or 16,
    )  # fmt: skip
    _judge(out, est.vram, est.ram, machine)
    out.parts = {k: round(v / GiB, 2) for k, v in est.parts.items()}
    out.ram_parts = {k: round(v / GiB, 2) for k, v in est.ram_parts.items()}
    out.uncertainty = {"vram_rel": 0.2}
    return out


def make_plan(inputs: PlanInputs, machine: Machine, *, price: float | None = None) -> Plan:
    plan = Plan(machine)
    if inputs.dataset_config is not None:
        ds = read_dataset(inputs.dataset_config, inputs.cwd)
        plan.notes += ds.notes
    else:
        # the smallest step musubi-tuner can take: one image at the dataset default size
        w, h = DEFAULT_RESOLUTION
        ds = DatasetPlan([Bucket(w, h, 1, 0, 1)], known_items=False)
        plan.notes.append(
            f"no --dataset_config: planned for one {w}x{h} image, the smallest step (a lower bound)"
        )
    if "latents" in inputs.steps:
        plan.steps.append(plan_latents(inputs, ds, machine))
    if "te" in inputs.steps:
        plan.steps.append(plan_te(inputs, machine))
    if "train" in inputs.steps:
        plan.steps.append(plan_train(inputs, ds, machine, price))
    return plan
