"""The command model (wantui.core.args.options): argv read once, with argparse semantics,
by every part of wantui (checks, model checks, probe, planner, import, fixes)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import modelfactory as mf
import pytest

from wantui.core.args.catalog import accelerate_options
from wantui.core.args.options import (
    launch_view,
    map_values,
    project_view,
    read_args,
    step_options,
    step_view,
    without,
)
from wantui.core.fixes import flags as flagops
from wantui.core.modelchecks.refs import project_models
from wantui.core.preflight import model_findings
from wantui.core.project import Project, Step
from wantui.core.supervisor.plan import accelerate_launch_args, requested_processes


def test_abbreviation_inline_flags_nargs_and_repeats() -> None:
    v = step_view(
        "train",
        [
            "--mixed_prec", "bf16", "--task=t2v-A14B", "--sdpa", "--network_args", "a=1", "b=2",
            "--learning_rate", "-1e-4", "--seed", "1", "--seed", "2",
        ],
    )  # fmt: skip
    assert v.get("--mixed_precision") == "bf16" and v.flag("--mixed_precision") == "--mixed_prec"
    assert v.get("--task") == "t2v-A14B" and v.has("--sdpa") and v.get_all("--sdpa") == []
    assert v.get_all("--network_args") == ["a=1", "b=2"]
    assert v.get("--learning_rate") == "-1e-4"  # a negative number is a value
    assert v.get("--seed") == "2" and v.counts["--seed"] == 2  # the last one wins
    occ = v.find("--mixed_precision")[0]
    assert occ.abbreviated and (occ.start, occ.end) == (0, 2)


def test_ambiguous_and_unknown_options() -> None:
    v = step_view("train", ["--fp8", "--nonsense", "x"])
    assert v.occurrences[0].spec is None and "--fp8_base" in v.occurrences[0].ambiguous
    assert v.occurrences[1].values == ("x",) and not v.has("--nonsense")


def test_launch_view_resolves_accelerate_prefixes() -> None:
    v = launch_view(["--num_proc", "2", "--mixed_precision=bf16"])
    assert v.int("--num_processes") == 2 and v.get("--mixed_precision") == "bf16"


def test_without_and_map_values_follow_the_model() -> None:
    args = ["--dataset_conf", "d.toml", "--vae=v.safetensors", "--sdpa"]
    v = step_view("latents", args)
    assert without(args, v, "--dataset_config") == ["--vae=v.safetensors", "--sdpa"]
    assert map_values(args, v, ["--vae"], str.upper)[2] == "--vae=V.SAFETENSORS"


def test_config_file_values_join_the_training_view(tmp_path: Path) -> None:
    (tmp_path / "cfg.toml").write_text('[model]\ntask = "i2v-A14B"\nfp8_base = true\n')
    p = Project(root=tmp_path, steps={"train": Step("train", "wan_train_network.py",
                                                    ["--config_file", "cfg", "--sdpa"])})  # fmt: skip
    v = project_view(p, "train")
    assert v.get("--task") == "i2v-A14B" and v.has("--fp8_base") and v.has("--sdpa")


def test_fix_changes_an_abbreviated_option_instead_of_adding_a_second() -> None:
    opts = step_options("train")
    out = flagops.set_flag(["--mixed_prec", "fp16", "--sdpa"], "--mixed_precision", "bf16", opts)
    assert out == ["--mixed_precision", "bf16", "--sdpa"]
    assert flagops.remove_flag(["--fp8_b", "--sdpa"], "--fp8_base", opts) == ["--sdpa"]
    # accelerate's table for launch flags
    acc = accelerate_options()
    assert flagops.current_values(["--num_proc", "4"], "--num_processes", acc) == ["4"]


def test_planner_reads_abbreviations(tmp_path: Path) -> None:
    step = Step("train", "wan_train_network.py", ["--mixed_prec", "bf16"], "accelerate",
                ["--num_proc", "2", "--multi_gpu"])  # fmt: skip
    assert requested_processes(step) == 2
    args, _ = accelerate_launch_args(step, platform="linux")
    v = launch_view(args)
    assert v.get("--mixed_precision") == "bf16" and v.int("--num_processes") == 2
    assert v.counts["--num_processes"] == 1 and v.counts["--multi_gpu"] == 1
    single = dataclasses.replace(step, launch_args=["--num_proc", "1"])
    assert launch_view(accelerate_launch_args(single, platform="linux")[0]).counts == {
        "--num_processes": 1, "--num_machines": 1, "--mixed_precision": 1, "--dynamo_backend": 1,
    }  # fmt: skip


def test_mixed_prec_abbreviation_on_bf16_weights_is_clean(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    mf.write_safetensors(tmp_path / "models/dit.safetensors", mf.dit_tensors("14B", "t2v"))
    p = Project(root=tmp_path, steps={"train": Step("train", "wan_train_network.py", [
        "--task", "t2v-14B", "--dit", "models/dit.safetensors", "--mixed_prec", "bf16"])})  # fmt: skip
    assert project_models(p)[0].info.dtype == "bf16"
    assert "precision-mismatch" not in {f.rule for f in model_findings(p)}


def test_read_args_with_no_table_keeps_every_option_as_written() -> None:
    v = read_args(["--x", "1", "--y=2"], {})
    assert [(o.written, o.values) for o in v.occurrences] == [("--x", ("1",)), ("--y", ("2",))]


def test_fix_all_on_an_abbreviated_precision_leaves_one_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--mixed_prec fp16` on bf16 weights: the fix sets that option, it does not append a
    second --mixed_precision (what doctor's fix did before the command model)."""
    from wantui.cli.main import main
    from wantui.core.project import load_project

    (tmp_path / "models").mkdir()
    mf.write_safetensors(tmp_path / "models/dit.safetensors", mf.dit_tensors("14B", "t2v"))
    (tmp_path / "wantui.toml").write_text(
        '[steps.train]\nscript = "wan_train_network.py"\nargs = ["--task", "t2v-14B", "--dit",'
        ' "models/dit.safetensors", "--mixed_prec", "fp16", "--sdpa"]\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["fix", "--apply", "all", "--yes"]) in (0, 1)
    capsys.readouterr()
    args = load_project(tmp_path).steps["train"].args
    view = step_view("train", args)
    assert view.get("--mixed_precision") == "bf16" and view.counts["--mixed_precision"] == 1, args
