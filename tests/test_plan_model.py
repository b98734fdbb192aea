"""The planner's memory and speed model: the published figures it must reproduce, the
direction its answers move in, and the block-swap search."""

from __future__ import annotations

import dataclasses

import pytest

from wantui.core.plan.arch import arch_from_task, latent_frames, tokens
from wantui.core.plan.calibration import POINTS, Point, predict
from wantui.core.plan.gpus import find_gpu
from wantui.core.plan.memory import GiB, TrainSettings, te_memory, train_memory
from wantui.core.plan.planner import min_blocks_to_swap, other_change
from wantui.core.plan.speed import SpeedSettings, sec_per_step


@pytest.mark.parametrize("point", POINTS, ids=[p.id for p in POINTS])
def test_reproduces_published_figure(point: Point) -> None:
    got = predict(point)
    if point.tolerance:
        assert abs(got - point.value) <= point.tolerance * point.value, (
            f"{point.id}: predicted {got:.2f}, published {point.value} ({point.source})"
        )
    else:
        assert got == point.value, f"{point.id}: predicted {got}, published {point.value}"


def test_every_point_names_a_source() -> None:
    for p in POINTS:
        assert p.source.startswith("https://github.com/kohya-ss/musubi-tuner/"), p.id
        assert p.quote


def _s(**kw: object) -> TrainSettings:
    base = dict(arch=arch_from_task("t2v-14B"), seq=tokens(960, 544, 25), grad_ckpt=True,
                fp8_base=True, fp8_scaled=True, rank=32, optimizer="adamw8bit")  # fmt: skip
    base.update(kw)
    return TrainSettings(**base)  # type: ignore[arg-type]


def _vram(**kw: object) -> float:
    return train_memory(_s(**kw)).vram


def test_frames_round_down_to_4n_plus_1() -> None:
    assert [latent_frames(f) for f in (1, 5, 8, 9, 81)] == [1, 2, 2, 3, 21]
    assert tokens(1280, 720, 25) == 7 * 45 * 80
    assert tokens(1000, 500, 1) == (496 // 16) * (992 // 16)  # sides to multiples of 16


@pytest.mark.parametrize("frames", [(1, 9), (9, 25), (25, 49), (49, 81)])
def test_more_frames_more_memory_and_time(frames: tuple[int, int]) -> None:
    lo, hi = (tokens(960, 544, f) for f in frames)
    assert _vram(seq=lo) < _vram(seq=hi)
    gpu = find_gpu("RTX 4090")
    assert gpu is not None
    arch = arch_from_task("t2v-14B")
    assert (
        sec_per_step(SpeedSettings(arch, lo, grad_ckpt=True), gpu).sec_per_step
        < sec_per_step(SpeedSettings(arch, hi, grad_ckpt=True), gpu).sec_per_step
    )


def test_higher_resolution_more_memory() -> None:
    sizes = [(512, 512), (832, 480), (960, 544), (1280, 720)]
    peaks = [_vram(seq=tokens(w, h, 25)) for w, h in sizes]
    assert peaks == sorted(peaks) and len(set(peaks)) == len(peaks)


def test_fp8_lowers_memory() -> None:
    assert _vram(fp8_base=True) < _vram(fp8_base=False, fp8_scaled=False)
    # with block swap (loaded on the CPU): --fp8_scaled keeps the non-Linear weights in 16
    # bits, a little more than plain fp8
    plain = _vram(fp8_base=True, fp8_scaled=False, blocks_to_swap=10)
    scaled = _vram(fp8_base=True, fp8_scaled=True, blocks_to_swap=10)
    assert plain < scaled < _vram(fp8_base=False, fp8_scaled=False, blocks_to_swap=10)


def test_block_swap_lowers_vram_and_raises_ram() -> None:
    swaps = [0, 5, 10, 20, 30, 39]
    ests = [train_memory(_s(blocks_to_swap=n)) for n in swaps]
    vrams = [e.vram for e in ests]
    assert vrams == sorted(vrams, reverse=True) and len(set(vrams)) == len(vrams)
    assert ests[0].ram < ests[1].ram  # the DiT is loaded on the CPU once swap is on
    # musubi-tuner accepts at most N - 1: a larger value is planned as N - 1
    assert train_memory(_s(blocks_to_swap=80)).vram == ests[-1].vram


def test_bigger_model_more_memory() -> None:
    small = _vram(arch=arch_from_task("t2v-1.3B"))
    assert small < _vram(arch=arch_from_task("t2v-14B"))
    # and the Wan2.2 per-token time embedding costs more than Wan2.1 at the same size
    assert _vram(arch=arch_from_task("t2v-14B")) < _vram(arch=arch_from_task("t2v-A14B"))
    assert _vram(arch=arch_from_task("t2v-A14B"), force_v21_time=True) < _vram(
        arch=arch_from_task("t2v-A14B")
    )


def test_checkpointing_and_offload_lower_memory() -> None:
    assert _vram(grad_ckpt=True) < _vram(grad_ckpt=False)
    assert _vram(ckpt_offload=True) < _vram()
    assert train_memory(_s(ckpt_offload=True)).ram > train_memory(_s()).ram


def test_two_experts_without_offload_hold_both_on_the_gpu() -> None:
    a = arch_from_task("t2v-A14B")
    one = _vram(arch=a)
    both = _vram(arch=a, experts=2)
    offloaded = train_memory(_s(arch=a, experts=2, offload_inactive=True))
    assert both > one + 10 * GiB
    assert offloaded.vram == pytest.approx(one)
    assert offloaded.ram > 2 * 14 * GiB  # both experts' pinned copies


def test_loading_peak_without_block_swap() -> None:
    # bf16 file + --fp8_base without swap: the bf16 state dict is on the GPU while it is cast
    e = train_memory(_s(seq=256, fp8_scaled=False))
    assert e.vram > 40 * GiB and "loading" in " ".join(e.notes)
    assert train_memory(_s(seq=256, blocks_to_swap=10)).vram < 20 * GiB


def test_min_blocks_to_swap_matches_a_linear_search() -> None:
    s = _s(seq=tokens(960, 544, 49))
    for gib in (12, 16, 20, 24, 32, 48, 80):
        linear = next(
            (n for n in range(40) if train_memory(dataclasses.replace(s, blocks_to_swap=n)).vram
             <= gib * GiB),
            None,
        )  # fmt: skip
        assert min_blocks_to_swap(s, gib * GiB) == linear, gib


def test_verdict_follows_gpu_memory() -> None:
    s = _s(seq=tokens(960, 544, 49))
    need = train_memory(s).vram
    assert min_blocks_to_swap(s, need + GiB) == 0
    swaps = [min_blocks_to_swap(s, g * GiB) for g in (16, 20, 24, 32, 48)]
    known = [n for n in swaps if n is not None]
    assert known == sorted(known, reverse=True)  # more memory, fewer blocks to swap
    assert min_blocks_to_swap(s, 4 * GiB) is None


def test_other_change_when_no_swap_fits() -> None:
    s = _s(seq=tokens(1280, 720, 81), grad_ckpt=False)
    assert min_blocks_to_swap(s, 24 * GiB) is None
    change = other_change(s, 24 * GiB, 81)
    assert change is not None and change.startswith("add --gradient_checkpointing,")
    assert "fewer frames" in change and "--blocks_to_swap" in change
    # a setup that only lacks checkpointing gets just that
    small = _s(seq=tokens(960, 544, 25), grad_ckpt=False)
    assert min_blocks_to_swap(small, 24 * GiB) is None
    assert other_change(
        small, 24 * GiB, 25
    ) == "add --gradient_checkpointing, --blocks_to_swap " + str(
        min_blocks_to_swap(dataclasses.replace(small, grad_ckpt=True), 24 * GiB)
    )


def test_fp8_t5_fits_smaller_cards() -> None:
    # docs/wan.md: below ~16 GB of VRAM, use --fp8_t5
    assert te_memory(fp8_t5=False).vram > 12 * GiB
    assert te_memory(fp8_t5=False).vram < 16 * GiB
    assert te_memory(fp8_t5=True).vram < 12 * GiB


def test_speed_block_swap_modes() -> None:
    gpu = find_gpu("RTX 4090")
    assert gpu is not None
    arch = arch_from_task("t2v-14B")
    base = SpeedSettings(arch, tokens(960, 544, 49), grad_ckpt=True, fp8="fp8",
                         block_bytes=arch.block_linear)  # fmt: skip
    t0 = sec_per_step(base, gpu).sec_per_step
    times = {
        mode: sec_per_step(dataclasses.replace(base, blocks_to_swap=30, swap_mode=mode), gpu)
        for mode in ("classic", "classic-pinned", "h2d")
    }
    assert t0 < times["h2d"].sec_per_step < times["classic"].sec_per_step
    # images: little compute per block, so the step waits for the bus
    img = dataclasses.replace(base, seq=tokens(512, 512, 1), blocks_to_swap=39)
    assert "transfer-bound" in " ".join(sec_per_step(img, gpu).notes)


def test_fp8_file_without_fp8_base_is_up_cast() -> None:
    """wan_train_network.py: an fp8 DiT without --fp8_base runs in 16 bits."""
    fp8_file = dataclasses.replace(arch_from_task("t2v-14B"), file_dtype="fp8_e4m3fn")
    up = train_memory(_s(arch=fp8_file, fp8_base=False, fp8_scaled=False, blocks_to_swap=10))
    kept = train_memory(_s(arch=fp8_file, fp8_base=True, fp8_scaled=False, blocks_to_swap=10))
    assert up.vram > kept.vram + 5 * GiB
    # without block swap it is loaded in fp8 and cast on the GPU: 1 + 2 bytes per weight
    load = train_memory(_s(arch=fp8_file, fp8_base=False, fp8_scaled=False, seq=256))
    assert load.vram > 14.3e9 * 3
