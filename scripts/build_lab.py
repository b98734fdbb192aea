#!/usr/bin/env python3
"""Build a small, real musubi-tuner Wan lab: random-weight models in the real shapes,
two short captioned videos, a dataset TOML, text-encoder caches and a ``wantui.toml``.

Standalone on purpose: it runs in the PIPELINE's interpreter (the one that has torch and
safetensors, usually musubi-tuner's venv) and is never imported by wantui, whose core must
stay free of torch. Usage::

    python scripts/build_lab.py --musubi /path/to/musubi-tuner --out /tmp/lab
    python scripts/build_lab.py --musubi ... --out ... --dtype fp16      # fp16 DiT
    python scripts/build_lab.py --out /tmp/t --tiny                      # test scale

By default the models have the exact Wan2.1 T2V 1.3B DiT shapes (825 tensors) and the
Wan2.1 VAE shapes (194 tensors), so musubi-tuner's strict ``load_state_dict`` accepts them;
``--tiny`` keeps every key name but shrinks widths and depth (for unit tests only: musubi
cannot load a tiny DiT under any ``--task``). The T5 encoder is not built: the umt5
tokenizer cannot be fetched offline, so the text-encoder caches
(``<stem>_wan_te.safetensors``) are written directly in musubi's cache format.

Prints one JSON object describing what it wrote on the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def _load_torch() -> None:
    """Import torch and safetensors only when files are written, so option errors and
    --print-shapes answer at once (torch costs seconds to import)."""
    global torch, save_file
    try:
        import torch
        from safetensors.torch import save_file
    except ImportError as exc:  # this script must run in the pipeline's interpreter
        sys.exit(
            f"build_lab.py: needs torch and safetensors in this interpreter ({exc}); run it with the pipeline's python"
        )


DTYPES = ("bf16", "fp16", "fp32")
# musubi's --mixed_precision value that matches each DiT file dtype (wan_train_network.py:60-76);
# an fp32 file has no assertion, and "no" is the only choice that trains on a CPU.
MIXED_PRECISION = {"bf16": "bf16", "fp16": "fp16", "fp32": "no"}

# Wan2.1 T2V 1.3B (musubi wan/configs/wan_t2v_1_3B.py) and a tiny stand-in with the same keys.
DIT_REAL = {
    "dim": 1536,
    "ffn_dim": 8960,
    "num_layers": 30,
    "in_dim": 16,
    "out_dim": 16,
    "freq_dim": 256,
    "text_dim": 4096,
}
DIT_TINY = {
    "dim": 32,
    "ffn_dim": 64,
    "num_layers": 2,
    "in_dim": 16,
    "out_dim": 16,
    "freq_dim": 256,
    "text_dim": 4096,
}
VAE_REAL = {"dim": 96, "z_dim": 16}
VAE_TINY = {"dim": 8, "z_dim": 16}
T5_DIM = 4096  # umt5-xxl hidden size: the width of varlen_t5_* in the TE cache


# ---------------------------------------------------------------------------- shapes
def dit_shapes(
    dim: int, ffn_dim: int, num_layers: int, in_dim: int, out_dim: int, freq_dim: int, text_dim: int
) -> dict[str, list[int]]:
    """Key -> shape of musubi's ``WanModel`` (wan/modules/model.py), patch size (1, 2, 2)."""
    s: dict[str, list[int]] = {
        "patch_embedding.weight": [dim, in_dim, 1, 2, 2],
        "patch_embedding.bias": [dim],
        "text_embedding.0.weight": [dim, text_dim],
        "text_embedding.0.bias": [dim],
        "text_embedding.2.weight": [dim, dim],
        "text_embedding.2.bias": [dim],
        "time_embedding.0.weight": [dim, freq_dim],
        "time_embedding.0.bias": [dim],
        "time_embedding.2.weight": [dim, dim],
        "time_embedding.2.bias": [dim],
        "time_projection.1.weight": [dim * 6, dim],
        "time_projection.1.bias": [dim * 6],
    }
    for i in range(num_layers):
        b = f"blocks.{i}."
        s[b + "modulation"] = [1, 6, dim]
        for attn in ("self_attn", "cross_attn"):
            for p in ("q", "k", "v", "o"):
                s[f"{b}{attn}.{p}.weight"] = [dim, dim]
                s[f"{b}{attn}.{p}.bias"] = [dim]
            s[f"{b}{attn}.norm_q.weight"] = [dim]
            s[f"{b}{attn}.norm_k.weight"] = [dim]
        s[b + "norm3.weight"] = [dim]
        s[b + "norm3.bias"] = [dim]
        s[b + "ffn.0.weight"] = [ffn_dim, dim]
        s[b + "ffn.0.bias"] = [ffn_dim]
        s[b + "ffn.2.weight"] = [dim, ffn_dim]
        s[b + "ffn.2.bias"] = [dim]
    s["head.modulation"] = [1, 2, dim]
    s["head.head.weight"] = [out_dim * 4, dim]  # out_dim * prod(patch_size)
    s["head.head.bias"] = [out_dim * 4]
    return s


def _resblock(s: dict[str, list[int]], p: str, cin: int, cout: int) -> None:
    s[p + "residual.0.gamma"] = [cin, 1, 1, 1]
    s[p + "residual.2.weight"] = [cout, cin, 3, 3, 3]
    s[p + "residual.2.bias"] = [cout]
    s[p + "residual.3.gamma"] = [cout, 1, 1, 1]
    s[p + "residual.6.weight"] = [cout, cout, 3, 3, 3]
    s[p + "residual.6.bias"] = [cout]
    if cin != cout:
        s[p + "shortcut.weight"] = [cout, cin, 1, 1, 1]
        s[p + "shortcut.bias"] = [cout]


def _middle(s: dict[str, list[int]], p: str, c: int) -> None:
    _resblock(s, p + "0.", c, c)
    s[p + "1.norm.gamma"] = [c, 1, 1]
    s[p + "1.to_qkv.weight"] = [c * 3, c, 1, 1]
    s[p + "1.to_qkv.bias"] = [c * 3]
    s[p + "1.proj.weight"] = [c, c, 1, 1]
    s[p + "1.proj.bias"] = [c]
    _resblock(s, p + "2.", c, c)


def vae_shapes(dim: int, z_dim: int) -> dict[str, list[int]]:
    """Key -> shape of musubi's ``WanVAE_`` (wan/modules/vae.py): dim_mult [1, 2, 4, 4],
    2 residual blocks per level, temporal downsampling [False, True, True]."""
    mult, down_t = [1, 2, 4, 4], [False, True, True]
    s: dict[str, list[int]] = {
        "encoder.conv1.weight": [dim, 3, 3, 3, 3],
        "encoder.conv1.bias": [dim],
    }
    dims = [dim * u for u in [1, *mult]]
    n = 0
    for i, (cin, cout) in enumerate(zip(dims[:-1], dims[1:])):
        for _ in range(2):
            _resblock(s, f"encoder.downsamples.{n}.", cin, cout)
            cin, n = cout, n + 1
        if i != len(mult) - 1:
            s[f"encoder.downsamples.{n}.resample.1.weight"] = [cout, cout, 3, 3]
            s[f"encoder.downsamples.{n}.resample.1.bias"] = [cout]
            if down_t[i]:
                s[f"encoder.downsamples.{n}.time_conv.weight"] = [cout, cout, 3, 1, 1]
                s[f"encoder.downsamples.{n}.time_conv.bias"] = [cout]
            n += 1
    top = dims[-1]
    _middle(s, "encoder.middle.", top)
    s["encoder.head.0.gamma"] = [top, 1, 1, 1]
    s["encoder.head.2.weight"] = [z_dim * 2, top, 3, 3, 3]
    s["encoder.head.2.bias"] = [z_dim * 2]
    s["conv1.weight"] = [z_dim * 2, z_dim * 2, 1, 1, 1]
    s["conv1.bias"] = [z_dim * 2]
    s["conv2.weight"] = [z_dim, z_dim, 1, 1, 1]
    s["conv2.bias"] = [z_dim]
    s["decoder.conv1.weight"] = [top, z_dim, 3, 3, 3]
    s["decoder.conv1.bias"] = [top]
    _middle(s, "decoder.middle.", top)
    up_t = down_t[::-1]
    udims = [dim * u for u in [mult[-1], *mult[::-1]]]
    n = 0
    for i, (cin, cout) in enumerate(zip(udims[:-1], udims[1:])):
        if i in (1, 2, 3):
            cin //= 2  # the previous upsample halved the channels
        for _ in range(3):
            _resblock(s, f"decoder.upsamples.{n}.", cin, cout)
            cin, n = cout, n + 1
        if i != len(mult) - 1:
            s[f"decoder.upsamples.{n}.resample.1.weight"] = [cout // 2, cout, 3, 3]
            s[f"decoder.upsamples.{n}.resample.1.bias"] = [cout // 2]
            if up_t[i]:
                s[f"decoder.upsamples.{n}.time_conv.weight"] = [cout * 2, cout, 3, 1, 1]
                s[f"decoder.upsamples.{n}.time_conv.bias"] = [cout * 2]
            n += 1
    s["decoder.head.0.gamma"] = [dim, 1, 1, 1]
    s["decoder.head.2.weight"] = [3, dim, 3, 3, 3]
    s["decoder.head.2.bias"] = [3]
    return s


# ---------------------------------------------------------------------------- writers
def write_random_safetensors(
    path: Path,
    shapes: dict[str, list[int]],
    dtype: torch.dtype,
    seed: int,
    metadata: dict[str, str] | None = None,
) -> None:
    """Random weights, small enough that a forward pass stays finite. Norm gains are 1 so
    the model behaves like a freshly initialised one rather than exploding."""
    gen = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}
    for key, shape in shapes.items():
        if key.endswith(("gamma", "norm_q.weight", "norm_k.weight", "norm3.weight")):
            t = torch.ones(shape, dtype=torch.float32)
        elif key.endswith("bias"):
            t = torch.zeros(shape, dtype=torch.float32)
        else:
            fan_in = max(
                1, int(torch.tensor(shape[1:]).prod().item()) if len(shape) > 1 else shape[0]
            )
            t = torch.randn(shape, generator=gen, dtype=torch.float32) * (fan_in**-0.5)
        sd[key] = t.to(dtype)
    tmp = path.with_suffix(path.suffix + ".part")
    save_file(sd, str(tmp), metadata=metadata)
    os.replace(tmp, path)  # never leave a half-written model behind


SAFETENSORS_DTYPE = {"bf16": ("BF16", 2), "fp16": ("F16", 2), "fp32": ("F32", 4)}


def write_sparse_safetensors(path: Path, shapes: dict[str, list[int]], dtype: str) -> None:
    """A valid safetensors file whose data are all zeros and never written: the real header
    and the real size, as a sparse file (no disk blocks). For header-level checks only
    (fingerprints, dtype, preflight); a zero model is useless for training."""
    name, size = SAFETENSORS_DTYPE[dtype]
    header: dict[str, object] = {}
    offset = 0
    for key in sorted(shapes):
        n = size
        for d in shapes[key]:
            n *= d
        header[key] = {"dtype": name, "shape": shapes[key], "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the format pads the header to 8 bytes
    tmp = path.with_suffix(path.suffix + ".part")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + offset)
    os.replace(tmp, path)


def frames_rgb(n: int, w: int, h: int, seed: int) -> list[bytes]:
    """A moving colour gradient, so frames differ and encoders see structure."""
    out = []
    for f in range(n):
        xs = torch.arange(w).view(1, w).expand(h, w)
        ys = torch.arange(h).view(h, 1).expand(h, w)
        r = (xs * 2 + f * 8 + seed * 40) % 256
        g = (ys * 2 + f * 4) % 256
        b = ((xs + ys) + f * 6 + seed * 90) % 256
        out.append(torch.stack([r, g, b], dim=-1).to(torch.uint8).contiguous().numpy().tobytes())
    return out


def write_video(path: Path, frames: list[bytes], w: int, h: int, fps: int) -> str:
    """MP4 via PyAV when it is installed (musubi-tuner depends on it), else an uncompressed
    AVI written by hand, which PyAV and OpenCV both decode. Returns the writer used."""
    try:
        import av  # noqa: PLC0415 - optional, present in musubi-tuner's venv
        import numpy as np  # noqa: PLC0415
    except ImportError:
        _write_raw_avi(path.with_suffix(".avi"), frames, w, h, fps)
        return "raw-avi"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for raw in frames:
            img = np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return "pyav-mpeg4"


def _write_raw_avi(path: Path, frames: list[bytes], w: int, h: int, fps: int) -> None:
    """RIFF AVI with one stream of bottom-up BGR24 DIB frames (codec 'DIB ')."""
    row = (w * 3 + 3) & ~3
    size = row * h

    def dib(raw: bytes) -> bytes:
        rows = []
        for y in range(h - 1, -1, -1):  # DIBs are stored bottom-up
            line = bytearray(raw[y * w * 3 : (y + 1) * w * 3])
            line[0::3], line[2::3] = line[2::3], line[0::3]  # RGB -> BGR
            rows.append(bytes(line) + b"\0" * (row - w * 3))
        return b"".join(rows)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return tag + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")

    def lst(kind: bytes, data: bytes) -> bytes:
        return b"LIST" + struct.pack("<I", len(data) + 4) + kind + data

    n = len(frames)
    avih = struct.pack(
        "<IIIIIIIIII4I", 1_000_000 // fps, size * fps, 0, 0x10, n, 0, 1, size, w, h, 0, 0, 0, 0
    )
    strh = struct.pack(
        "<4s4sIHHIIIIIIIIhhhh",
        b"vids",
        b"DIB ",
        0,
        0,
        0,
        0,
        1,
        fps,
        0,
        n,
        size,
        0xFFFFFFFF,
        0,
        0,
        0,
        w,
        h,
    )
    strf = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, size, 0, 0, 0, 0)
    hdrl = lst(
        b"hdrl", chunk(b"avih", avih) + lst(b"strl", chunk(b"strh", strh) + chunk(b"strf", strf))
    )
    movi_items, index, offset = [], [], 4
    for raw in frames:
        c = chunk(b"00db", dib(raw))
        index.append(struct.pack("<4sIII", b"00db", 0x10, offset, size))
        movi_items.append(c)
        offset += len(c)
    body = b"AVI " + hdrl + lst(b"movi", b"".join(movi_items)) + chunk(b"idx1", b"".join(index))
    tmp = path.with_suffix(".part")
    tmp.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    os.replace(tmp, path)


def write_te_cache(path: Path, caption: str, tokens: int, seed: int) -> None:
    """musubi's Wan TE cache (dataset/cache_io.py save_text_encoder_output_cache_wan):
    ``varlen_t5_bfloat16`` [tokens, 4096] plus architecture/caption1/format_version."""
    gen = torch.Generator().manual_seed(seed)
    embed = (torch.randn(tokens, T5_DIM, generator=gen) * 0.1).to(torch.bfloat16)
    meta = {"architecture": "wan", "caption1": caption, "format_version": "1.0.1"}
    save_file({"varlen_t5_bfloat16": embed}, str(path), metadata=meta)


# ---------------------------------------------------------------------------- lab
CAPTIONS = {
    "clip_a": "a red and green gradient drifting slowly to the right",
    "clip_b": "a blue gradient sweeping diagonally across the frame",
}


def toml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid TOML basic string


def build(args: argparse.Namespace) -> dict:
    out: Path = args.out.resolve()
    for sub in ("models", "data/videos", "data/cache", "output"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    dit_cfg = DIT_TINY if args.tiny else DIT_REAL
    vae_cfg = VAE_TINY if args.tiny else VAE_REAL
    _load_torch()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    tag = "tiny" if args.tiny else "1.3B"
    dit_path = out / "models" / f"lab_wan21_t2v_{tag}_{args.dtype}.safetensors"
    vae_path = out / "models" / f"lab_wan21_vae{'_tiny' if args.tiny else ''}.safetensors"
    dit = dit_shapes(**dit_cfg)
    vae = vae_shapes(**vae_cfg)
    if not (dit_path.exists() and args.reuse):
        if args.sparse:
            write_sparse_safetensors(dit_path, dit, args.dtype)
        else:
            write_random_safetensors(dit_path, dit, dtype, seed=1)
    if not (vae_path.exists() and args.reuse):
        if args.sparse:
            write_sparse_safetensors(vae_path, vae, "bf16")
        else:
            write_random_safetensors(vae_path, vae, torch.bfloat16, seed=2)

    videos = []
    for i, (stem, caption) in enumerate(CAPTIONS.items()):
        writer = write_video(
            out / "data/videos" / f"{stem}.mp4",
            frames_rgb(args.frames, args.size, args.size, i),
            args.size,
            args.size,
            fps=16,
        )
        name = f"{stem}.mp4" if writer != "raw-avi" else f"{stem}.avi"
        (out / "data/videos" / f"{stem}.txt").write_text(caption + "\n", encoding="utf-8")
        # one cache per media file, shared by all its crops (docs/reference/wan-facts.md 1.3)
        write_te_cache(
            out / "data/cache" / f"{stem}_wan_te.safetensors",
            caption,
            tokens=len(caption.split()) + 2,
            seed=10 + i,
        )
        videos.append({"file": f"data/videos/{name}", "writer": writer, "caption": caption})

    dataset = out / "dataset.toml"
    dataset.write_text(
        "# Written by wantui scripts/build_lab.py. Relative paths resolve from the project folder,\n"
        "# which is the working directory wantui runs every step from.\n"
        "[general]\n"
        f"resolution = [{args.size}, {args.size}]\n"
        'caption_extension = ".txt"\n'
        "batch_size = 1\n"
        "enable_bucket = true\n"
        "bucket_no_upscale = false\n\n"
        "[[datasets]]\n"
        'video_directory = "data/videos"\n'
        'cache_directory = "data/cache"\n'
        "target_frames = [1, 17]\n"
        'frame_extraction = "head"\n',
        encoding="utf-8",
    )
    # absolute: wantui.toml resolves a relative interpreter path against the project folder
    python = shutil.which(args.python) or args.python if args.python else sys.executable
    python = os.path.abspath(python) if os.sep in python else python
    musubi = str(args.musubi.resolve()) if args.musubi else "musubi-tuner"
    mp = MIXED_PRECISION[args.dtype]
    train_args = [
        "--task", "t2v-1.3B",
        "--dit", str(dit_path.relative_to(out)),
        "--sdpa",
        "--mixed_precision", mp,
        "--optimizer_type", "adamw",
        "--learning_rate", "1e-4",
        "--network_module", "networks.lora_wan",
        "--network_dim", "4",
        "--timestep_sampling", "shift",
        "--discrete_flow_shift", "3.0",
        "--max_train_steps", str(args.steps),
        "--save_every_n_steps", str(max(1, args.steps // 2)),
        "--seed", "42",
        "--max_data_loader_n_workers", "1",
        "--output_dir", "output",
        "--output_name", "lab-lora",
    ]  # fmt: skip
    launch_args = [
        "--num_cpu_threads_per_process",
        "1",
        "--num_processes",
        "1",
        "--num_machines",
        "1",
        "--dynamo_backend",
        "no",
        "--mixed_precision",
        mp,
    ]

    def arr(items: list[str]) -> str:
        return "[" + ", ".join(toml_str(x) for x in items) + "]"

    (out / "wantui.toml").write_text(
        "# A small real lab written by wantui scripts/build_lab.py: random weights in the real\n"
        "# Wan2.1 1.3B shapes, so loss values mean nothing but every file and message is real.\n"
        "[project]\n"
        f'name = "wantui-lab"\n'
        f"musubi_dir = {toml_str(musubi)}\n"
        f"python = {toml_str(python)}\n"
        'dataset_config = "dataset.toml"\n'
        'models_dir = "models"\n'
        'runs_dir = "runs"\n\n'
        "[steps.latents]\n"
        'script = "wan_cache_latents.py"\n'
        f"args = {arr(['--vae', str(vae_path.relative_to(out)), '--batch_size', '1', '--num_workers', '1'])}\n\n"
        "# The umt5 tokenizer cannot be fetched offline: build_lab.py wrote the T5 caches itself.\n"
        "[steps.te]\n"
        'script = "wan_cache_text_encoder_outputs.py"\n'
        'args = ["--t5", "models/models_t5_umt5-xxl-enc-bf16.pth", "--batch_size", "16"]\n'
        "enabled = false\n\n"
        "[steps.train]\n"
        'script = "wan_train_network.py"\n'
        'launcher = "accelerate"\n'
        f"launch_args = {arr(launch_args)}\n"
        f"args = {arr(train_args)}\n",
        encoding="utf-8",
    )
    return {
        "out": str(out),
        "project": str(out / "wantui.toml"),
        "dataset_config": str(dataset),
        "dit": {
            "path": str(dit_path),
            "tensors": len(dit),
            "dtype": args.dtype,
            "tiny": args.tiny,
            "sparse": args.sparse,
        },
        "vae": {"path": str(vae_path), "tensors": len(vae)},
        "videos": videos,
        "te_caches": sorted(str(p) for p in (out / "data/cache").glob("*_wan_te.safetensors")),
        "mixed_precision": mp,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--out", type=Path, help="work folder to create the lab in (required unless --print-shapes)"
    )
    ap.add_argument("--musubi", type=Path, help="musubi-tuner checkout (written into wantui.toml)")
    ap.add_argument(
        "--python", help="the pipeline's interpreter for wantui.toml (default: this one)"
    )
    ap.add_argument(
        "--dtype",
        choices=DTYPES,
        default="bf16",
        help="DiT weight dtype (default bf16; fp32 trains on a CPU)",
    )
    ap.add_argument(
        "--tiny", action="store_true", help="shrunken widths/depth, same key names (tests only)"
    )
    ap.add_argument("--frames", type=int, default=25, help="frames per video (default 25)")
    ap.add_argument(
        "--size",
        type=int,
        default=128,
        help="video width = height in pixels (default 128, a multiple of 16)",
    )
    ap.add_argument(
        "--steps", type=int, default=20, help="training steps in wantui.toml (default 20)"
    )
    ap.add_argument("--reuse", action="store_true", help="keep model files that already exist")
    ap.add_argument(
        "--sparse",
        action="store_true",
        help="models with the real headers and sizes but all-zero data, as sparse files (header-level tests only)",
    )
    ap.add_argument(
        "--print-shapes",
        action="store_true",
        help="print the DiT/VAE key->shape tables as JSON and exit",
    )
    args = ap.parse_args(argv)
    if args.print_shapes:
        d, v = (DIT_TINY, VAE_TINY) if args.tiny else (DIT_REAL, VAE_REAL)
        print(json.dumps({"dit": dit_shapes(**d), "vae": vae_shapes(**v)}))
        return 0
    if args.out is None:
        ap.error("--out is required")
    if args.size % 16 or args.size < 32:
        ap.error("--size must be a multiple of 16 and at least 32 (Wan buckets step by 16)")
    if args.frames < 1:
        ap.error("--frames must be at least 1")
    if args.musubi and not (args.musubi / "wan_train_network.py").is_file():
        ap.error(
            f"--musubi {args.musubi}: no wan_train_network.py there (not a musubi-tuner checkout)"
        )
    try:
        info = build(args)
    except OSError as exc:
        print(f"build_lab.py: {exc.filename or args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
