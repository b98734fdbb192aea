#!/usr/bin/env python3
"""A fake musubi-tuner step for supervisor and TUI tests: real process, musubi-like output.

Which step it plays comes from the script name it is started as (see musubi/); what it
does comes from the environment, so a project's ``[steps.X] env`` can choose it:

FAKE_MODE     ok | fail | hang | ignore-sigint | ignore-all | grandchild | daemon | flood |
              binary | noeol | signal | slow | nan | argv | oom | tick  (default ok)
FAKE_DELAY    seconds between lines in ok/slow/nan (default 0)
FAKE_STEPS    training steps to print in ok/slow/nan (default 3)
FAKE_VIDEOS   how many videos the dataset glob says it found (default 2; 0: dataset-empty)
FAKE_LINES    lines to print in flood (default 100000)
FAKE_PIDFILE  where grandchild/daemon mode writes the grandchild's pid (daemon: in its
              own session, like a tool that daemonises)
FAKE_SIGNAL   the signal number signal mode dies by (default 9)
FAKE_NO_LORA  with ok: training saves no LoRA file (a run whose final save never happened)
FAKE_LORA     with ok: the path training writes a small real LoRA .safetensors at
FAKE_STOP_EXIT  on SIGINT print a KeyboardInterrupt traceback and exit with this status
              (1: like accelerate's launcher; 0: a trainer that catches Ctrl-C)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

MODE = os.environ.get("FAKE_MODE", "ok")
DELAY = float(os.environ.get("FAKE_DELAY", "0"))
STEPS = int(os.environ.get("FAKE_STEPS", "3"))
VIDEOS = int(os.environ.get("FAKE_VIDEOS", "2"))


def out(text: str, *, err: bool = True, end: str = "\n") -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text + end)
    stream.flush()
    if DELAY:
        time.sleep(DELAY)


def step_name() -> str:
    name = os.environ.get("FAKE_ENTRY") or Path(sys.argv[0]).name
    if "latents" in name:
        return "latents"
    if "text_encoder" in name:
        return "te"
    return "train"


def head(step: str) -> None:
    mod = {"latents": "wan_cache_latents", "te": "wan_cache_text_encoder_outputs"}.get(
        step, "wan_train_network"
    )
    logger = "__main__" if step != "train" else "musubi_tuner.training.trainer_base"
    out(f"INFO:{logger}:Load dataset config from dataset.toml")
    out("INFO:musubi_tuner.dataset.datasources:glob videos in data/vid")
    out(f"INFO:musubi_tuner.dataset.datasources:found {VIDEOS} videos")
    out(f"INFO:musubi_tuner.{mod}:started as {mod}")


def caching(step: str) -> None:
    if step == "latents":
        out("INFO:__main__:Loading VAE model from models/wan_2.1_vae.safetensors")
        out("INFO:musubi_tuner.cache_latents:Encoding dataset [0]")
    else:
        out("INFO:__main__:Loading T5: models/models_t5_umt5-xxl-enc-bf16.pth")
        out("INFO:__main__:Encoding with T5")
        out("INFO:musubi_tuner.cache_text_encoder_outputs:Encoding dataset [0]")
    for i in range(1, 3):
        out(f"{i}it [00:0{i}, 1.00it/s]", end="\r")
    out("")


def training(loss: str | None = None) -> None:
    out("accelerator device: cpu", err=False)
    out("prepare optimizer, data loader etc.", err=False)
    out("running training / 学習開始", err=False)
    out(f"  total optimization steps / 学習ステップ数: {STEPS}", err=False)
    out("epoch 1/1", err=False)
    for i in range(1, STEPS + 1):
        value = loss or f"{2.0 - i * 0.01:.3g}"
        pct = int(100 * i / STEPS)
        out(
            f"steps: {pct:3d}%|          | {i}/{STEPS} [00:0{i % 10}<00:00,  1.00it/s, avr_loss={value}]",
            end="\r",
        )
    out("", end="\n")
    out("saving checkpoint: out/testlora.safetensors", err=False)
    argv = sys.argv[1:]
    if (
        "--output_dir" in argv and "--output_name" in argv and not os.environ.get("FAKE_NO_LORA")
    ):  # the LoRA, as musubi saves it
        folder = Path(argv[argv.index("--output_dir") + 1])
        folder.mkdir(parents=True, exist_ok=True)
        name = argv[argv.index("--output_name") + 1]
        (folder / f"{name}.safetensors").write_bytes(b"")
    out("INFO:musubi_tuner.training.trainer_base:model saved.")


def write_lora(path: str) -> None:
    """A tiny LoRA in musubi's naming, as safetensors (header + zero bytes), no numpy."""
    import json
    import struct

    tensors, offset = {}, 0
    for i in range(2):
        for kind, shape in (("lora_down", [4, 16]), ("lora_up", [16, 4])):
            n = shape[0] * shape[1] * 2
            name = f"lora_unet_blocks_{i}_self_attn_q.{kind}.weight"
            tensors[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + n]}
            offset += n
        tensors[f"lora_unet_blocks_{i}_self_attn_q.alpha"] = {
            "dtype": "F32",
            "shape": [],
            "data_offsets": [offset, offset + 4],
        }
        offset += 4
    header = json.dumps(tensors).encode()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * offset)


def oom() -> None:
    out("accelerator device: cuda", err=False)
    out("epoch 1/1", err=False)
    out("steps:   0%|          | 0/40 [00:00<?, ?it/s]", end="\r")
    out("Traceback (most recent call last):")
    out('  File "src/musubi_tuner/wan_train_network.py", line 756, in main')
    out('  File "torch/nn/modules/module.py", line 1751, in _wrapped_call_impl')
    out(
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a"
        " total capacity of 23.55 GiB of which 1.02 GiB is free."
    )


def _stop_exit(code: int) -> None:
    def handler(_sig: int, _frame: object) -> None:
        out("Traceback (most recent call last):")
        out('  File "src/musubi_tuner/wan_train_network.py", line 756, in main')
        out("KeyboardInterrupt")
        sys.exit(code)

    signal.signal(signal.SIGINT, handler)


def main() -> int:
    step = step_name()
    if os.environ.get("FAKE_STOP_EXIT"):
        _stop_exit(int(os.environ["FAKE_STOP_EXIT"]))
    if MODE == "argv":
        out("ARGV " + " ".join(sys.argv[1:]), err=False)
        out("ENV PYTHONUNBUFFERED=" + os.environ.get("PYTHONUNBUFFERED", ""), err=False)
        out("ENV PYTHONPATH=" + os.environ.get("PYTHONPATH", "<unset>"), err=False)
        return 0
    if MODE == "flood":
        n = int(os.environ.get("FAKE_LINES", "100000"))
        w = sys.stdout.write
        for i in range(n):
            w(f"steps: {i} line of flood output\n")
        sys.stdout.flush()
        return 0
    if MODE == "binary":
        sys.stdout.buffer.write(
            b"\x00\xff\xfe binary \x1b[31mred\x1b[0m \xc3\x28 \x80\x81\n"
            + bytes(range(256))
            + b"\nafter\n"
        )
        sys.stdout.flush()
        return 0
    if MODE == "noeol":
        sys.stdout.write("x" * 200_000)  # one huge line that never ends
        sys.stdout.flush()
        return 0
    if MODE == "signal":
        out("about to die by a signal")
        os.kill(os.getpid(), int(os.environ.get("FAKE_SIGNAL", "9")))
        time.sleep(10)
        return 0
    head(step)
    if MODE in ("hang", "ignore-sigint", "ignore-all", "grandchild", "daemon"):
        if MODE in ("ignore-sigint", "ignore-all"):
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if MODE == "ignore-all":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if MODE in ("grandchild", "daemon"):
            # grandchild: like accelerate launch, the worker in the launcher's group;
            # daemon: a setsid child, out of the step's process group and session
            kid = subprocess.Popen(
                [sys.executable, "-c", "import time; time.sleep(600)"],
                start_new_session=MODE == "daemon",
            )
            pidfile = os.environ.get("FAKE_PIDFILE")
            if pidfile:
                Path(pidfile).write_text(str(kid.pid))
        out(f"{MODE}: running until stopped")
        while True:
            time.sleep(0.1)
    if MODE == "fail":
        if step == "train":
            out("Traceback (most recent call last):")
            out('  File "src/musubi_tuner/wan_train_network.py", line 756, in main')
            out(
                "ValueError: No training items found in the dataset. Please ensure that the "
                "latent/Text Encoder cache has been created beforehand."
            )
        else:
            out("Traceback (most recent call last):")
            out(
                "FileNotFoundError: [Errno 2] No such file or directory: 'models/missing.safetensors'"
            )
        return 1
    if MODE == "tick":  # numbered plain lines, FAKE_DELAY apart (a log that streams)
        for i in range(1, STEPS + 1):
            out(f"tick {i} of {STEPS}", err=False)
        return 0
    if MODE == "oom" and step == "train":
        oom()
        return 1
    if step == "train":
        training("nan" if MODE == "nan" else None)
        if os.environ.get("FAKE_LORA"):
            write_lora(os.environ["FAKE_LORA"])
    else:
        caching(step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
