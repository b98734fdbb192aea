"""``wantui import``: a pasted command becomes a project step; comments survive; atomic."""

from __future__ import annotations

import os
from pathlib import Path

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
