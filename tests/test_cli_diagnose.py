"""`wantui diagnose` and `wantui rules` through the real CLI, in a subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import run_wantui
from wantui.cli.render import render_findings, use_colour
from wantui.core.finding import Evidence, Finding, Severity
from wantui.core.rules.examples import read_marked_log

DATA = Path(__file__).parent / "data" / "rules"


def example(name: str) -> bytes:
    """A test rule's example log without its fixture markers."""
    return read_marked_log(DATA / "examples" / name).data


HEALTHY = DATA / "logs" / "train_ok_h100.log"
FAILING = (
    "INFO:musubi_tuner.dataset.datasources:found 0 videos\n"
    "[rank0]: Traceback (most recent call last):\n"
    "[rank1]: Traceback (most recent call last):\n"
    "[rank0]: ValueError: No training items found in the dataset.\n"
    "[rank1]: ValueError: No training items found in the dataset.\n"
    "Traceback (most recent call last):\n"
    "subprocess.CalledProcessError: Command '['python', 'x.py']' returned non-zero exit status 1.\n"
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("home")
    e = dict(os.environ)
    e.update(XDG_CONFIG_HOME=str(home / "cfg"), XDG_CACHE_HOME=str(home / "cache"), NO_COLOR="")
    e.pop("WANTUI_RULES_PATH", None)
    e.pop("WANTUI_DEBUG", None)
    return e


def wantui(
    env: dict[str, str],
    *args: str,
    stdin: bytes | None = None,
    cwd: Path | None = None,
    rules: bool = True,
) -> subprocess.CompletedProcess[str]:
    if rules and args and args[0] == "diagnose":
        args = (*args, "--no-builtin-rules", "--rules", str(DATA))
    p = run_wantui(*args, cwd=cwd, env=env, timeout=120, input=stdin, text=False)
    out = subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode(), p.stderr.decode())
    assert "Traceback" not in out.stderr, out.stderr
    return out


@pytest.fixture()
def failing(tmp_path: Path) -> Path:
    p = tmp_path / "train.log"
    p.write_text(FAILING)
    return p


def test_failing_log_text(env: dict[str, str], failing: Path, tmp_path: Path) -> None:
    p = wantui(
        env, "diagnose", str(failing), "--context", "dataset_config=data/ds.toml", cwd=tmp_path
    )
    assert p.returncode == 1, p.stderr
    out = p.stdout
    assert "WARNING  A dataset found 0 videos" in out
    assert "ERROR  No training items" in out
    assert out.index("found 0 videos") < out.index("ERROR  No training items")
    assert "line 1: INFO:musubi_tuner.dataset.datasources:found 0 videos" in out
    assert "[ranks 0,1]" in out and "a consequence of t-found-zero" in out
    assert "data/ds.toml" in out and "What to do:" in out and "fix: Run latent caching again" in out
    assert "CalledProcessError" not in out
    assert "\x1b[" not in out  # not a TTY: plain text
    assert max(len(line) for line in out.splitlines()) <= 80
    assert out.rstrip().endswith("2 findings: 1 error, 1 warning.")


def test_json_shape(env: dict[str, str], failing: Path) -> None:
    p = wantui(env, "diagnose", "--json", str(failing))
    assert p.returncode == 1
    obj = json.loads(p.stdout)
    assert obj["source"] == str(failing)
    assert [f["rule"] for f in obj["findings"]] == ["t-found-zero", "t-no-items"]
    for f in obj["findings"]:
        assert {
            "rule",
            "catalog",
            "severity",
            "title",
            "message",
            "lines",
            "captures",
            "fixes",
        } <= f.keys()
    assert obj["findings"][1]["evidence"][0]["ranks"] == [0, 1]


def test_stdin(env: dict[str, str]) -> None:
    p = wantui(env, "diagnose", "-", "--json", stdin=FAILING.encode())
    assert p.returncode == 1 and json.loads(p.stdout)["source"] == "-"


def test_healthy_log_exit_0(env: dict[str, str]) -> None:
    p = wantui(env, "diagnose", str(HEALTHY), rules=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "No problems found." in p.stdout


def test_several_files_name_their_source(env: dict[str, str], tmp_path: Path) -> None:
    a, b = tmp_path / "latents.log", tmp_path / "train.log"
    a.write_text("INFO:x:found 0 videos\n")
    b.write_text("ValueError: No training items found in the dataset.\n")
    p = wantui(env, "diagnose", str(a), str(b))
    assert p.returncode == 1
    assert f"    in {a}:\n    line 1: INFO:x:found 0 videos" in p.stdout
    assert f"    in {b}:\n    line 1: ValueError: No training items" in p.stdout
    assert "a consequence of t-found-zero" in p.stdout


def test_exit_status_option_reports_unknown_failure(env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("INFO:x:all fine\n")
    p = wantui(env, "diagnose", str(log), "--exit-status", "3", "--json")
    assert p.returncode == 1
    (f,) = json.loads(p.stdout)["findings"]
    assert f["rule"] == "wrapper-failure-unknown" and f["captures"]["exit_status"] == "3"


# -- bad input: one line naming the file, the documented exit code -----------------
def one_line_error(p: subprocess.CompletedProcess[str], needle: str) -> None:
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    assert needle in lines[0], lines[0]


def test_missing_file(env: dict[str, str], tmp_path: Path) -> None:
    p = wantui(env, "diagnose", str(tmp_path / "nope.log"))
    assert p.returncode == 2
    one_line_error(p, f"{tmp_path / 'nope.log'}: no such file")


def test_directory(env: dict[str, str], tmp_path: Path) -> None:
    p = wantui(env, "diagnose", str(tmp_path))
    assert p.returncode == 2
    one_line_error(p, f"{tmp_path}: is a directory")


def test_empty_file(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "empty.log").write_bytes(b"")
    p = wantui(env, "diagnose", str(tmp_path / "empty.log"))
    assert p.returncode == 0
    one_line_error(p, "empty.log: empty log")


def test_binary_file(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(
        b"\x08\x00\x00\x00\x00\x00\x00\x00{}" + bytes(range(256)) * 10
    )
    p = wantui(env, "diagnose", str(tmp_path / "model.safetensors"))
    assert p.returncode == 2
    one_line_error(p, "model.safetensors: binary file")


def test_ten_megabyte_line(env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "huge.log"
    log.write_bytes(b"A" * (10 << 20) + b" found 0 videos\nfound 0 images\n")
    p = wantui(env, "diagnose", str(log), "--json")
    assert p.returncode == 0
    obj = json.loads(p.stdout)
    assert [(f["rule"], f["lines"]) for f in obj["findings"]] == [("t-found-zero", [2])]


def test_utf16_powershell_log(env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "ps.log"
    log.write_bytes("INFO:x:found 0 videos\r\n".encode("utf-16"))
    p = wantui(env, "diagnose", str(log), "--json")
    assert [f["rule"] for f in json.loads(p.stdout)["findings"]] == ["t-found-zero"]


def test_invalid_yaml_rule(env: dict[str, str], tmp_path: Path, failing: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.yaml").write_text("id: x\n  title: [\n")
    p = wantui(env, "diagnose", str(failing), "--rules", str(bad), rules=False)
    assert p.returncode == 2
    one_line_error(p, f"{bad / 'x.yaml'}:")
    assert "invalid YAML" in p.stderr


def test_catastrophic_regex_rule(env: dict[str, str], tmp_path: Path, failing: Path) -> None:
    """A --rules rule runs on RE2: a pattern that backtracks exponentially in Python's
    engine is harmless there; one RE2 cannot run in linear time is refused."""
    bad = tmp_path / "bad"
    bad.mkdir()
    text = (DATA / "t-found-zero.yaml").read_text().replace("t-found-zero", "evil")
    text = text.replace("'\\bfound 0 (?P<kind>videos|images)\\b'", "'(?P<kind>(a|aa)*)$'")
    (bad / "evil.yaml").write_text(text)
    log = tmp_path / "a.log"
    log.write_text("a" * 5000 + "b\n")
    p = wantui(env, "diagnose", str(failing), str(log), "--rules", str(bad), rules=False)
    assert p.returncode in (0, 1), p.stderr
    (bad / "evil.yaml").write_text(text.replace("(?P<kind>(a|aa)*)$", "(?P<kind>a(?=b))"))
    p = wantui(env, "diagnose", str(failing), "--rules", str(bad), rules=False)
    assert p.returncode == 2
    one_line_error(p, f"{bad / 'evil.yaml'}: match.any[0]")
    assert "RE2" in p.stderr


def test_broken_user_rule_is_skipped(env: dict[str, str], tmp_path: Path, failing: Path) -> None:
    user = tmp_path / "proj" / ".wantui" / "rules"
    user.mkdir(parents=True)
    (user / "oops.yaml").write_text("id: oops\n")
    assert wantui(env, "rules", "trust", str(tmp_path / "proj")).returncode == 0
    p = wantui(env, "diagnose", str(failing), cwd=tmp_path / "proj")
    assert p.returncode == 1  # the built-in and --rules rules still ran
    assert "oops.yaml" in p.stderr and "rule skipped" in p.stderr
    assert "No training items" in p.stdout


def test_bad_context_usage(env: dict[str, str], failing: Path) -> None:
    p = wantui(env, "diagnose", str(failing), "--context", "nokey")
    assert p.returncode == 2
    one_line_error(p, "KEY=VALUE")


# -- rules subcommands --------------------------------------------------------------
def test_rules_list_markdown(env: dict[str, str]) -> None:
    p = wantui(env, "rules", "--rules", str(DATA), "list", "--markdown")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0] == "| id | catalog | severity | found by | steps | title |"
    assert (
        "| `t-caption` | `caption-missing` | error | log | latents, te | Caption file missing: {path} |"
        in lines
    )


def test_rules_list_json_and_explain(env: dict[str, str]) -> None:
    p = wantui(env, "rules", "--rules", str(DATA), "list", "--json")
    ids = {r["id"] for r in json.loads(p.stdout)["rules"]}
    assert {"t-caption", "t-no-items"} <= ids
    p = wantui(env, "rules", "--rules", str(DATA), "explain", "t-t5-layout")
    assert p.returncode == 0 and "then one of these within 5 lines after:" in p.stdout
    p = wantui(env, "rules", "--rules", str(DATA), "explain", "t-t5-layot")
    assert p.returncode == 2
    one_line_error(p, "did you mean 't-t5-layout'")


def test_rules_check_runs_examples(env: dict[str, str]) -> None:
    p = wantui(env, "rules", "check", "--no-builtin-rules", "--rules", str(DATA))
    assert p.returncode == 0, p.stdout
    assert "rules check ok: 4 rules, 8 examples run, 0 failing" in p.stdout


# -- render ---------------------------------------------------------------------------
class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _finding() -> Finding:
    return Finding(
        rule="r",
        catalog="cuda-oom",
        severity=Severity.ERROR,
        title="Out of memory " + "very long title " * 6,
        message="Because.\n\nSecond paragraph " * 5,
        evidence=[Evidence(3, "x" * 200, "a.log", (0, 1))],
        advice=["Do this " * 20],
    )


def test_colour_only_on_tty_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(_Tty()) and not use_colour(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour(_Tty())
    buf = _Tty()
    render_findings([_finding()], stream=buf, json_mode=False)
    assert "\x1b[" not in buf.getvalue()


def test_render_wraps_to_80(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    render_findings([_finding()], stream=buf, json_mode=False)
    lines = buf.getvalue().splitlines()
    assert max(map(len, lines)) <= 80
    assert any("line 3:" in ln and ln.strip().startswith("line 3:") for ln in lines)
    assert lines[-1] == "1 finding: 1 error."


def test_render_json_extra() -> None:
    buf = io.StringIO()
    render_findings([_finding()], stream=buf, json_mode=True, source=["a", "b"], extra={"run": "x"})
    obj = json.loads(buf.getvalue())
    assert obj["source"] == ["a", "b"] and obj["run"] == "x" and obj["findings"][0]["rule"] == "r"


def test_re2_and_plain_python_paths_agree(env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "mixed.log"
    log.write_bytes(
        HEALTHY.read_bytes()
        + b"\x1b[33mINFO:x:found 0 videos\x1b[0m\r\n"
        + example("t-t5-layout.pos.log")
        + "学習開始\n".encode("cp932")
        + b"[rank1]: ValueError: NO TRAINING ITEMS found in the dataset 3\n"
        + FAILING.encode()
    )
    fast = wantui(env, "diagnose", "--json", str(log))
    slow = wantui(dict(env, WANTUI_RE2="0"), "diagnose", "--json", str(log))
    assert fast.returncode == slow.returncode == 1
    assert json.loads(fast.stdout) == json.loads(slow.stdout)
    assert {f["rule"] for f in json.loads(fast.stdout)["findings"]} == {
        "t-found-zero",
        "t-t5-layout",
        "t-no-items",
    }


def test_stdin_paths_agree_and_bad_stdin(env: dict[str, str]) -> None:
    data = HEALTHY.read_bytes() * 200 + FAILING.encode()  # > 2 MB: the pump thread has work
    fast = wantui(env, "diagnose", "--json", "-", stdin=data)
    slow = wantui(dict(env, WANTUI_RE2="0"), "diagnose", "--json", "-", stdin=data)
    assert fast.returncode == slow.returncode == 1
    assert json.loads(fast.stdout) == json.loads(slow.stdout)
    assert json.loads(fast.stdout)["findings"][0]["lines"] == [
        HEALTHY.read_bytes().count(b"\n") * 200 + 1
    ]
    p = wantui(env, "diagnose", "-", stdin=b"\x00\x01\x02" * 100)
    assert p.returncode == 2
    one_line_error(p, "<stdin>: binary file")
    p = wantui(env, "diagnose", "-", stdin=b"")
    assert p.returncode == 0
    one_line_error(p, "<stdin>: empty log")
    p = wantui(env, "diagnose", "--json", "-", stdin="found 0 videos\r\n".encode("utf-16"))
    assert [f["rule"] for f in json.loads(p.stdout)["findings"]] == ["t-found-zero"]
