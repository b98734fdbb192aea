"""Time the dataset scan on 10,000 clips (captions, MP4 frame counts, caches).

    python bench/bench_scan.py [N]

Prints one figure per phase; nothing is asserted (benchmarks are not tests). The files are
written just before, so a plain run reads them from the page cache (warm). The first scan
is timed cold too, where the OS allows it: every file's cached pages are dropped first
(posix_fadvise DONTNEED, Linux; directory entries stay cached), as after a reboot or on a
network disk the first read is slower. Each figure says which it is.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from wantui.core.dataset.load import load_dataset_config
from wantui.core.dataset.mp4 import write_test_mp4
from wantui.core.dataset.scan import scan_datasets, scan_findings


def evict(root: Path) -> bool:
    """Drop the page cache of every file below ``root``; False where the OS cannot."""
    advise = getattr(os, "posix_fadvise", None)
    if advise is None:
        return False
    os.sync()  # dirty pages (just written) are not dropped
    for path in root.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                advise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
    return True


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        videos = root / "videos"
        videos.mkdir()
        t0 = time.perf_counter()
        for i in range(n):
            write_test_mp4(videos / f"clip{i:05d}.mp4", 20 + i % 60)
            if i % 10:
                (videos / f"clip{i:05d}.txt").write_text("a caption")
            if i % 3:
                (videos / f"clip{i:05d}_00000-017_0832x0480_wan.safetensors").write_bytes(b"")
                (videos / f"clip{i:05d}_wan_te.safetensors").write_bytes(b"")
        made = time.perf_counter() - t0
        cfg_path = root / "dataset.toml"
        cfg_path.write_text(
            '[general]\ncaption_extension = ".txt"\n\n[[datasets]]\nvideo_directory = "videos"\n'
            "target_frames = [1, 17, 33, 81]\n"
        )
        cfg = load_dataset_config(cfg_path)
        cold = evict(root)
        t0 = time.perf_counter()
        c0 = time.process_time()
        scans = scan_datasets(cfg, root, step="train")
        cold_s, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0 = time.perf_counter()
        c0 = time.process_time()
        scans = scan_datasets(cfg, root, step="train")
        scan_s, scan_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0 = time.perf_counter()
        findings = scan_findings(cfg, root, step="train")
        find_s = time.perf_counter() - t0
        # the same folder without frame counts (target_frames = [1] needs no clip length)
        cfg_path.write_text(
            '[general]\ncaption_extension = ".txt"\n\n[[datasets]]\nvideo_directory = "videos"\n'
        )
        cfg1 = load_dataset_config(cfg_path)
        t0 = time.perf_counter()
        c0 = time.process_time()
        scan_datasets(cfg1, root, step="train")
        plain_s, plain_cpu = time.perf_counter() - t0, time.process_time() - c0
        s = scans[0]
        print(f"files created: {n} clips + captions + caches in {made:.1f} s")
        if cold:
            print(
                f"scan_datasets(train), cold (page cache dropped): {cold_s * 1000:.0f} ms wall"
                f" ({cold_cpu * 1000:.0f} ms CPU)"
            )
        else:
            print("scan_datasets(train), cold: not measured (no posix_fadvise here)")
        print(
            f"scan_datasets(train), warm: {scan_s * 1000:.0f} ms wall ({scan_cpu * 1000:.0f} ms CPU) for {len(s.media)} clips, "
            f"{len(s.captions_missing)} uncaptioned, {sum(len(v) for v in s.short.values())} short, "
            f"{s.latent_caches} latent / {s.te_caches} TE caches"
        )
        print(f"scan_findings(train), warm: {find_s * 1000:.0f} ms, {len(findings)} findings")
        print(
            f"scan without frame counts, warm: {plain_s * 1000:.0f} ms wall, {plain_cpu * 1000:.0f} ms CPU"
        )


if __name__ == "__main__":
    main()
