"""Adversarial tests of rules and environment fixes from an untrusted folder (issue 10,
defect 4): a project's ``.wantui/rules`` loads only once the user trusts the folder (and
only as it was then), a rule that replaces a built-in one is said, ``env_set`` never
sets loader or interpreter variables (from a rule, a log capture or ``wantui.toml``), and
user rule regexes run on RE2, so a pattern that backtracks forever in ``re`` cannot hang
``diagnose``. Every wantui run is a subprocess with a timeout (no hang can stall the suite)
and its own ``XDG_CONFIG_HOME``."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.cli_helpers import cli_env, run_wantui
from wantui.core.errors import WantuiError
from wantui.core.logtext import Line
from wantui.core.matcher import diagnose_lines
from wantui.core.project import load_project
from wantui.core.rules import load_rules

PROJECT = """[project]
name = "p"

[steps.train]
script = "wan_train_network.py"
args = ["--task", "t2v-14B"]
"""
HEALTHY = "INFO:musubi_tuner.training.trainer_base:preparing accelerator\nepoch 1/10\n"
HIJACK = """id: cuda-oom
catalog: cuda-oom
title: "Out of GPU memory"
severity: error
steps: [train]
priority: 99
match:
  any: ['preparing accelerator']
message: "Set the allocator."
fixes:
  - action: env_set
    params: {step: train, name: LD_PRELOAD, value: "./libevil.so"}
    label: "Use the faster allocator"
"""
REDOS = """id: redos
catalog: cuda-oom
title: "slow"
severity: error
steps: [any]
priority: 50
match:
  any: ['ZqZ([5-9]|[5-9])*!']
message: "never"
"""


@pytest.fixture
def box(tmp_path: Path) -> dict[str, Path]:
    proj = tmp_path / "proj"
    (proj / ".wantui" / "rules").mkdir(parents=True)
    (proj / "wantui.toml").write_text(PROJECT)
    (proj / "healthy.log").write_text(HEALTHY)
    return {"proj": proj, "config": tmp_path / "config", "cache": tmp_path / "cache"}


def wantui(box: dict[str, Path], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = cli_env(XDG_CONFIG_HOME=str(box["config"]), XDG_CACHE_HOME=str(box["cache"]))
    env.pop("WANTUI_RULES_PATH", None)
    return run_wantui(*args, cwd=box["proj"], env=env, timeout=timeout, input="")


def test_untrusted_folder_rules_do_not_load(box: dict[str, Path]) -> None:
    """The issue's case: a file named like a built-in replaces cuda-oom, fires on a
    healthy line and offers LD_PRELOAD, which `fix --apply` wrote into wantui.toml."""
    (box["proj"] / ".wantui" / "rules" / "cuda-oom.yaml").write_text(HIJACK)
    before = (box["proj"] / "wantui.toml").read_bytes()
    r = wantui(box, "diagnose", "healthy.log")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Out of GPU memory" not in r.stdout
    assert "not loaded: this folder is not trusted" in r.stderr and "rules trust" in r.stderr
    r = wantui(box, "fix", "--log", "healthy.log", "--apply", "all", "--yes")
    assert "LD_PRELOAD" not in r.stdout
    assert (box["proj"] / "wantui.toml").read_bytes() == before


def test_trusted_rules_still_cannot_set_loader_variables(box: dict[str, Path]) -> None:
    rules = box["proj"] / ".wantui" / "rules"
    (rules / "cuda-oom.yaml").write_text(HIJACK)
    r = wantui(box, "rules", "trust")  # shows what it trusts, the broken rule too
    assert r.returncode == 0 and "will be skipped" in r.stdout and "LD_PRELOAD" in r.stdout
    r = wantui(box, "diagnose", "healthy.log")
    assert r.returncode == 0 and "Out of GPU memory" not in r.stdout
    assert "LD_PRELOAD makes programs load or run other code" in r.stderr
    assert "rule skipped" in r.stderr
    # the same rule without the fix loads, and replacing the built-in one is said
    (rules / "cuda-oom.yaml").write_text(HIJACK.split("fixes:")[0])
    r = wantui(box, "diagnose", "healthy.log")
    assert "changed since you trusted them" in r.stderr and "Out of GPU memory" not in r.stdout
    assert wantui(box, "rules", "trust").returncode == 0
    r = wantui(box, "diagnose", "healthy.log")
    assert r.returncode == 1 and "Out of GPU memory" in r.stdout
    assert "rule 'cuda-oom' from" in r.stderr and "replaces the built-in rule" in r.stderr
    assert wantui(box, "rules", "untrust").returncode == 0
    r = wantui(box, "diagnose", "healthy.log")
    assert r.returncode == 0 and "not trusted" in r.stderr


@pytest.mark.parametrize("where", ["project", "config"])
def test_a_backtracking_user_regex_cannot_hang_diagnose(box: dict[str, Path], where: str) -> None:
    """``ZqZ([5-9]|[5-9])*!`` passes the backtracking check and takes 2^n steps in
    ``re`` on ``ZqZ`` + n digits (n = 40: hours). On RE2 it is linear."""
    if where == "project":
        (box["proj"] / ".wantui" / "rules" / "redos.yaml").write_text(REDOS)
        assert wantui(box, "rules", "trust").returncode == 0
    else:  # the user's own folder: trusted, still on RE2
        (box["config"] / "wantui" / "rules").mkdir(parents=True)
        (box["config"] / "wantui" / "rules" / "redos.yaml").write_text(REDOS)
    log = box["proj"] / "slow.log"
    log.write_text("ZqZ" + "5" * 40 + "\n" + "ZqZ" + "7" * 4000 + "?\n")
    start = time.monotonic()
    r = wantui(box, "diagnose", "slow.log", timeout=60)
    took = time.monotonic() - start
    assert r.returncode == 0, r.stdout + r.stderr
    assert "rule skipped" not in r.stderr  # it loaded, and it ran
    assert took < 30, took


def test_user_regex_re2_cannot_run_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "redos.yaml").write_text(REDOS.replace("ZqZ([5-9]|[5-9])*!", r"(\w+)\1"))
    with pytest.raises(WantuiError, match="RE2"):
        load_rules([folder], include_user=False)


@pytest.mark.parametrize(
    "name",
    ["LD_PRELOAD", "LD_LIBRARY_PATH", "DYLD_INSERT_LIBRARIES", "PYTHONPATH", "PYTHONSTARTUP",
     "BASH_ENV", "PATH", "ld_preload", "GLIBC_TUNABLES", "NODE_OPTIONS"],
)  # fmt: skip
def test_wantui_toml_with_a_loader_variable_does_not_load(box: dict[str, Path], name: str) -> None:
    toml = box["proj"] / "wantui.toml"
    toml.write_text(PROJECT + f'env = {{ {name} = "/tmp/evil" }}\n')
    r = wantui(box, "check")
    assert r.returncode == 2, r.stdout + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert "steps.train.env" in r.stderr and name in r.stderr


def test_harmless_variables_still_load(box: dict[str, Path]) -> None:
    toml = box["proj"] / "wantui.toml"
    toml.write_text(
        PROJECT + 'env = { PYTORCH_CUDA_ALLOC_CONF = "expandable_segments:True",'
        ' PYTHONUNBUFFERED = "1", CUDA_VISIBLE_DEVICES = "0" }\n'
    )
    assert set(load_project(box["proj"]).steps["train"].env) == {
        "PYTORCH_CUDA_ALLOC_CONF",
        "PYTHONUNBUFFERED",
        "CUDA_VISIBLE_DEVICES",
    }


def test_env_name_captured_from_the_log_is_dropped(tmp_path: Path) -> None:
    """A rule whose env_set name is a capture: the log cannot name LD_PRELOAD either."""
    folder = tmp_path / "rules"
    folder.mkdir()
    rule = HIJACK.replace("'preparing accelerator'", "'please set (?P<var>\\w+)'").replace(
        "name: LD_PRELOAD", 'name: "{var}"'
    )
    (folder / "cuda-oom.yaml").write_text(rule)
    rules = load_rules([folder], include_user=False)
    found = diagnose_lines(iter([Line(1, "please set LD_PRELOAD")]), rules)
    assert found and found[0].rule == "cuda-oom"
    assert found[0].fixes == []
    found = diagnose_lines(iter([Line(1, "please set OMP_NUM_THREADS")]), rules)
    assert [f.params["name"] for f in found[0].fixes] == ["OMP_NUM_THREADS"]


def test_import_leaves_loader_variables_out(tmp_path: Path) -> None:
    box = {"proj": tmp_path, "config": tmp_path / "cfg", "cache": tmp_path / "cache"}
    r = wantui(
        box, "import", "--", "LD_PRELOAD=/tmp/x.so", "OMP_NUM_THREADS=4", "python",
        "wan_train_network.py", "--task", "t2v-14B",
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "LD_PRELOAD was not imported" in r.stdout + r.stderr
    assert load_project(tmp_path).steps["train"].env == {"OMP_NUM_THREADS": "4"}
