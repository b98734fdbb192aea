"""Every --json output carries ``version`` and is documented field by field in
docs/json.md: each command is run for real and its top-level fields (and every finding's
fields) are compared with the docs, both ways (nothing undocumented, nothing stale)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import modelfactory as mf
import pytest

from tests.fakes.fakeproject import make_project
from tests.hubserver import HubServer
from wantui import __version__
from wantui.cli.main import main
from wantui.cli.render import JSON_SCHEMA

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "json.md"
FIXTURE_LOG = ROOT / "fixtures" / "logs" / "wan22-no-attention-flag.log"
TRAIN = [
    "accelerate", "launch", "wan_train_network.py", "--task", "t2v-A14B",
    "--dit", "dit.safetensors", "--dataset_config", "ds.toml", "--mixed_precision", "bf16",
    "--sdpa", "--network_dim", "32", "--max_train_epochs", "1",
]  # fmt: skip


def documented() -> dict[str, set[str]]:
    """Section title (the backticked command, or "Finding") -> the fields its table lists."""
    out: dict[str, set[str]] = {}
    current: str | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^##+ (?:`wantui ([^`]+)`|(\w+))", line)
        if m:
            current = m.group(1) or m.group(2)
            out.setdefault(current, set())
            continue
        row = re.match(r"^\| `([^`]+)` \|", line)
        if row and current is not None:
            out[current].add(row.group(1))
    return out


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Run every --json command (some more than once, to see their optional fields)."""
    tmp = tmp_path_factory.mktemp("json")
    got: dict[str, list[dict[str, Any]]] = {}
    capsys = _Capture()

    def run(section: str, argv: list[str]) -> None:
        got.setdefault(section, []).append(capsys.json(argv))

    # diagnose: a rule's finding, and an unexplained failure (its traceback anatomy)
    run("diagnose --json", ["diagnose", "--json", "--no-user-rules", str(FIXTURE_LOG)])
    odd = tmp / "odd.log"
    odd.write_text(
        'Traceback (most recent call last):\n  File "/x/train.py", line 3, in main\n'
        "ZeroDivisionError: division by zero\n"
    )
    run(
        "diagnose --json", ["diagnose", "--json", "--no-user-rules", "--exit-status", "1", str(odd)]
    )

    # check, three doors; doctor without a probe; fix list / apply / undo; run; attach
    project = make_project(tmp / "p")
    root = str(project.root)
    run("check --json", ["check", "--json", "--project", root])
    run("check --json", ["check", "--json", "--dataset-config", str(project.root / "dataset.toml")])
    work = tmp / "cmd"
    work.mkdir()
    mf.write_safetensors(work / "dit.safetensors", mf.dit_tensors("14B", "t2v"))
    (work / "vids").mkdir()
    for i in range(3):
        (work / "vids" / f"c{i}.mp4").write_bytes(b"")
        (work / "vids" / f"c{i}.txt").write_text("a cat")
    (work / "ds.toml").write_text(
        '[general]\nresolution = [960, 544]\ncaption_extension = ".txt"\n'
        '[[datasets]]\nvideo_directory = "vids"\ntarget_frames = [17]\n'
    )
    with _cwd(work):
        run("check --json", ["check", "--json", "--", *TRAIN])
        run("plan --json", ["plan", "--json", "--gpu", "H100", "--ram", "200", "--", *TRAIN])
    run("doctor --json", ["doctor", "--json", "--no-probe", "--project", root])
    run("fix --json", ["fix", "--json", "--project", root])
    run("fix --apply --json", ["fix", "--json", "--project", root, "--apply", "1", "--yes"])
    run("fix --undo --json", ["fix", "--json", "--project", root, "--undo"])
    run("run --json", ["run", "--json", "--project", root])  # held by the preflight gate
    run("run --json", ["run", "--json", "--project", root, "--force"])
    run("attach --list --json", ["attach", "--list", "--json", "--project", root])
    run("attach --json", ["attach", "--json", "--project", root])

    # inspect, rules, download (catalog, and a real download from a local hub)
    mf.write_safetensors(tmp / "vae.safetensors", mf.vae_tensors())
    run("inspect --json", ["inspect", "--json", str(tmp / "vae.safetensors")])
    run("rules list --json", ["rules", "list", "--json", "--no-user-rules"])
    run("download --list --json", ["download", "--list", "--json"])
    server = HubServer(max_life=60).start()
    try:
        with _env(HF_ENDPOINT=server.endpoint, HF_HUB_DISABLE_XET="1", HF_HOME=str(tmp / "hf")):
            server.add("Wan-AI/Wan2.1-I2V-14B-720P", "models_t5_umt5-xxl-enc-bf16.pth", b"x" * 99)
            run("download --json", ["download", "t5", "--json", "--dest", str(tmp / "m")])
    finally:
        server.stop()
    return got


def test_every_json_output_carries_the_version(outputs: dict[str, list[dict[str, Any]]]) -> None:
    for section, objs in outputs.items():
        for obj in objs:
            assert next(iter(obj)) == "version", section  # first, where a reader looks
            assert obj["version"] == {"wantui": __version__, "schema": JSON_SCHEMA}, section


def test_docs_list_every_top_level_field_and_no_stale_one(
    outputs: dict[str, list[dict[str, Any]]],
) -> None:
    docs = documented()
    for section, objs in outputs.items():
        assert section in docs, f"docs/json.md has no section for `wantui {section}`"
        real = set().union(*(set(o) for o in objs))
        assert real - docs[section] == set(), f"{section}: undocumented {real - docs[section]}"
        assert docs[section] - real == set(), (
            f"{section}: documented, never output {docs[section] - real}"
        )
    commands = {s for s in docs if " " in s or s.endswith("--json")}
    assert commands <= set(outputs), (
        f"docs/json.md documents commands not tested: {commands - set(outputs)}"
    )


def test_docs_list_every_finding_field_and_no_stale_one(
    outputs: dict[str, list[dict[str, Any]]],
) -> None:
    # (``wantui fix --json`` gives a count of findings, not the findings)
    lists = [
        o["findings"] for v in outputs.values() for o in v if isinstance(o.get("findings"), list)
    ]
    findings = [f for found in lists for f in found]
    real = set().union(*(set(f) for f in findings))
    doc = documented()["Finding"]
    assert real - doc == set(), f"undocumented finding fields: {real - doc}"
    assert doc - real == set(), f"documented finding fields never output: {doc - real}"


def test_docs_list_every_findings_file_field_and_no_stale_one(tmp_path: Path) -> None:
    """findings.jsonl's three kinds of line (finding, link, end), written for real."""
    from wantui.core.supervisor.diagnoser import FINDINGS_FILE, RunDiagnoser

    log = tmp_path / "train.log"
    # a consequence printed before its cause: a link line as well as the end line
    log.write_bytes(
        b"ValueError: num_samples should be a positive integer value, but got num_samples=0\n"
        b"INFO:musubi_tuner.dataset.datasources:found 0 videos\n"
    )
    diag = RunDiagnoser(tmp_path)
    diag.step_started("train", log)
    diag.step_ended("train", 1)
    diag.close()
    lines = (tmp_path / FINDINGS_FILE).read_text(encoding="utf-8").splitlines()
    real = set().union(*(set(json.loads(x)) for x in lines))
    doc = documented()["Findings"]
    assert real - doc == set(), f"findings.jsonl: undocumented {real - doc}"
    assert doc - real == set(), f"findings.jsonl: documented, never written {doc - real}"


# -- helpers ------------------------------------------------------------------------------
class _Capture:
    """capsys for a module-scoped fixture: stdout of main() as JSON."""

    def json(self, argv: list[str]) -> dict[str, Any]:
        buf, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                raise AssertionError(f"{argv}: exit {exc.code}: {err.getvalue()}") from None
        text = buf.getvalue()
        assert code in (0, 1), f"{argv}: exit {code}: {err.getvalue()[-500:]}"
        try:
            return json.loads(text)
        except ValueError:
            raise AssertionError(f"{argv}: not one JSON object: {text[:500]!r}") from None


class _cwd:  # noqa: N801 - a context manager, named like one
    def __init__(self, path: Path) -> None:
        self.path, self.old = path, Path.cwd()

    def __enter__(self) -> None:
        os.chdir(self.path)

    def __exit__(self, *exc: object) -> None:
        os.chdir(self.old)


class _env:  # noqa: N801
    def __init__(self, **values: str) -> None:
        self.values = values
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        for k, v in self.values.items():
            self.saved[k] = os.environ.get(k)
            os.environ[k] = v

    def __exit__(self, *exc: object) -> None:
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_every_command_with_json_is_run_here(outputs: dict[str, list[dict[str, Any]]]) -> None:
    """A new --json command must be added above (and to docs/json.md)."""
    import argparse

    from wantui.cli.main import COMMANDS, build_parser

    def with_json(prefix: str, parser: argparse.ArgumentParser) -> list[str]:
        found = [prefix] if any("--json" in a.option_strings for a in parser._actions) else []  # noqa: SLF001
        for a in parser._actions:  # noqa: SLF001
            if isinstance(a, argparse._SubParsersAction):  # noqa: SLF001
                for name, sub in a.choices.items():
                    found += with_json(f"{prefix} {name}", sub)
        return found

    commands: list[str] = []
    for name in COMMANDS:
        parser = build_parser(only=name)
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
        commands += with_json(name, sub.choices[name])
    tested = {s.split(" --")[0] for s in outputs}
    assert set(commands) - tested == set(), f"--json commands not tested: {set(commands) - tested}"
