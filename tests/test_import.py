"""``wantui import``: a pasted command becomes a project step; comments survive; atomic."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from wantui.cli.main import main
from wantui.core.project import load_project


def checkout(tmp_path: Path) -> Path:
    m = tmp_path / "musubi"
    m.mkdir()
    for s in ("wan_cache_latents.py", "wan_cache_text_encoder_outputs.py", "wan_train_network.py"):
        (m / s).write_text("")
    return m


def test_import_creates_project_and_round_trips_argv(tmp_path, monkeypatch):
    m = checkout(tmp_path)
    proj = tmp_path / "proj"
    proj.mkdir()
    monkeypatch.chdir(m)
    cmd = ("accelerate launch --num_cpu_threads_per_process 1 --mixed_precision bf16 wan_train_network.py "
           "--dataset_config ../proj/dataset.toml --task t2v-A14B --sdpa --output_name 'my lora'")  # fmt: skip
    assert main(["import", "--project", str(proj), "--", cmd]) == 0
    p = load_project(proj)
    assert p.dataset_config == "dataset.toml"
    assert p.musubi_dir == "../musubi"
    t = p.steps["train"]
    assert (t.launcher, t.script) == ("accelerate", "wan_train_network.py")
    assert t.launch_args == ["--num_cpu_threads_per_process", "1", "--mixed_precision", "bf16"]
    assert t.args == ["--task", "t2v-A14B", "--sdpa", "--output_name", "my lora"]
    argv = p.argv("train")
    assert argv[-7:] == ["--dataset_config", str(proj / "dataset.toml"), "--task", "t2v-A14B", "--sdpa",
                         "--output_name", "my lora"]  # fmt: skip
    assert argv[3:7] == t.launch_args and os.path.normpath(argv[7]) == str(
        m / "wan_train_network.py"
    )


def test_import_keeps_comments_and_other_steps(tmp_path, monkeypatch):
    m = checkout(tmp_path)
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "wantui.toml").write_text(
        '# my notes\n[project]\nname = "x"  # keep me\nmusubi_dir = "../musubi"\ndataset_config = "d.toml"\n\n'
        '[steps.te]\nscript = "wan_cache_text_encoder_outputs.py"\nargs = ["--t5", "t5.pth"]  # te args\n'
    )
    monkeypatch.chdir(m)
    assert main(["import", "--project", str(proj), "--", "CUDA_VISIBLE_DEVICES=1", "python", "wan_cache_latents.py",
                 "--vae", "vae.safetensors"]) == 0  # fmt: skip
    text = (proj / "wantui.toml").read_text()
    assert "# my notes" in text and "# keep me" in text and "# te args" in text
    p = load_project(proj)
    assert p.steps["latents"].args == ["--vae", "vae.safetensors"]
    assert p.steps["latents"].env == {"CUDA_VISIBLE_DEVICES": "1"}
    assert p.steps["te"].args == ["--t5", "t5.pth"]
    assert list((proj / ".wantui" / "backups").iterdir())  # the old file was backed up


def test_import_python_module_and_venv(tmp_path, monkeypatch):
    m = checkout(tmp_path)
    monkeypatch.chdir(m)
    assert (
        main(
            [
                "import",
                "--project",
                str(m),
                "--",
                "source .venv/bin/activate && python -m musubi_tuner.wan_train_network --sdpa",
            ]
        )
        == 0
    )
    p = load_project(m)
    assert p.steps["train"].script == "wan_train_network.py"
    assert p.python == str(m / ".venv" / "bin" / "python")


def test_import_refuses_what_it_cannot_place(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["import", "--", "python", "my_script.py"]) == 2
    assert "pass --step" in capsys.readouterr().err
    assert main(["import", "--", "python", "hv_train_network.py"]) == 2
    assert main(["import"]) == 2
    assert not (tmp_path / "wantui.toml").exists()  # nothing half-written


def test_import_broken_project_file_is_untouched(tmp_path, monkeypatch):
    (tmp_path / "wantui.toml").write_text("[project\nname=")
    before = (tmp_path / "wantui.toml").read_bytes()
    monkeypatch.chdir(tmp_path)
    assert main(["import", "--", "python", "wan_train_network.py", "--sdpa"]) == 2
    assert (tmp_path / "wantui.toml").read_bytes() == before


def test_dry_run_prints_without_writing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["import", "--dry-run", "--", "python", "wan_train_network.py", "--sdpa"]) == 0
    assert "[steps.train]" in capsys.readouterr().out
    assert not (tmp_path / "wantui.toml").exists()


def test_import_a_whole_script(tmp_path, monkeypatch):
    m = checkout(tmp_path)
    script = (
        "#!/bin/bash\n# my three steps\nexport HF_HOME=/cache/hf\ncd " + str(m) + "\n"
        "python wan_cache_latents.py --dataset_config ../d.toml --vae v.safetensors \\\n  --batch_size 1\n"
        "python wan_cache_text_encoder_outputs.py --dataset_config ../d.toml --t5 t5.pth\n"
        "accelerate launch --mixed_precision bf16 wan_train_network.py --dataset_config ../d.toml --sdpa\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["import", "--", script]) == 0
    p = load_project(tmp_path)
    assert list(p.steps) == ["latents", "te", "train"]
    assert p.dataset_config == "d.toml" and p.musubi_dir == "musubi"
    assert p.steps["latents"].args == ["--vae", "v.safetensors", "--batch_size", "1"]
    assert p.steps["train"].launch_args == ["--mixed_precision", "bf16"]
    assert p.steps["te"].env == {"HF_HOME": "/cache/hf"}


# -- commands pasted from guides, terminals and Windows .bat files, through `wantui import`,
# `check`, `fix --apply all --yes`, `check` again and `--undo`, run as subprocesses the way
# a user runs them.


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


def errors(proc: subprocess.CompletedProcess[str]) -> set[tuple[str, str]]:
    data = json.loads(proc.stdout)
    return {(f["rule"], f["title"]) for f in data["findings"] if f["severity"] == "error"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    # one level down: the search for a nearby video folder (two levels up) must not reach
    # pytest's shared temporary folder, where other tests leave their clips
    root = tmp_path / "p"
    (root / "musubi" / "src" / "musubi_tuner").mkdir(parents=True)
    (root / "musubi" / "src" / "musubi_tuner" / "wan_train_network.py").write_text("")
    (root / "vids").mkdir()
    (root / "models").mkdir()
    (root / "models" / "low.safetensors").write_bytes(b"")
    (root / "dataset.toml").write_text(DATASET)
    return root


def test_pasted_guide_command_import_check_fix_check_undo(project: Path, wantui_cli) -> None:
    proc = wantui_cli("import", "--", PASTED, cwd=project)
    assert proc.returncode == 0, proc.stderr
    toml = (project / "wantui.toml").read_text()
    # the prompts are gone, the checkout is found, and paths relative to `cd musubi`
    # now mean the same files from the project folder, where wantui runs the step
    assert 'musubi_dir = "musubi"' in toml and 'dataset_config = "dataset.toml"' in toml
    assert '"models/low.safetensors"' in toml and '"out"' in toml
    assert "../" not in toml and "user@" not in toml
    original = {p: (project / p).read_bytes() for p in ("wantui.toml", "dataset.toml")}

    before = errors(wantui_cli("check", "--json", cwd=project))
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

    proc = wantui_cli("fix", "--apply", "all", "--yes", cwd=project)
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 1), proc.stderr
    after = errors(wantui_cli("check", "--json", cwd=project))
    assert not (wrong_advice & after), after
    assert after <= before  # nothing new
    assert "batch_size = 2" in (project / "dataset.toml").read_text()
    assert '"875"' in (project / "wantui.toml").read_text()

    for _ in range(10):
        if wantui_cli("fix", "--undo", cwd=project).returncode != 0:
            break
    for name, data in original.items():
        assert (project / name).read_bytes() == data, name


def test_windows_bat_with_carets_crlf_japanese_paths_and_activate(
    tmp_path: Path, wantui_cli
) -> None:
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
    proc = wantui_cli("import", "--", bat, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    toml = (tmp_path / "wantui.toml").read_text(encoding="utf-8")
    assert 'python = ".venv\\\\Scripts\\\\python.exe"' in toml
    assert "名前\\\\musubi tuner\\\\models" in toml  # spaces and Japanese kept in one token
    assert (
        'launch_args = ["--num_cpu_threads_per_process", "1", "--mixed_precision", "bf16"]' in toml
    )

    proc = wantui_cli("check", "--json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    found = json.loads(proc.stdout)["findings"]
    by_rule = {f["rule"]: f for f in found}
    # not a nonsense "/tmp/x/C:\Users\..." not-found path
    ds = by_rule["dataset-config-windows-path"]
    assert ds["severity"] == "error" and str(tmp_path) not in ds["message"]
    swap = next(f for f in found if "blocks_to_swap" in f["title"])
    assert any("39" in a for a in swap["advice"])  # what to write instead of the word

    listing = wantui_cli("fix", cwd=tmp_path)
    assert "Windows path this machine cannot open" in listing.stdout
    proc = wantui_cli("fix", "--apply", "all", "--yes", cwd=tmp_path)
    assert "Traceback" not in proc.stderr and "internal" not in proc.stderr
    after = {
        f["title"]
        for f in json.loads(wantui_cli("check", "--json", cwd=tmp_path).stdout)["findings"]
    }
    assert "`--timestep_boundary 0.875` is not accepted" not in after

    # the .bat comes back out as a .bat, quoted for cmd.exe
    out = wantui_cli("export", "--bat", "-", cwd=tmp_path)
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
def test_shell_prompt_pasted_with_the_command(tmp_path: Path, prompt: str, wantui_cli) -> None:
    proc = wantui_cli(
        "import",
        "--dry-run",
        "--",
        prompt + "python wan_train_network.py --dit x.safetensors",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert 'script = "wan_train_network.py"' in proc.stdout
    assert 'args = ["--dit", "x.safetensors"]' in proc.stdout


def test_prompt_token_after_double_dash_and_redirect_kept_apart(tmp_path: Path, wantui_cli) -> None:
    proc = wantui_cli(
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
    proc = wantui_cli(
        "import",
        "--dry-run",
        "--",
        "C:\\venv\\Scripts\\python.exe wan_train_network.py --dit x > C:\\log.txt",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert 'python = "C:\\\\venv\\\\Scripts\\\\python.exe"' in proc.stdout
    assert 'args = ["--dit", "x"]' in proc.stdout


def test_python_dash_m_without_module_is_a_usage_error(tmp_path: Path, wantui_cli) -> None:
    proc = wantui_cli("import", "--", "python -m", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "wantui: `python -m` without a module name in the command line"


def test_script_variables_and_tilde_are_expanded_like_the_shell(tmp_path: Path, wantui_cli) -> None:
    """wantui runs steps without a shell: `$MODELS/x` kept literally reached musubi-tuner
    as a path that does not exist, while `wantui check` (which expands ~) said it was fine."""
    env = {"HOME": str(tmp_path / "home"), "WANTUI_QA_ROOT": "/data"}
    script = (
        "MODELS=$WANTUI_QA_ROOT/models\n"
        "export OUT=/data/out\n"
        'python wan_train_network.py --dit $MODELS/wan.safetensors --output_dir "${OUT}/lora" \\\n'
        "  --vae ~/v.pth --logging_dir=~/logs --network_weights $NOT_SET_ANYWHERE/w.safetensors\n"
    )
    proc = wantui_cli("import", "--", script, cwd=tmp_path, env=env)
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


def test_bat_set_variables_are_expanded_case_insensitively(tmp_path: Path, wantui_cli) -> None:
    bat = (
        '@echo off\r\nset MODELS=C:\\models\r\nset "OUT=C:\\out dir"\r\n'
        'python wan_train_network.py --dit %MODELS%\\wan.safetensors --output_dir "%out%\\lora"\r\n'
    )
    proc = wantui_cli("import", "--dry-run", "--", bat, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert '"C:\\\\models\\\\wan.safetensors"' in proc.stdout
    assert '"C:\\\\out dir\\\\lora"' in proc.stdout


def test_project_option_given_a_dataset_toml(project: Path, wantui_cli) -> None:
    """`--project dataset.toml` read the dataset TOML as a project file with no steps and
    reported a wantui.toml that does not exist."""
    for cmd in (
        ["check"],
        ["fix"],
        ["export", "--sh", "-"],
        ["import", "--", "python wan_train_network.py --sdpa"],
    ):
        args = [cmd[0], "--project", "dataset.toml", *cmd[1:]]
        proc = wantui_cli(*args, cwd=project)
        assert proc.returncode == 2, (cmd, proc.stdout, proc.stderr)
        assert proc.stderr.strip().splitlines() == [
            "wantui: dataset.toml: --project takes the project folder (or its wantui.toml);"
            " for a dataset TOML use --dataset-config"
        ]
    assert not (project / "wantui.toml").exists()


SMART = "python wan_train_network.py \u2013-dit x.safetensors \u2014sdpa --output_name \u201cmy lora\u201d --optimizer_type \u2018adamw8bit\u2019 --y Bob\u2019s"


@pytest.mark.parametrize("as_list", [False, True], ids=["one-string", "shell-split"])
def test_smart_punctuation_from_a_blog_is_read_as_meant(
    tmp_path: Path, as_list: bool, wantui_cli
) -> None:
    """En/em dashes for `--`, curly quotes and a Japanese IME space: bash passes them as
    typed, so musubi-tuner would stop; check says so, import stores the ASCII."""
    text = SMART.replace(" --y", "\u3000--y")
    args = text.split(" ") if as_list else [text]
    proc = wantui_cli("import", "--", *args, cwd=tmp_path)
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
    proc = wantui_cli("check", "--json", "--", *args, cwd=tmp_path)
    found = {f["rule"]: f for f in json.loads(proc.stdout)["findings"]}
    assert found["command-typography"]["severity"] == "error"
    assert "`\u2013-`" in found["command-typography"]["message"]
    assert "stray-argument" not in found and "unknown-option" not in found


def test_import_waits_for_the_fix_lock(project: Path, wantui_cli) -> None:
    """`wantui import` and `wantui fix --apply` both rewrite wantui.toml: import takes
    the same lock, so neither overwrites the other's edit."""
    import fcntl

    (project / ".wantui").mkdir()
    fd = os.open(project / ".wantui" / "fix.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        proc = wantui_cli(
            "import",
            "--",
            "python wan_cache_latents.py --vae v.safetensors",
            cwd=project,
            env={"WANTUI_FIX_LOCK_TIMEOUT": "0.3"},
        )
    finally:
        os.close(fd)
    assert proc.returncode == 1 and "another `wantui fix`" in proc.stderr, proc.stderr
    assert not (project / "wantui.toml").exists()
    assert (
        wantui_cli("import", "--", "python wan_cache_latents.py --vae v", cwd=project).returncode
        == 0
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
def test_torchrun_is_named_not_no_script_found(
    tmp_path: Path, cmd: str, name: str, wantui_cli
) -> None:
    """A torchrun command has a .py script in it; "no python, accelerate or .py script
    found" (or "cannot tell which step run.py is") sent users looking in the wrong place."""
    for sub in (["import", "--dry-run"], ["check"]):
        proc = wantui_cli(*sub, "--", cmd, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert f"`{name}` launches are not supported" in proc.stderr
        assert "accelerate launch --multi_gpu" in proc.stderr


def test_bat_with_cd_d_to_a_windows_folder_imported_on_linux(tmp_path: Path, wantui_cli) -> None:
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
    proc = wantui_cli("import", "--", bat, cwd=tmp_path)
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
    out = wantui_cli("export", "--bat", "-", cwd=tmp_path).stdout
    assert f'"{base}\\src\\musubi_tuner\\wan_train_network.py"' in out
    assert str(tmp_path) + "/C:" not in out and "tuner/" not in out
