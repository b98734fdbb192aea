"""The Wan2.2 task a fix suggests follows what the DiT file is, not the (wrong) task given."""

from __future__ import annotations

import modelfactory as mf
from test_check_catalog_rows import TRAIN, build, without

from wantui.core.args import check_project


def _task_fix(findings: list, rule: str) -> str:
    f = next(f for f in findings if f.rule == rule)
    return next(a.params["value"] for a in f.fixes if a.params.get("flag") == "--task")


def test_wan22_i2v_pair_under_default_task_gets_i2v_a14b(tmp_path):
    mf.write_safetensors(tmp_path / "high.safetensors", mf.dit_tensors("14B", family="i2v-A14B"))
    train = without(TRAIN, "--task") + ["--dit_high_noise", "high.safetensors"]
    project = build(tmp_path, train=train, dit={"family": "i2v-A14B"})
    found = check_project(project)
    assert _task_fix(found, "timestep-boundary-missing") == "i2v-A14B"


def test_wan22_t2v_pair_under_default_task_gets_t2v_a14b(tmp_path):
    mf.write_safetensors(tmp_path / "high.safetensors", mf.dit_tensors("1.3B"))
    train = without(TRAIN, "--task") + ["--dit_high_noise", "high.safetensors"]
    found = check_project(build(tmp_path, train=train))
    assert _task_fix(found, "timestep-boundary-missing") == "t2v-A14B"
