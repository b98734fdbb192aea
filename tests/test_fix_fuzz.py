"""Hypothesis fuzz of the fix engine: random TOML documents, tables, keys and values, random
argv and flag edits. Nothing crashes; a refused or failed fix writes nothing; an applied
fix leaves valid TOML and undoes byte for byte."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wantui.core.fixactions import FixAction
from wantui.core.fixes import Journal, apply_plan, plan_fix, undo_last
from wantui.core.project import load_project

EXAMPLES = int(os.environ.get("WANTUI_FUZZ_EXAMPLES", "120"))
# tmpfs when there is one: thousands of fsyncs on a shared disk would dominate the run
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

bare = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,12}", fullmatch=True)
keys = st.one_of(
    bare,
    st.sampled_from(["num_frames", "target_frames", "batch_size", "cache_directory"]),
    st.text(max_size=8),
)
scalars = st.one_of(
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(max_size=20),
)
values = st.one_of(
    scalars,
    st.lists(st.integers(0, 200), max_size=4),
    st.none(),
    st.sampled_from(["[17]", "30.0", '"head"', "[1, 2", "'x'", "{a = 1}"]),
)
tables = st.one_of(
    st.sampled_from(["", "general", "datasets[0]", "datasets[1]", "datasets[9]"]),
    st.text(max_size=10),
)


@st.composite
def doc_and_action(draw) -> tuple[str, FixAction | None]:
    """A commented dataset-like TOML (or, sometimes, arbitrary text) and a TOML action
    that mostly names tables and keys the document really has."""
    layout: dict[str, dict] = {"": {}, "general": {}}
    doc = tomlkit.document()
    doc.add(tomlkit.comment(draw(st.text(alphabet="abc xyz#", max_size=20))))
    for k, v in draw(st.dictionaries(bare, scalars, max_size=3)).items():
        doc[k] = v
        layout[""][k] = v
    general = tomlkit.table()
    for k, v in draw(st.dictionaries(bare, scalars, min_size=1, max_size=5)).items():
        item = tomlkit.item(v)
        if draw(st.booleans()):
            item.comment("note")
        general.add(k, item)
        layout["general"][k] = v
    doc["general"] = general
    aot = tomlkit.aot()
    for i in range(draw(st.integers(0, 3))):  # noqa: B007
        t = tomlkit.table()
        layout[f"datasets[{i}]"] = {}
        for k, v in draw(st.dictionaries(bare, scalars, min_size=1, max_size=4)).items():
            t[k] = v
            layout[f"datasets[{i}]"][k] = v
        aot.append(t)
    if len(aot):
        doc["datasets"] = aot
    text = tomlkit.dumps(doc) if draw(st.integers(0, 9)) else draw(st.text(max_size=200))

    known_tables = st.sampled_from(sorted(layout))
    table = draw(st.one_of(known_tables, known_tables, known_tables, known_tables, tables))
    existing = sorted(layout.get(table, {}))
    key = draw(
        st.one_of(st.sampled_from(existing), st.sampled_from(existing), keys) if existing else keys
    )
    kind = draw(
        st.sampled_from(["toml_remove_key", "toml_rename_key", "toml_move_key", "toml_set_key"])
    )
    params = {"file": "dataset_config", "table": table, "key": key}
    if kind == "toml_rename_key":
        params["new_key"] = draw(keys)
    elif kind == "toml_move_key":
        params["to_table"] = draw(st.one_of(known_tables, tables))
    elif kind == "toml_set_key":
        params["value"] = draw(values)
    try:
        return text, FixAction(kind, params)
    except ValueError:
        return text, None


def _project(tmp: Path, dataset_text: str) -> Path:
    (tmp / "wantui.toml").write_text(
        '# p\n[project]\nname = "f"\ndataset_config = "dataset.toml"\n\n'
        '[steps.train]\nscript = "wan_train_network.py"\nlauncher = "accelerate"\n'
        'launch_args = ["--mixed_precision", "bf16"]\nargs = ["--task", "t2v-14B", "--network_args", "a=1", "b=2", "--seed", "-1"]\n'
    )
    (tmp / "dataset.toml").write_bytes(dataset_text.encode("utf-8", "surrogatepass"))
    return tmp


def _check_plan_apply_undo(root: Path, action: FixAction, target: Path) -> None:
    before = {p.name: p.read_bytes() for p in (root / "wantui.toml", root / "dataset.toml")}
    plan = plan_fix(action, load_project(root))  # must never raise
    plan.preview()
    if plan.refused is not None:
        assert plan.change is None
        assert {
            p.name: p.read_bytes() for p in (root / "wantui.toml", root / "dataset.toml")
        } == before
        return
    journal = Journal(root)
    apply_plan(plan, journal)
    after = target.read_bytes()
    assert after == plan.change.after
    tomlkit.parse(after.decode())  # still valid TOML
    undo_last(journal)
    assert target.read_bytes() == before[target.name]


@SETTINGS
@given(case=doc_and_action())
def test_fuzz_toml_actions(case):
    doc, action = case
    if action is None:
        return
    try:
        doc.encode("utf-8")
    except UnicodeEncodeError:
        return  # not representable as a file the user could have
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        root = _project(Path(tmp), doc)
        _check_plan_apply_undo(root, action, root / "dataset.toml")


flags = st.one_of(
    st.sampled_from(
        ["--sdpa", "--task", "--seed", "--network_args", "--mixed_precision", "--nope"]
    ),
    st.text(max_size=8),
)
flag_values = st.one_of(
    st.none(),
    st.text(max_size=10),
    st.integers(-5, 5),
    st.lists(st.text(max_size=5), max_size=3),
    st.booleans(),
)


@st.composite
def flag_actions(draw) -> FixAction | None:
    kind = draw(st.sampled_from(["flag_add", "flag_remove", "flag_set", "flag_replace", "env_set"]))
    step = draw(st.sampled_from(["train", "launch", "latents", "all"]))
    if kind == "env_set":
        params = {
            "step": step,
            "name": draw(st.one_of(bare, st.text(max_size=6))),
            "value": draw(flag_values),
        }
    else:
        params = {"step": step, "flag": draw(flags)}
        if kind in ("flag_add", "flag_set", "flag_replace"):
            v = draw(flag_values)
            if v is not None or kind == "flag_set":
                params["value"] = v
        if kind == "flag_replace":
            params["new_flag"] = draw(flags)
    try:
        return FixAction(kind, params)
    except ValueError:
        return None


@SETTINGS
@given(action=flag_actions())
def test_fuzz_flag_actions(action):
    if action is None:
        return
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        root = _project(Path(tmp), "[general]\nx = 1\n")
        _check_plan_apply_undo(root, action, root / "wantui.toml")
        if action.action != "env_set":
            return
