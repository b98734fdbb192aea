"""The project file: load, render argv, and save keeping the user's comments."""

from __future__ import annotations

from pathlib import Path

import pytest

from wantui.core.errors import WantuiError
from wantui.core.project import Project, Step, load_project, project_to_toml

SAMPLE = """\
# my first Wan2.2 LoRA
[project]
name = "cat-lora"
musubi_dir = "/opt/musubi-tuner"   # the checkout
python = "/opt/musubi-tuner/.venv/bin/python"
dataset_config = "dataset.toml"

[steps.latents]
script = "wan_cache_latents.py"
args = ["--vae", "models/wan_2.1_vae.safetensors"]

[steps.train]
script = "wan_train_network.py"
launcher = "accelerate"
launch_args = ["--num_processes", "1"]
args = ["--task", "t2v-A14B", "--sdpa"]  # keep sdpa
env = { PYTORCH_CUDA_ALLOC_CONF = "expandable_segments:True" }
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "wantui.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_load_and_argv(tmp_path: Path) -> None:
    p = load_project(_write(tmp_path, SAMPLE))
    assert p.name == "cat-lora"
    assert set(p.steps) == {"latents", "train"}
    argv = p.argv("latents")
    assert argv[:2] == [
        "/opt/musubi-tuner/.venv/bin/python",
        "/opt/musubi-tuner/wan_cache_latents.py",
    ]
    assert argv[2:4] == ["--dataset_config", str(tmp_path.resolve() / "dataset.toml")]
    train = p.argv("train")
    assert train[1:4] == ["-m", "accelerate.commands.launch", "--num_processes"]
    assert train.index("/opt/musubi-tuner/wan_train_network.py") < train.index("--task")
    assert p.steps["train"].env == {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}


def test_save_keeps_comments(tmp_path: Path) -> None:
    p = load_project(_write(tmp_path, SAMPLE))
    p.steps["train"].args.append("--gradient_checkpointing")
    text = project_to_toml(p, base=SAMPLE)
    assert "# my first Wan2.2 LoRA" in text
    assert "# the checkout" in text
    assert "--gradient_checkpointing" in text
    (tmp_path / "wantui.toml").write_text(text, encoding="utf-8")
    again = load_project(tmp_path)
    assert again.steps["train"].args[-1] == "--gradient_checkpointing"
    # nothing else changed: a round trip without edits is byte-identical
    assert project_to_toml(again, base=text) == text


def test_new_project_round_trip(tmp_path: Path) -> None:
    p = Project(root=tmp_path, name="x", dataset_config="d.toml")
    p.steps["te"] = Step(
        name="te", script="wan_cache_text_encoder_outputs.py", args=["--t5", "t5 file.pth"]
    )
    (tmp_path / "wantui.toml").write_text(project_to_toml(p), encoding="utf-8")
    q = load_project(tmp_path)
    assert q.steps["te"].args == ["--t5", "t5 file.pth"]


@pytest.mark.parametrize(
    "text, needle",
    [
        ("[project\nname='x'", "TOML syntax error"),
        ("[steps.bogus]\nargs=[]", "unknown step"),
        ("[steps.train]\nargs='--sdpa'", "must be a list"),
        ("[steps.train]\nlauncher='torchrun'", "launcher"),
    ],
)
def test_bad_project_files(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(WantuiError) as info:
        load_project(_write(tmp_path, text))
    assert needle in str(info.value)
    assert "wantui.toml" in str(info.value)


def test_missing_and_binary(tmp_path: Path) -> None:
    with pytest.raises(WantuiError, match="no project file"):
        load_project(tmp_path)
    (tmp_path / "wantui.toml").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(WantuiError, match="not UTF-8"):
        load_project(tmp_path)


ARGS_WITH_COMMENTS = """\
[steps.train]
launcher = "accelerate"
args = [
  "--task", "t2v-A14B",  # wan2.2
  "--sdpa",              # attention
  "--mixed_precision", "bf16",  # matches the DiT
]
"""


def test_flag_edits_keep_comments_inside_the_args_array(tmp_path: Path) -> None:
    p = load_project(_write(tmp_path, ARGS_WITH_COMMENTS))
    args = p.steps["train"].args
    args[args.index("--sdpa")] = "--flash_attn"
    args[args.index("bf16")] = "fp16"
    text = project_to_toml(p, base=ARGS_WITH_COMMENTS)
    assert '"--task", "t2v-A14B",  # wan2.2' in text
    assert '"--mixed_precision", "fp16",  # matches the DiT' in text
    assert "[project]" not in text  # nothing to say there: no empty table added
    assert "script =" not in text  # the user's table had none: the default stays implicit
    (tmp_path / "wantui.toml").write_text(text, encoding="utf-8")
    assert load_project(tmp_path).steps["train"].args == args


def test_append_after_a_trailing_comment_is_never_swallowed(tmp_path: Path) -> None:
    # tomlkit writes an item appended after a commented last item *into* the comment;
    # the value must still be there when the file is read back.
    p = load_project(_write(tmp_path, ARGS_WITH_COMMENTS))
    p.steps["train"].args.append("--gradient_checkpointing")
    text = project_to_toml(p, base=ARGS_WITH_COMMENTS)
    (tmp_path / "wantui.toml").write_text(text, encoding="utf-8")
    assert load_project(tmp_path).steps["train"].args[-1] == "--gradient_checkpointing"


# -- a project file written by Notepad, through the real CLI


def test_project_file_with_bom_and_crlf_loads_and_fixes_keep_both(
    tmp_path: Path, wantui_cli
) -> None:
    """Notepad writes a BOM and CRLF; tomlkit took the BOM for an empty key (exit 2 in
    check, exit 3 in fix), and import added LF lines to a CRLF file."""
    raw = (
        '\ufeff[project]\r\nname = "x"\r\n[steps.train]\r\n'
        'script = "wan_train_network.py"\r\nargs = ["--dit", "x"]\r\n'
    ).encode()
    proj = tmp_path / "wantui.toml"
    proj.write_bytes(raw)
    assert wantui_cli("check", cwd=tmp_path).returncode == 1  # findings, not a parse error
    proc = wantui_cli(
        "import", "--", "python wan_cache_latents.py --vae v.safetensors", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    after_import = proj.read_bytes()
    assert after_import.startswith(b"\xef\xbb\xbf[project]")
    assert b"\n" not in after_import.replace(b"\r\n", b""), "mixed line ends"
    assert b"wan_cache_latents.py" in after_import
    proc = wantui_cli("fix", "--apply", "all", "--yes", cwd=tmp_path)
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    assert "internal error" not in proc.stderr
    after_fix = proj.read_bytes()
    assert after_fix != after_import
    assert after_fix.startswith(b"\xef\xbb\xbf")
    assert b"\n" not in after_fix.replace(b"\r\n", b"")
    while wantui_cli("fix", "--undo", cwd=tmp_path).returncode == 0:
        pass
    assert proj.read_bytes() == after_import
