"""``wantui export``: the .sh really runs (with a fake python that records its argv) and the
.bat has cmd.exe's shape (activate, ^ continuations, errorlevel checks, quoting)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import one_line_error
from wantui.cli.main import main
from wantui.core.export import bat_quote, export_bat, export_sh
from wantui.core.project import Project, Step, load_project, project_to_toml

FAKE_PY = """#!/bin/sh
# records one call: its argv NUL-separated, then the step's env var, then a record separator
printf '%s\\0' "$0" "$@" >> "$RECORD"
printf 'ENV=%s\\0\\n' "${PYTORCH_CUDA_ALLOC_CONF:-}" >> "$RECORD"
[ -n "${FAIL_ON:-}" ] && case "$*" in *"$FAIL_ON"*) exit 3;; esac
exit 0
"""


def make_project(tmp_path: Path) -> Project:
    root = tmp_path / "my project"
    root.mkdir()
    py = root / "fake py" / "python"
    py.parent.mkdir()
    py.write_text(FAKE_PY)
    py.chmod(0o755)
    p = Project(
        root=root,
        name="demo",
        musubi_dir="/opt/musubi tuner",
        python=str(py),
        dataset_config="data set.toml",
    )
    p.steps = {
        "latents": Step("latents", "wan_cache_latents.py", ["--vae", "models/wan 2.1 vae.safetensors", "--batch_size", "1"]),
        "te": Step("te", "wan_cache_text_encoder_outputs.py", ["--t5", "it's \"quoted\" $HOME `x` 100%"]),
        "train": Step("train", "wan_train_network.py",
                      ["--task", "t2v-A14B", "--sdpa", "--output_name", "a&b|c<d>e^f", "--network_args", "a=1", "b=2"],
                      launcher="accelerate", launch_args=["--num_cpu_threads_per_process", "1", "--mixed_precision", "bf16"],
                      env={"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}),
    }  # fmt: skip
    p.file.write_text(project_to_toml(p), encoding="utf-8")
    return p


def calls(record: Path) -> list[tuple[list[str], str]]:
    out = []
    for chunk in record.read_bytes().split(b"\0\n"):
        if not chunk:
            continue
        parts = chunk.split(b"\0")
        env = parts[-1].decode()
        out.append(([x.decode() for x in parts[:-1] if x], env.removeprefix("ENV=")))
    return out


@pytest.mark.skipif(sys.platform == "win32", reason="runs bash")
def test_sh_runs_each_step_with_the_exact_argv(tmp_path):
    project = make_project(tmp_path)
    script = tmp_path / "run.sh"
    script.write_text(export_sh(project))
    record = tmp_path / "record"
    env = {**os.environ, "RECORD": str(record)}
    env.pop("PYTORCH_CUDA_ALLOC_CONF", None)
    res = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
    )
    assert res.returncode == 0, res.stderr
    got = calls(record)
    assert [argv for argv, _ in got] == [project.argv(n) for n in ("latents", "te", "train")]
    assert [e for _, e in got] == ["", "", "expandable_segments:True"]  # env only for its step
    assert "== done" in res.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="runs bash")
def test_sh_stops_at_the_first_failing_step(tmp_path):
    project = make_project(tmp_path)
    script = tmp_path / "run.sh"
    script.write_text(export_sh(project))
    record = tmp_path / "record"
    env = {**os.environ, "RECORD": str(record), "FAIL_ON": "wan_cache_text_encoder_outputs.py"}
    res = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
    )
    assert res.returncode == 3
    assert len(calls(record)) == 2 and "== done" not in res.stdout
    assert "set -euo pipefail" in script.read_text()


def test_disabled_step_is_skipped(tmp_path):
    project = make_project(tmp_path)
    project.steps["te"].enabled = False
    assert "wan_cache_text_encoder_outputs.py" not in export_sh(project).replace("# step te", "")
    assert "rem step te (cache text-encoder outputs) is disabled" in export_bat(project)


def test_bat_shape(tmp_path):
    project = make_project(tmp_path)
    # cmd.exe cannot quote a '"' (tests/test_export_injection.py): the .bat refuses it
    project.steps["te"].args = ["--t5", "it's $HOME `x` 100%"]
    text = export_bat(project)
    lines = text.split("\r\n")
    assert "\n" not in text.replace("\r\n", "")  # CRLF only
    assert lines[0] == "@echo off"
    assert any(
        "activate.bat" in line and line.lstrip().startswith(("call", "if exist")) for line in lines
    )
    # every step ends in an errorlevel check, continuations end in " ^"
    runs = [i for i, line in enumerate(lines) if line.startswith(bat_quote(project.python))]
    assert len(runs) == 3
    for i in runs:
        j = i
        while lines[j].endswith(" ^"):
            j += 1
        assert lines[j + 1] == "if errorlevel 1 exit /b 1"
    assert 'set "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"' in lines
    assert '"a&b|c<d>e^f"' in text
    assert "100%%" in text and '100%"' not in text


@pytest.mark.parametrize(
    ("arg", "quoted"),
    [
        ("plain", "plain"),
        ("C:\\models\\a.safetensors", "C:\\models\\a.safetensors"),
        ("with space", '"with space"'),
        ("50%", '"50%%"'),
        ("C:\\dir with space\\", '"C:\\dir with space\\\\"'),
        ("", '""'),
    ],
)
def test_bat_quote(arg, quoted):
    assert bat_quote(arg) == quoted


def test_cli_writes_and_refuses_to_overwrite(tmp_path, capsys, monkeypatch):
    project = make_project(tmp_path)
    out = tmp_path / "run.sh"
    assert main(["export", "--project", str(project.root), "--sh", str(out)]) == 0
    assert out.read_text() == export_sh(load_project(project.root))
    assert os.access(out, os.X_OK)
    assert main(["export", "--project", str(project.root), "--sh", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    bat = tmp_path / "run.bat"
    # the te step's argument holds a '"', which cmd.exe cannot quote: refused, exit 2
    assert main(["export", "--project", str(project.root), "--bat", str(bat)]) == 2
    assert "cmd.exe cannot quote" in capsys.readouterr().err and not bat.exists()
    project.steps["te"].args = ["--t5", "it's $HOME `x` 100%"]
    project.file.write_text(project_to_toml(project), encoding="utf-8")
    assert main(["export", "--project", str(project.root), "--bat", str(bat)]) == 0
    assert bat.read_bytes().count(b"\r\n") > 10
    assert main(["export", "--project", str(tmp_path / "nowhere"), "--sh", "-"]) == 2


# -- a pasted command with quotes, `$(...)` and backquotes, exported and run


def test_export_sh_runs_every_argument_verbatim_with_a_fake_python(
    tmp_path: Path, wantui_cli
) -> None:
    """Quotes, $, backticks, % and spaces survive import -> wantui.toml -> .sh -> bash."""
    fake = tmp_path / "bin" / "python"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "[%s]\\n" "$a"; done\necho "ENV=$WAN_X"\n')
    fake.chmod(0o755)
    (tmp_path / "my data").mkdir()
    (tmp_path / "my data" / "d.toml").write_text(
        '[general]\nresolution = [960, 544]\n\n[[datasets]]\nvideo_directory = "vids"\n'
    )
    cmd = (
        f"WAN_X='a b$c' {fake} wan_cache_latents.py --dataset_config 'my data/d.toml' "
        "--vae \"models/va'e 100%.safetensors\" --note '$(touch pwned)' --x '`id`'"
    )
    assert wantui_cli("import", "--", cmd, cwd=tmp_path).returncode == 0
    proc = wantui_cli("export", "--sh", "run.sh", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert os.access(tmp_path / "run.sh", os.X_OK)
    again = wantui_cli("export", "--sh", "run.sh", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    run = subprocess.run(
        ["bash", str(tmp_path / "run.sh")], cwd="/", capture_output=True, text=True, timeout=20
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "[models/va'e 100%.safetensors]" in lines
    assert "[$(touch pwned)]" in lines and "[`id`]" in lines
    assert f"[{tmp_path / 'my data' / 'd.toml'}]" in lines
    assert "ENV=a b$c" in lines
    assert not (tmp_path / "pwned").exists()


# -- targets that are not regular files, through the real CLI


def test_export_and_import_refuse_fifo_and_read_only_targets(tmp_path: Path, wantui_cli) -> None:
    (tmp_path / "wantui.toml").write_text('[steps.train]\nargs = ["--dit", "x"]\n')
    os.mkfifo(tmp_path / "run.sh")
    one_line_error(
        wantui_cli("export", "--sh", "run.sh", "--force", cwd=tmp_path, timeout=30), 2, "FIFO"
    )
    ro = tmp_path / "run.bat"
    ro.write_text("old")
    ro.chmod(0o444)
    one_line_error(
        wantui_cli("export", "--bat", "run.bat", "--force", cwd=tmp_path), 2, "read-only"
    )
    assert ro.read_text() == "old"
    proj = tmp_path / "wantui.toml"
    before = proj.read_bytes()
    proj.chmod(0o444)
    try:
        one_line_error(
            wantui_cli("import", "--", "python wan_cache_latents.py --vae v", cwd=tmp_path),
            2,
            "read-only",
        )
        assert proj.read_bytes() == before
    finally:
        proj.chmod(0o644)
