"""QA regressions: commands pasted from guides, terminals and Windows .bat files, through
`wantui import`, `check`, `fix --apply all --yes`, `check` again, `--undo` and `export`,
run as subprocesses the way a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

ENV = {**os.environ, "NO_COLOR": "1", "WANTUI_DEBUG": ""}

# The wrong advice of docs/reference/wan-facts.md section 8 (rows 22, 30), pasted with the prompts a guide
# shows and a `cd` into the checkout: relative paths are from there.
PASTED = """\
(venv) user@gpu-box:~/work$ cd musubi
(venv) user@gpu-box:~/work/musubi$ accelerate launch --num_cpu_threads_per_process 1 \\
    --mixed_precision bf16 src/musubi_tuner/wan_train_network.py \\
    --task t2v-A14B --dit ../models/low.safetensors --dataset_config ../dataset.toml \\
    --sdpa --mixed_precision bf16 --timestep_boundary 0.875 --v2_2 --train_batch_size 2 \\
    --optimizer_type adamw8bit --network_module networks.lora_wan --network_dim 32 \\
    --output_dir ../out --output_name my_lora --max_train_epochs 16
"""

DATASET = """\
[general]
resolution = [960, 544]
caption_extension = ".txt"

[[datasets]]
video_directory = "vids"
cache_directory = "cache"
target_frames = [1, 17]
"""


def wantui(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wantui", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env or ENV,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def errors(proc: subprocess.CompletedProcess[str]) -> set[tuple[str, str]]:
    data = json.loads(proc.stdout)
    return {(f["rule"], f["title"]) for f in data["findings"] if f["severity"] == "error"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "musubi" / "src" / "musubi_tuner").mkdir(parents=True)
    (tmp_path / "musubi" / "src" / "musubi_tuner" / "wan_train_network.py").write_text("")
    (tmp_path / "vids").mkdir()
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "low.safetensors").write_bytes(b"")
    (tmp_path / "dataset.toml").write_text(DATASET)
    return tmp_path


def test_pasted_guide_command_import_check_fix_check_undo(project: Path) -> None:
    proc = wantui("import", "--", PASTED, cwd=project)
    assert proc.returncode == 0, proc.stderr
    toml = (project / "wantui.toml").read_text()
    # the prompts are gone, the checkout is found, and paths relative to `cd musubi`
    # now mean the same files from the project folder, where wantui runs the step
    assert 'musubi_dir = "musubi"' in toml and 'dataset_config = "dataset.toml"' in toml
    assert '"models/low.safetensors"' in toml and '"out"' in toml
    assert "../" not in toml and "user@" not in toml
    original = {p: (project / p).read_bytes() for p in ("wantui.toml", "dataset.toml")}

    before = errors(wantui("check", "--json", cwd=project))
    wrong_advice = {
        ("invalid-argument-value", "`--timestep_boundary 0.875` is not accepted"),
        ("unknown-argument", "`--v2_2` does not exist; use `--task`"),
        (
            "unknown-argument",
            "`--train_batch_size` does not exist; use the dataset TOML's `batch_size`",
        ),
    }
    assert wrong_advice <= before
    assert not any(rule == "file-not-found" for rule, _ in before)  # --dit was rebased

    proc = wantui("fix", "--apply", "all", "--yes", cwd=project)
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 1), proc.stderr
    after = errors(wantui("check", "--json", cwd=project))
    assert not (wrong_advice & after), after
    assert after <= before  # nothing new
    assert "batch_size = 2" in (project / "dataset.toml").read_text()
    assert '"875"' in (project / "wantui.toml").read_text()

    for _ in range(10):
        if wantui("fix", "--undo", cwd=project).returncode != 0:
            break
    for name, data in original.items():
        assert (project / name).read_bytes() == data, name


def test_windows_bat_with_carets_crlf_japanese_paths_and_activate(tmp_path: Path) -> None:
    bat = (
        "@echo off\r\n"
        "rem 学習\r\n"
        "call .venv\\Scripts\\activate.bat && ^\r\n"
        "accelerate launch --num_cpu_threads_per_process 1 --mixed_precision bf16 ^\r\n"
        "  src/musubi_tuner/wan_train_network.py ^\r\n"
        '  --task t2v-14B --dit "C:\\Users\\名前\\musubi tuner\\models\\wan2.1_t2v_14B_bf16.safetensors" ^\r\n'
        '  --dataset_config "C:\\Users\\名前\\musubi tuner\\dataset.toml" --sdpa ^\r\n'
        "  --mixed_precision bf16 --blocks_to_swap transformer_blocks --timestep_boundary 0.875 ^\r\n"
        "  --train_batch_size 2 ^\r\n"
        "  --optimizer_type adamw8bit --network_module networks.lora_wan --output_dir out --output_name x\r\n"
        "if errorlevel 1 pause\r\n"
    )
    proc = wantui("import", "--", bat, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    toml = (tmp_path / "wantui.toml").read_text(encoding="utf-8")
    assert 'python = ".venv\\\\Scripts\\\\python.exe"' in toml
    assert "名前\\\\musubi tuner\\\\models" in toml  # spaces and Japanese kept in one token
    assert (
        'launch_args = ["--num_cpu_threads_per_process", "1", "--mixed_precision", "bf16"]' in toml
    )

    proc = wantui("check", "--json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    found = json.loads(proc.stdout)["findings"]
    by_rule = {f["rule"]: f for f in found}
    # not a nonsense "/tmp/x/C:\Users\..." not-found path
    ds = by_rule["dataset-config-windows-path"]
    assert ds["severity"] == "error" and str(tmp_path) not in ds["message"]
    swap = next(f for f in found if "blocks_to_swap" in f["title"])
    assert any("39" in a for a in swap["advice"])  # what to write instead of the word

    listing = wantui("fix", cwd=tmp_path)
    assert "Windows path this machine cannot open" in listing.stdout
    proc = wantui("fix", "--apply", "all", "--yes", cwd=tmp_path)
    assert "Traceback" not in proc.stderr and "internal" not in proc.stderr
    after = {
        f["title"] for f in json.loads(wantui("check", "--json", cwd=tmp_path).stdout)["findings"]
    }
    assert "`--timestep_boundary 0.875` is not accepted" not in after

    # the .bat comes back out as a .bat, quoted for cmd.exe
    out = wantui("export", "--bat", "-", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert '"C:\\Users\\名前\\musubi tuner\\models\\wan2.1_t2v_14B_bf16.safetensors"' in out.stdout
    assert "if errorlevel 1 exit /b 1" in out.stdout
    # the Windows dataset config stays as written, not glued onto this folder
    assert '--dataset_config "C:\\Users\\名前\\musubi tuner\\dataset.toml"' in out.stdout
    assert f"{tmp_path}/C:" not in out.stdout


@pytest.mark.parametrize(
    "prompt",
    [
        "$ ",
        "(venv) $ ",
        "(venv) user@box:~/musubi-tuner$ ",
        "root@C.12345:/workspace/musubi-tuner# ",
        "PS C:\\musubi> ",
        "(.venv) C:\\Users\\名前\\musubi tuner>",
    ],
)
def test_shell_prompt_pasted_with_the_command(tmp_path: Path, prompt: str) -> None:
    proc = wantui(
        "import",
        "--dry-run",
        "--",
        prompt + "python wan_train_network.py --dit x.safetensors",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert 'script = "wan_train_network.py"' in proc.stdout
    assert 'args = ["--dit", "x.safetensors"]' in proc.stdout


def test_prompt_token_after_double_dash_and_redirect_kept_apart(tmp_path: Path) -> None:
    proc = wantui(
        "import",
        "--dry-run",
        "--",
        "$",
        "python",
        "wan_cache_latents.py",
        "--vae",
        "v",
        cwd=tmp_path,
    )
    assert proc.returncode == 0 and 'args = ["--vae", "v"]' in proc.stdout, proc.stderr
    # a Windows interpreter path followed by a redirection is not a prompt
    proc = wantui(
        "import",
        "--dry-run",
        "--",
        "C:\\venv\\Scripts\\python.exe wan_train_network.py --dit x > C:\\log.txt",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert 'python = "C:\\\\venv\\\\Scripts\\\\python.exe"' in proc.stdout
    assert 'args = ["--dit", "x"]' in proc.stdout


def test_python_dash_m_without_module_is_a_usage_error(tmp_path: Path) -> None:
    proc = wantui("import", "--", "python -m", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "wantui: `python -m` without a module name in the command line"


def test_export_sh_runs_every_argument_verbatim_with_a_fake_python(tmp_path: Path) -> None:
    """Quotes, $, backticks, % and spaces survive import -> wantui.toml -> .sh -> bash."""
    fake = tmp_path / "bin" / "python"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "[%s]\\n" "$a"; done\necho "ENV=$WAN_X"\n')
    fake.chmod(0o755)
    (tmp_path / "my data").mkdir()
    (tmp_path / "my data" / "d.toml").write_text(DATASET)
    cmd = (
        f"WAN_X='a b$c' {fake} wan_cache_latents.py --dataset_config 'my data/d.toml' "
        "--vae \"models/va'e 100%.safetensors\" --note '$(touch pwned)' --x '`id`'"
    )
    assert wantui("import", "--", cmd, cwd=tmp_path).returncode == 0
    proc = wantui("export", "--sh", "run.sh", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert os.access(tmp_path / "run.sh", os.X_OK)
    again = wantui("export", "--sh", "run.sh", cwd=tmp_path)
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


def test_python_dash_m_wantui_matches_the_console_script(tmp_path: Path) -> None:
    script = shutil.which("wantui", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the wantui console script is not installed next to this python")
    (tmp_path / "d.toml").write_text("[general]\nresolution = [960, 544]\nnum_frames = 3\n")
    for args in (
        ["check", "--dataset-config", "d.toml", "--json"],
        ["check", "--dataset-config", "missing.toml"],
        ["fix", "--dataset-config", "d.toml"],
        ["import", "--dry-run", "--", "$ python wan_cache_latents.py --vae v"],
        ["nosuchcommand"],
    ):
        a = subprocess.run(
            [script, *args], cwd=tmp_path, capture_output=True, text=True, env=ENV, timeout=30
        )
        b = subprocess.run(
            [sys.executable, "-m", "wantui", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=ENV,
            timeout=30,
        )
        assert (a.returncode, a.stdout) == (b.returncode, b.stdout), args
        assert "Traceback" not in a.stderr + b.stderr


def test_script_variables_and_tilde_are_expanded_like_the_shell(tmp_path: Path) -> None:
    """wantui runs steps without a shell: `$MODELS/x` kept literally reached musubi-tuner
    as a path that does not exist, while `wantui check` (which expands ~) said it was fine."""
    env = {**ENV, "HOME": str(tmp_path / "home"), "WANTUI_QA_ROOT": "/data"}
    script = (
        "MODELS=$WANTUI_QA_ROOT/models\n"
        "export OUT=/data/out\n"
        'python wan_train_network.py --dit $MODELS/wan.safetensors --output_dir "${OUT}/lora" \\\n'
        "  --vae ~/v.pth --logging_dir=~/logs --network_weights $NOT_SET_ANYWHERE/w.safetensors\n"
    )
    proc = wantui("import", "--", script, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "$NOT_SET_ANYWHERE not set here" in proc.stdout
    from wantui.core.project import load_project

    args = load_project(tmp_path).steps["train"].args
    assert args[args.index("--dit") + 1] == "/data/models/wan.safetensors"
    assert args[args.index("--output_dir") + 1] == "/data/out/lora"
    assert args[args.index("--vae") + 1] == f"{tmp_path}/home/v.pth"
    assert f"--logging_dir={tmp_path}/home/logs" in args
    assert "$NOT_SET_ANYWHERE/w.safetensors" in args
    assert load_project(tmp_path).steps["train"].env == {"OUT": "/data/out"}


def test_bat_set_variables_are_expanded_case_insensitively(tmp_path: Path) -> None:
    bat = (
        '@echo off\r\nset MODELS=C:\\models\r\nset "OUT=C:\\out dir"\r\n'
        'python wan_train_network.py --dit %MODELS%\\wan.safetensors --output_dir "%out%\\lora"\r\n'
    )
    proc = wantui("import", "--dry-run", "--", bat, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert '"C:\\\\models\\\\wan.safetensors"' in proc.stdout
    assert '"C:\\\\out dir\\\\lora"' in proc.stdout


def test_project_option_given_a_dataset_toml(project: Path) -> None:
    """`--project dataset.toml` read the dataset TOML as a project file with no steps and
    reported a wantui.toml that does not exist."""
    for cmd in (
        ["check"],
        ["fix"],
        ["export", "--sh", "-"],
        ["import", "--", "python wan_train_network.py --sdpa"],
    ):
        args = [cmd[0], "--project", "dataset.toml", *cmd[1:]]
        proc = wantui(*args, cwd=project)
        assert proc.returncode == 2, (cmd, proc.stdout, proc.stderr)
        assert proc.stderr.strip().splitlines() == [
            "wantui: dataset.toml: --project takes the project folder (or its wantui.toml);"
            " for a dataset TOML use --dataset-config"
        ]
    assert not (project / "wantui.toml").exists()


SMART = "python wan_train_network.py \u2013-dit x.safetensors \u2014sdpa --output_name \u201cmy lora\u201d --optimizer_type \u2018adamw8bit\u2019 --y Bob\u2019s"


@pytest.mark.parametrize("as_list", [False, True], ids=["one-string", "shell-split"])
def test_smart_punctuation_from_a_blog_is_read_as_meant(tmp_path: Path, as_list: bool) -> None:
    """En/em dashes for `--`, curly quotes and a Japanese IME space: bash passes them as
    typed, so musubi-tuner would stop; check says so, import stores the ASCII."""
    text = SMART.replace(" --y", "\u3000--y")
    args = text.split(" ") if as_list else [text]
    proc = wantui("import", "--", *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "typographic characters were read as meant" in proc.stdout
    from wantui.core.project import load_project

    assert load_project(tmp_path).steps["train"].args == [
        "--dit",
        "x.safetensors",
        "--sdpa",
        "--output_name",
        "my lora",
        "--optimizer_type",
        "adamw8bit",
        "--y",
        "Bob\u2019s",  # an apostrophe inside a word is left alone
    ]
    proc = wantui("check", "--json", "--", *args, cwd=tmp_path)
    found = {f["rule"]: f for f in json.loads(proc.stdout)["findings"]}
    assert found["command-typography"]["severity"] == "error"
    assert "`\u2013-`" in found["command-typography"]["message"]
    assert "stray-argument" not in found and "unknown-option" not in found


def test_import_waits_for_the_fix_lock(project: Path) -> None:
    """`wantui import` and `wantui fix --apply` both rewrite wantui.toml: import takes
    the same lock, so neither overwrites the other's edit."""
    import fcntl

    (project / ".wantui").mkdir()
    fd = os.open(project / ".wantui" / "fix.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        proc = wantui(
            "import",
            "--",
            "python wan_cache_latents.py --vae v.safetensors",
            cwd=project,
            env={**ENV, "WANTUI_FIX_LOCK_TIMEOUT": "0.3"},
        )
    finally:
        os.close(fd)
    assert proc.returncode == 1 and "another `wantui fix`" in proc.stderr, proc.stderr
    assert not (project / "wantui.toml").exists()
    assert (
        wantui("import", "--", "python wan_cache_latents.py --vae v", cwd=project).returncode == 0
    )


@pytest.mark.parametrize(
    ("cmd", "name"),
    [
        ("torchrun --nproc_per_node 2 src/musubi_tuner/wan_train_network.py --dit x", "torchrun"),
        (
            "NCCL_P2P_DISABLE=1 python -m torch.distributed.run --nproc_per_node 2 wan_train_network.py",
            "python -m torch.distributed.run",
        ),
    ],
)
def test_torchrun_is_named_not_no_script_found(tmp_path: Path, cmd: str, name: str) -> None:
    """A torchrun command has a .py script in it; "no python, accelerate or .py script
    found" (or "cannot tell which step run.py is") sent users looking in the wrong place."""
    for sub in (["import", "--dry-run"], ["check"]):
        proc = wantui(*sub, "--", cmd, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert f"`{name}` launches are not supported" in proc.stderr
        assert "accelerate launch --multi_gpu" in proc.stderr


def test_bat_with_cd_d_to_a_windows_folder_imported_on_linux(tmp_path: Path) -> None:
    """`cd /d "C:\\Users\\名前\\musubi tuner"` made the scripts "/home/x/C:\\Users\\..." and the
    dataset config "C:\\...\\musubi tuner/dataset.toml"; every relative path is now made
    absolute from that folder with Windows rules."""
    bat = (
        "@echo off\r\nchcp 65001 > nul\r\nset PYTHONUTF8=1\r\n"
        'cd /d "C:\\Users\\名前\\musubi tuner"\r\ncall venv\\Scripts\\activate\r\n'
        "python src\\musubi_tuner\\wan_cache_latents.py --dataset_config dataset.toml"
        " --vae models\\wan_2.1_vae.safetensors\r\n"
        "accelerate launch src\\musubi_tuner\\wan_train_network.py --dataset_config dataset.toml"
        " --dit models\\dit.safetensors --sdpa\r\npause\r\n"
    )
    proc = wantui("import", "--", bat, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("were made absolute") == 1
    from wantui.core.project import load_project

    p = load_project(tmp_path)
    base = "C:\\Users\\名前\\musubi tuner"
    assert p.dataset_config == base + "\\dataset.toml"
    assert p.python == base + "\\venv\\Scripts\\python.exe"
    assert p.steps["latents"].script == base + "\\src\\musubi_tuner\\wan_cache_latents.py"
    assert p.steps["latents"].args == ["--vae", base + "\\models\\wan_2.1_vae.safetensors"]
    assert p.steps["train"].args == ["--dit", base + "\\models\\dit.safetensors", "--sdpa"]
    assert p.steps["train"].env == {"PYTHONUTF8": "1"}
    out = wantui("export", "--bat", "-", cwd=tmp_path).stdout
    assert f'"{base}\\src\\musubi_tuner\\wan_train_network.py"' in out
    assert str(tmp_path) + "/C:" not in out and "tuner/" not in out
