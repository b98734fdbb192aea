#!/usr/bin/env python3
"""Measure musubi-tuner's Wan LoRA training step on a GPU, to calibrate ``wantui plan``.

For each point of a small grid (model size x resolution x frames x fp8 x block swap) it
builds musubi-tuner's own ``WanModel`` in the real shapes with random weights, wraps it in
musubi's LoRA (``networks.lora_wan``), and runs training steps as ``wan_train_network.py``
does: autocast bf16, gradient checkpointing, musubi's block swap, AdamW on the LoRA. It
records ``torch.cuda.max_memory_allocated`` / ``max_memory_reserved`` and seconds per step,
and prints each point next to what ``wantui plan`` predicts for it.

Runs in the PIPELINE's interpreter (torch, accelerate, a musubi-tuner checkout); never
imported by wantui. One JSON object per point on stdout, a table on stderr::

    python scripts/measure_plan.py --musubi /path/to/musubi-tuner [--quick] [--steps 3]
    python scripts/measure_plan.py --musubi ... --cpu-smoke     # tiny model on the CPU

``--quick`` is the grid for a short GPU session (1.3B and 14B, a few sizes); the full
grid takes longer. Each point runs in a fresh child process, so one OOM does not end the
grid and the peaks do not leak into each other.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

QUICK = [
    # task, width, height, frames, fp8 (none|fp8|scaled), blocks_to_swap, ckpt_offload
    ("t2v-1.3B", 832, 480, 1, "none", 0, False),
    ("t2v-1.3B", 832, 480, 33, "none", 0, False),
    ("t2v-1.3B", 832, 480, 81, "none", 0, False),
    ("t2v-1.3B", 832, 480, 81, "none", 20, False),
    ("t2v-14B", 960, 544, 1, "fp8", 0, False),
    ("t2v-14B", 960, 544, 25, "fp8", 0, False),
    ("t2v-14B", 960, 544, 25, "scaled", 0, False),
    ("t2v-14B", 960, 544, 25, "fp8", 20, False),
    ("t2v-A14B", 1280, 720, 25, "scaled", 0, False),
    ("t2v-A14B", 1280, 720, 25, "scaled", 0, True),
]
FULL = QUICK + [
    ("t2v-14B", 1280, 720, 49, "fp8", 0, False),
    ("t2v-14B", 832, 480, 81, "fp8", 30, False),
    ("t2v-14B", 960, 544, 25, "none", 0, False),
    ("t2v-A14B", 832, 480, 81, "scaled", 10, True),
]


def run_point(args: argparse.Namespace, point: tuple) -> dict:
    """One training measurement, in this process (called in a child)."""
    import torch

    sys.path.insert(0, str(Path(args.musubi) / "src"))
    if args.cpu_smoke and not torch.cuda.is_available():
        torch.cuda.current_device = lambda: 0  # musubi's t5.py evaluates it at import
    from musubi_tuner.modules.custom_offloading_utils import BlockSwapConfig
    from musubi_tuner.modules.fp8_optimization_utils import (
        apply_fp8_monkey_patch,
        optimize_state_dict_with_fp8,
    )
    from musubi_tuner.networks import lora_wan
    from musubi_tuner.wan.configs import WAN_CONFIGS
    from musubi_tuner.wan.modules.model import (
        FP8_OPTIMIZATION_EXCLUDE_KEYS,
        FP8_OPTIMIZATION_TARGET_KEYS,
        WanModel,
    )

    task, width, height, frames, fp8, swap, offload = point
    device = torch.device("cuda" if not args.cpu_smoke else "cpu")
    cfg = WAN_CONFIGS[task]
    dims = dict(
        dim=cfg.dim, ffn_dim=cfg.ffn_dim, num_heads=cfg.num_heads, num_layers=cfg.num_layers
    )
    if args.cpu_smoke:
        dims = dict(dim=128, ffn_dim=256, num_heads=2, num_layers=4)
    torch.manual_seed(0)
    from accelerate import init_empty_weights

    with init_empty_weights():  # as load_wan_model: parameters on meta, rope freqs real
        model = WanModel(
            model_type="t2v", model_version="2.2" if cfg.v2_2 else "2.1", in_dim=cfg.in_dim,
            freq_dim=cfg.freq_dim, out_dim=cfg.out_dim, text_len=cfg.text_len, eps=cfg.eps,
            attn_mode="torch", split_attn=False, **dims,
        )  # fmt: skip
    # random weights in bf16 on the CPU first (block swap loads there), as the trainer does
    model = model.to_empty(device="cpu")
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02)
    # (CPU autocast cannot run musubi's float32 time-embedding region over bf16 weights)
    model.to(torch.float32 if args.cpu_smoke else torch.bfloat16)
    if fp8 == "scaled":
        sd = optimize_state_dict_with_fp8(
            model.state_dict(), device, FP8_OPTIMIZATION_TARGET_KEYS,
            FP8_OPTIMIZATION_EXCLUDE_KEYS, move_to_device=False,
        )  # fmt: skip
        apply_fp8_monkey_patch(model, sd, use_scaled_mm=False)
        model.load_state_dict(sd, strict=True, assign=True)
    elif fp8 == "fp8":
        model.to(torch.float8_e4m3fn)
    model.requires_grad_(False)
    if swap:
        model.enable_block_swap(swap, BlockSwapConfig(device=device, supports_backward=True))
        model.move_to_device_except_swap_blocks(device)
        model.prepare_block_swap_before_forward()
    else:
        model.to(device)
    model.enable_gradient_checkpointing(offload)
    model.train()
    network = lora_wan.create_arch_network(1.0, args.rank, args.rank, None, [], model)
    network.apply_to(None, model, apply_text_encoder=False, apply_unet=True)
    network.to(device)
    params, _ = network.prepare_optimizer_params(unet_lr=1e-4)
    opt = torch.optim.AdamW(params, lr=1e-4)
    network.train()
    lat_f = (frames - 1) // 4 + 1
    lat = torch.randn(16, lat_f, height // 8, width // 8, device=device, dtype=torch.bfloat16)
    ctx = torch.randn(cfg.text_len, 4096, device=device, dtype=torch.bfloat16)
    seq = lat_f * (height // 16) * (width // 16)
    times = []
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    for step in range(args.steps + 1):
        t0 = time.perf_counter()
        noisy = lat.clone().requires_grad_(True)
        t = torch.full((1,), 500.0, device=device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            if swap:
                model.prepare_block_swap_before_forward()
            pred = model([noisy], t=t, context=[ctx], seq_len=seq)[0]
        loss = torch.nn.functional.mse_loss(pred.float(), lat.float())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step:  # the first step warms up kernels and the block-swap buffers
            times.append(time.perf_counter() - t0)
    out = {
        "task": task, "width": width, "height": height, "frames": frames, "fp8": fp8,
        "blocks_to_swap": swap, "ckpt_offload": offload, "rank": args.rank, "tokens": seq,
        "sec_per_step": sum(times) / len(times),
    }  # fmt: skip
    if device.type == "cuda":
        gib = 1024**3
        out["max_allocated_gib"] = torch.cuda.max_memory_allocated() / gib
        out["max_reserved_gib"] = torch.cuda.max_memory_reserved() / gib
        out["gpu"] = torch.cuda.get_device_name(0)
    return out


def predicted(point: tuple, rank: int, gpu: str | None) -> dict:
    """What ``wantui plan`` says for the same point."""
    sys.path.insert(0, str(ROOT))
    from wantui.core.plan.arch import arch_from_task, tokens
    from wantui.core.plan.gpus import find_gpu
    from wantui.core.plan.memory import GiB, TrainSettings, train_memory, weight_bytes
    from wantui.core.plan.speed import SpeedSettings, sec_per_step

    task, width, height, frames, fp8, swap, offload = point
    arch = arch_from_task(task)
    seq = tokens(width, height, frames)
    s = TrainSettings(arch, seq, fp8_base=fp8 != "none", fp8_scaled=fp8 == "scaled",
                      blocks_to_swap=swap, grad_ckpt=True, ckpt_offload=offload, rank=rank,
                      optimizer="adamw")  # fmt: skip
    out = {"plan_vram_gib": train_memory(s).vram / GiB}
    cls = find_gpu(gpu)
    if cls is not None:
        sp = SpeedSettings(arch, seq, fp8={"none": "none", "fp8": "fp8"}.get(fp8, "fp8_scaled"),
                           grad_ckpt=True, ckpt_offload=offload, blocks_to_swap=swap,
                           block_bytes=weight_bytes(s)[0], rank=rank)  # fmt: skip
        out["plan_sec_per_step"] = sec_per_step(sp, cls).sec_per_step
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--musubi", required=True, help="a musubi-tuner checkout (with src/)")
    ap.add_argument("--quick", action="store_true", help="the short grid")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per point (after 1 warm-up)")
    ap.add_argument("--rank", type=int, default=32)
    ap.add_argument("--timeout", type=float, default=240, help="seconds per point")
    ap.add_argument("--cpu-smoke", action="store_true", help="a tiny model on the CPU (no GPU)")
    ap.add_argument("--point", help=argparse.SUPPRESS)  # the child's point, as JSON
    args = ap.parse_args()
    if args.point:
        print(json.dumps(run_point(args, tuple(json.loads(args.point)))))
        return 0
    grid = [QUICK[0]] if args.cpu_smoke else (QUICK if args.quick else FULL)
    for point in grid:
        argv = [sys.executable, __file__, "--musubi", args.musubi, "--steps", str(args.steps),
                "--rank", str(args.rank), "--point", json.dumps(point)]  # fmt: skip
        if args.cpu_smoke:
            argv.append("--cpu-smoke")
        env = {
            **os.environ,
            "PYTORCH_CUDA_ALLOC_CONF": os.environ.get("PYTORCH_CUDA_ALLOC_CONF", ""),
        }
        try:
            child = subprocess.run(
                argv, capture_output=True, text=True, timeout=args.timeout, env=env
            )
            lines = child.stdout.strip().splitlines()
            row = (
                json.loads(lines[-1])
                if child.returncode == 0 and lines
                else {
                    "point": point,
                    "error": (child.stderr.strip().splitlines() or ["?"])[-1][:300],
                }
            )
        except subprocess.TimeoutExpired:
            row = {"point": point, "error": f"timed out after {args.timeout:g} s"}
        row.update(predicted(point, args.rank, row.get("gpu")))
        print(json.dumps(row), flush=True)
        vram = row.get("max_reserved_gib")
        print(f"{point}: measured {vram if vram is None else round(vram, 2)} GiB reserved,"
              f" {row.get('sec_per_step', float('nan')):.2f} s/step; plan"
              f" {row['plan_vram_gib']:.2f} GiB, {row.get('plan_sec_per_step', float('nan')):.2f}"
              f" s/step {row.get('error', '')}", file=sys.stderr, flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
