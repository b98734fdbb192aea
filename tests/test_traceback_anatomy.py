"""Traceback anatomy: exception, chain, innermost frame and owner, files named."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_helpers import run_wantui
from wantui.core.logtext import iter_file_lines
from wantui.core.matcher import diagnose_lines
from wantui.core.pathtext import clean_path, invisible_characters, looks_windows
from wantui.core.rules import load_rules
from wantui.core.traceback_anatomy import frame_owner, parse

CHAIN = """\
Traceback (most recent call last):
  File "/w/musubi-tuner/src/musubi_tuner/dataset/image_video_dataset.py", line 120, in load
    x = open(path)
FileNotFoundError: [Errno 2] No such file or directory: 'data/cap.txt'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/w/musubi-tuner/src/musubi_tuner/wan_train_network.py", line 10, in <module>
    main()
  File "/w/venv/lib/python3.11/site-packages/accelerate/utils/operations.py", line 5, in g
    raise RuntimeError("boom")
RuntimeError: boom
"""


def test_owner_from_the_path() -> None:
    cases = {
        "/w/musubi-tuner/src/musubi_tuner/wan/modules/t5.py": "musubi-tuner",
        "D:\\m\\musubi-tuner\\hunyuan_model\\vae.py": "musubi-tuner",
        "L:\\gui\\musubi-tuner-gui\\musubi-tuner\\hv_train_network.py": "musubi-tuner",
        "/v/lib/python3.11/site-packages/torch/nn/modules/module.py": "torch",
        "/v/lib/python3.11/site-packages/transformers/utils/hub.py": "transformers",
        "/v/lib/python3.11/site-packages/accelerate/commands/launch.py": "accelerate",
        "C:\\ComfyUI\\custom_nodes\\trainer\\run_wan_training.py": "gui-wrapper",
        "/usr/lib/python3.11/configparser.py": "python",
        "/root/project/train/datasets/d.py": "user-script",
    }
    for path, owner in cases.items():
        assert frame_owner(path) == owner, path


def test_chain_innermost_and_owner() -> None:
    a = parse(CHAIN.splitlines())
    assert a is not None
    assert (a.exception.type, a.exception.message) == ("RuntimeError", "boom")
    assert [e.type for e in a.chain] == ["FileNotFoundError"]
    assert a.exception.link == "during-handling"
    assert a.innermost is not None and a.innermost.line == 5 and a.owner == "accelerate"
    assert a.deepest_own is not None and a.deepest_own.path.endswith("wan_train_network.py")


def test_direct_cause_is_a_chain_too() -> None:
    text = CHAIN.replace(
        "During handling of the above exception, another exception occurred:",
        "The above exception was the direct cause of the following exception:",
    )
    a = parse(text.splitlines())
    assert a is not None and a.exception.link == "direct-cause" and len(a.chain) == 1


def test_files_named_are_checked_with_the_callables_given() -> None:
    lines = [
        "Traceback (most recent call last):",
        '  File "/w/musubi-tuner/src/musubi_tuner/wan_train_network.py", line 3, in f',
        "FileNotFoundError: [Errno 2] No such file or directory: 'models/wan_2.1_vea.safetensors'",
    ]
    a = parse(
        lines,
        exists=lambda p: False,
        listdir=lambda d: ["wan_2.1_vae.safetensors", "t5.pth"] if d == "models" else [],
    )
    assert a is not None and len(a.files) == 1
    f = a.files[0]
    assert f.exists is False and f.near == "models/wan_2.1_vae.safetensors"


def test_invisible_characters_and_windows_paths() -> None:
    raw = "\u202aC:\\models\\vae.safetensors"
    assert [c for c, _ in invisible_characters(raw)] == ["\u202a"]
    assert clean_path(raw) == "C:\\models\\vae.safetensors"
    escaped = "\\u202aC:/x.png"  # Python's repr in an exception message
    assert [c for c, _ in invisible_characters(escaped)] == ["\u202a"]
    assert clean_path(escaped) == "C:/x.png"
    assert looks_windows(raw) and not looks_windows("/home/u/x")
    a = parse([f"OSError: [Errno 22] Invalid argument: '{escaped}'"], windows=False)
    assert a is not None and a.owner == "unknown"
    (f,) = a.files
    assert f.cleaned == "C:/x.png" and any("U+202A" in p for p in f.problems)
    assert any("Windows path" in p for p in f.problems)


def test_unknown_failure_carries_its_anatomy(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text(CHAIN, encoding="utf-8")
    rules = load_rules(include_user=False)
    (f,) = [x for x in diagnose_lines(iter_file_lines(log), rules) if x.severity.value == "error"]
    assert f.rule == "wrapper-failure-unknown"
    assert f.anatomy is not None and f.anatomy["owner"] == "accelerate"
    assert f.anatomy["chain"][0]["type"] == "FileNotFoundError"


def test_diagnose_shows_the_anatomy_in_text_and_json(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text(CHAIN, encoding="utf-8")
    cmd = ("diagnose", "--no-user-rules", str(log))
    out = run_wantui(*cmd)
    assert out.returncode == 1, out.stderr
    assert "Traceback anatomy:" in out.stdout and "owner: accelerate" in out.stdout
    js = run_wantui(*cmd, "--json")
    data = json.loads(js.stdout)
    anat = data["findings"][0]["anatomy"]
    assert anat["exception"]["type"] == "RuntimeError" and anat["innermost"]["line"] == 5


def test_the_app_shows_the_anatomy_in_the_finding_detail(tmp_path: Path) -> None:
    from wantui.tui.widgets.findings_panel import finding_detail

    log = tmp_path / "run.log"
    log.write_text(CHAIN, encoding="utf-8")
    rules = load_rules(include_user=False)
    (f,) = [x for x in diagnose_lines(iter_file_lines(log), rules) if x.severity.value == "error"]
    text = finding_detail(f).plain
    assert "Traceback anatomy" in text and "owner: accelerate" in text
    assert "which followed: FileNotFoundError" in text
