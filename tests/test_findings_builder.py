"""The shared finding builder of the checks (wantui.core.findings) and its thin wrappers."""

from __future__ import annotations

from pathlib import Path

import pytest

from wantui.core.args.state import StepFindings
from wantui.core.finding import Location, Severity
from wantui.core.findings import FindingList, make_finding
from wantui.core.fixactions import FixAction
from wantui.core.modelchecks.refs import model_at


def test_make_finding_defaults_and_none_mean_empty():
    f = make_finding("r", "c", Severity.WARNING, "t", "m", origin="check")
    assert (f.rule, f.catalog, f.severity, f.title, f.message) == (
        "r",
        "c",
        Severity.WARNING,
        "t",
        "m",
    )
    assert f.origin == "check"
    assert f.steps == ("any",) and f.priority == 60
    assert f.fixes == [] and f.advice == [] and f.captures == {} and f.location is None
    assert f.evidence == [] and f.consequence_of is None
    g = make_finding("r", "c", Severity.INFO, "t", "m", origin="probe", fixes=None, advice=None)
    assert g.fixes == [] and g.advice == []


def test_make_finding_copies_its_inputs():
    fixes = [FixAction("flag_add", {"step": "train", "flag": "--sdpa"}, label="Add --sdpa")]
    captures = {"flag": "--sdpa"}
    f = make_finding(
        "r", "c", Severity.ERROR, "t", "m", origin="check", fixes=fixes, captures=captures
    )
    fixes.clear()
    captures["flag"] = "changed"
    assert len(f.fixes) == 1 and f.captures == {"flag": "--sdpa"}


def test_origin_is_required():
    with pytest.raises(TypeError):
        make_finding("r", "c", Severity.ERROR, "t", "m")  # type: ignore[call-arg]


def test_finding_list_keeps_order_and_returns_each():
    out = FindingList()
    a = out.emit("sampling-clip-missing", origin="check", priority=90)
    b = out.emit("one-frame-without-clip", origin="check", steps=("train",))
    assert out.findings == [a, b]
    assert a.priority == 90 and b.steps == ("train",)
    assert not hasattr(out, "add")  # a finding of an undeclared id cannot be collected


def test_step_findings_capture_the_step_and_map_launch_to_train():
    loc = Location("wantui.toml", 3, 1)
    out = StepFindings("latents", loc)
    out.emit("one-frame-without-clip", captures={"flag": "--vae"})
    out.emit("sampling-clip-missing", step="launch", priority=5)
    first, second = out.findings
    assert first.captures == {"step": "latents", "flag": "--vae"}
    assert first.steps == ("latents",) and first.location == loc and first.origin == "check"
    assert second.captures == {"step": "launch"} and second.steps == ("train",)
    assert second.priority == 5


def test_model_findings_are_located_at_the_file_their_flag_names(tmp_path: Path):
    from wantui.core.modelchecks.refs import ModelRef
    from wantui.core.models import inspect_file

    assert model_at(None) == {"origin": "model"}
    path = tmp_path / "vae.pth"
    ref = ModelRef("latents", "--vae", "vae", "vae.pth", path, inspect_file(path))
    at = model_at(ref)
    assert at["origin"] == "model" and at["location"].path == str(path)
    assert at["captures"] == {
        "path": str(path),
        "flag": "--vae",
        "step": "latents",
        "kind": "unknown",
    }


def test_dataset_checker_add_locates_and_marks_check(tmp_path: Path):
    from wantui.core.dataset import check_dataset_config

    cfg = tmp_path / "d.toml"
    cfg.write_text('[general]\nresolution = [960, 544]\n\n[[datasets]]\nvideo_directory = "v"\n')
    found = check_dataset_config(cfg, tmp_path)
    assert found, "a missing video_directory must be reported"
    assert all(f.origin == "check" for f in found)
    assert all(f.location is not None and f.location.path == str(cfg) for f in found)
