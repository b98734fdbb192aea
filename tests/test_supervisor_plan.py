"""Launch policy, without spawning: accelerate flags, multi-GPU, Windows, step choice, caches."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from fakes.fakeproject import make_project  # noqa: E402

from wantui.core.errors import WantuiError
from wantui.core.supervisor.caches import caches_present
from wantui.core.supervisor.plan import WINDOWS_NOTE, plan_run, plan_step


def _launch_part(argv: list[str]) -> list[str]:
    """The accelerate launch args: between the module name and the script."""
    i = argv.index("accelerate.commands.launch") + 1
    j = next(k for k, a in enumerate(argv) if a.endswith("wan_train_network.py"))
    return argv[i:j]


def _val(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args else None


def test_every_step_gets_unbuffered_output(tmp_path: Path) -> None:
    proj = make_project(tmp_path)
    for plan in plan_run(proj):
        assert plan.env["PYTHONUNBUFFERED"] == "1"
        assert plan.env["FAKE_MODE"] == "ok"  # the step's own env is kept
        assert plan.cwd == proj.root


def test_accelerate_gets_explicit_flags_single_process(tmp_path: Path) -> None:
    proj = make_project(tmp_path, train_launcher="accelerate")
    launch = _launch_part(plan_step(proj, "train", platform="linux").argv)
    assert _val(launch, "--num_processes") == "1"
    assert _val(launch, "--num_machines") == "1"
    # taken from the script's own --mixed_precision, which musubi checks against the DiT
    assert _val(launch, "--mixed_precision") == "bf16"
    assert _val(launch, "--dynamo_backend") == "no"
    assert "--multi_gpu" not in launch


def test_user_launch_args_are_kept(tmp_path: Path) -> None:
    proj = make_project(tmp_path, train_launcher="accelerate")
    proj.steps["train"].launch_args = [
        "--num_cpu_threads_per_process",
        "1",
        "--mixed_precision=fp16",
        "--num_machines",
        "1",
    ]
    launch = _launch_part(plan_step(proj, "train", platform="linux").argv)
    assert launch.count("--num_machines") == 1
    assert "--mixed_precision=fp16" in launch and "--mixed_precision" not in launch
    # the user's own args come last, in their order
    assert launch[-5:] == [
        "--num_cpu_threads_per_process",
        "1",
        "--mixed_precision=fp16",
        "--num_machines",
        "1",
    ]


def test_data_parallel_on_linux(tmp_path: Path) -> None:
    proj = make_project(tmp_path, train_launcher="accelerate")
    plan = plan_step(proj, "train", num_processes=4, platform="linux")
    launch = _launch_part(plan.argv)
    assert launch[0] == "--multi_gpu"
    assert _val(launch, "--num_processes") == "4"
    assert "USE_LIBUV" not in plan.env
    # asking through the project's launch args works too
    proj.steps["train"].launch_args = ["--num_processes", "2"]
    launch = _launch_part(plan_step(proj, "train", platform="linux").argv)
    assert (
        "--multi_gpu" in launch
        and launch.count("--num_processes") == 1
        and _val(launch, "--num_processes") == "2"
    )


def test_windows_keeps_one_process_and_says_why(tmp_path: Path) -> None:
    proj = make_project(tmp_path, train_launcher="accelerate")
    proj.steps["train"].launch_args = ["--multi_gpu", "--num_processes", "2"]
    plan = plan_step(proj, "train", platform="win32")
    launch = _launch_part(plan.argv)
    assert "--multi_gpu" not in launch and _val(launch, "--num_processes") == "1"
    assert plan.env["USE_LIBUV"] == "0"
    assert plan.notes == [WINDOWS_NOTE] and "libuv" in WINDOWS_NOTE and "WSL2" in WINDOWS_NOTE


def test_caching_steps_stay_single_process(tmp_path: Path) -> None:
    proj = make_project(tmp_path)
    proj.steps["latents"].launcher = "accelerate"
    proj.steps["latents"].launch_args = ["--multi_gpu", "--num_processes", "8"]
    argv = plan_step(proj, "latents", num_processes=8, platform="linux").argv
    assert "--multi_gpu" not in argv and argv[argv.index("--num_processes") + 1] == "1"


def test_config_file_is_respected(tmp_path: Path) -> None:
    proj = make_project(tmp_path, train_launcher="accelerate")
    proj.steps["train"].launch_args = ["--config_file", "acc.yaml"]
    plan = plan_step(proj, "train", platform="linux")
    assert _launch_part(plan.argv) == ["--config_file", "acc.yaml"] and plan.notes


def test_python_launcher_with_many_gpus_explains(tmp_path: Path) -> None:
    proj = make_project(tmp_path)
    plan = plan_step(proj, "train", num_processes=2, platform="linux")
    assert "accelerate" in plan.notes[0] and "--multi_gpu" not in plan.argv


def test_step_selection_errors(tmp_path: Path) -> None:
    proj = make_project(tmp_path, steps=("latents", "train"))
    assert [p.name for p in plan_run(proj, ["train", "latents"])] == [
        "latents",
        "train",
    ]  # pipeline order
    with pytest.raises(WantuiError, match="did you mean 'train'"):
        plan_run(proj, ["trian"])
    with pytest.raises(WantuiError, match=r"\[steps.te\] is missing"):
        plan_run(proj, ["te"])
    proj.steps["train"].launch_args = ["--num_processes", "many"]
    proj.steps["train"].launcher = "accelerate"
    with pytest.raises(WantuiError, match="not a number"):
        plan_run(proj, ["train"])


def test_skip_cached_needs_every_cache(tmp_path: Path) -> None:
    proj = make_project(tmp_path)
    cache = tmp_path / "cache" / "vid"
    assert caches_present(proj, "latents")[0] is False  # no folder
    cache.mkdir(parents=True)
    assert caches_present(proj, "latents")[0] is False  # empty
    (cache / "clip1_00000-013_0096x0064_wan.safetensors").write_bytes(b"x")
    (cache / "img_0096x0064_wan.safetensors").write_bytes(b"x")
    assert caches_present(proj, "latents")[0] is True
    assert caches_present(proj, "te")[0] is False
    (cache / "clip1_wan_te.safetensors").write_bytes(b"x")
    ok, why = caches_present(proj, "te")
    assert ok is False and "without a text-encoder cache" in why  # img has none yet
    (cache / "img_wan_te.safetensors").write_bytes(b"x")
    assert caches_present(proj, "te")[0] is True
    plans = plan_run(proj, skip_cached=True)
    assert [p.skip_reason is not None for p in plans] == [True, True, False]  # train never skipped
    (tmp_path / "dataset.toml").write_text("[[datasets]\nbroken")
    assert caches_present(proj, "latents") == (False, "no readable dataset config")


_FLAGS = st.sampled_from(
    [
        "--multi_gpu",
        "--num_processes",
        "--num_machines",
        "--mixed_precision",
        "--dynamo_backend",
        "--gpu_ids",
        "--num_cpu_threads_per_process",
    ]
)
_VALUES = st.sampled_from(["1", "2", "4", "bf16", "no", "0,1"])


@settings(max_examples=150, deadline=None)
@given(
    launch=st.lists(st.tuples(_FLAGS, _VALUES), max_size=6),
    n=st.one_of(st.none(), st.integers(1, 8)),
    platform=st.sampled_from(["linux", "win32", "darwin"]),
)
def test_launch_args_invariants(
    launch: list[tuple[str, str]], n: int | None, platform: str
) -> None:
    """Whatever the user wrote: one --num_processes, Windows single-process, the
    user's other flags kept in order, nothing accelerate warns about missing."""
    from wantui.core.project import Step
    from wantui.core.supervisor.plan import accelerate_launch_args

    args: list[str] = []
    for flag, value in launch:
        args += [flag] if flag == "--multi_gpu" else [flag, value]
    step = Step(name="train", script="t.py", launcher="accelerate", launch_args=args)
    try:
        out, notes = accelerate_launch_args(step, num_processes=n, platform=platform)
    except WantuiError:
        return  # a non-numeric --num_processes: reported, fine
    assert out.count("--num_processes") == 1
    procs = int(out[out.index("--num_processes") + 1])
    for flag in ("--num_machines", "--mixed_precision", "--dynamo_backend"):
        assert flag in out
    assert ("--multi_gpu" in out) == (procs > 1)
    if platform == "win32":
        assert procs == 1
    expected: list[str] = []
    skip = False
    for a in args:  # the user's args minus the two that wantui owns
        if skip:
            skip = False
        elif a == "--num_processes":
            skip = True
        elif a != "--multi_gpu":
            expected.append(a)
    assert out[len(out) - len(expected) :] == expected
