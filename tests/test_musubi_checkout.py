"""The installed musubi-tuner is the reference: found from the script path, musubi_dir or
the interpreter's site-packages, read from source with ast (never run), cached per
checkout and commit, and the bundled v0.3.4 catalog when none is found."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import musubi_like
import pytest

from wantui.cli.main import main
from wantui.core.args.catalog import _raw
from wantui.core.args.checkout import (
    Checkout,
    commit_of,
    find_checkout,
    package_dir,
    read_reference,
)
from wantui.core.preflight import check_pasted
from wantui.core.project import Project, Step

pytestmark = pytest.mark.timeout(120)

TRAIN = "python {script} --dataset_config d.toml --task t2v-14B --sdpa --log_grad_metrics"


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _rules(findings: list) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in findings:
        out.setdefault(f.rule, []).append(f)
    return out


def test_reader_reads_the_options_it_was_written_from(tmp_path: Path) -> None:
    pkg = musubi_like.write_checkout(tmp_path / "m")
    ref = read_reference(Checkout(pkg, "musubi_dir"))
    assert ref.from_install and ref.commit == "30c658c4f4b0bf05038b3346eff9670259b10fc7"
    for script, opts in _raw()["scripts"].items():
        want = {tuple(o["names"]): o["type"] == "flag" for o in opts}
        got = {tuple(o["names"]): o["type"] == "flag" for o in ref.data["scripts"][script]}
        assert got == want, script


def test_log_grad_metrics_clean_against_a_checkout_that_has_it(tmp_path: Path) -> None:
    new = musubi_like.write_checkout(
        tmp_path / "new", extra_train=[musubi_like.LOG_GRAD_METRICS], commit="5f274db" + "0" * 33
    )
    old = musubi_like.write_checkout(tmp_path / "old")
    (tmp_path / "d.toml").write_text('[[datasets]]\nimage_directory = "i"\n')
    found_new = _rules(check_pasted(TRAIN.format(script=new / "wan_train_network.py"), tmp_path))
    found_old = _rules(check_pasted(TRAIN.format(script=old / "wan_train_network.py"), tmp_path))
    assert "unknown-argument" not in found_new
    info = found_new["option-from-install"][0]
    assert info.severity.value == "info" and "--log_grad_metrics" in info.title
    assert "wantui knows it from your install" in info.title
    assert [f.captures["flag"] for f in found_old["unknown-argument"]] == ["--log_grad_metrics"]
    assert "option-from-install" not in found_old
    ref = read_reference(Checkout(new, "script"))
    assert ref.differences() == {
        "wan_train_network.py": {"added": ["--log_grad_metrics"], "removed": []}
    }
    assert read_reference(Checkout(old, "script")).to_json()["differences"] == {}


def test_no_checkout_falls_back_to_the_bundled_catalog_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.toml").write_text('[[datasets]]\nimage_directory = "i"\n')
    assert main(["check", "--json", "--", TRAIN.format(script="wan_train_network.py")]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["musubi"]["source"] == "bundled" and out["musubi"]["bundled_version"] == "v0.3.4"
    assert "unknown-argument" in {f["rule"] for f in out["findings"]}
    main(["check", "--", TRAIN.format(script="wan_train_network.py")])
    text = capsys.readouterr().out
    assert "bundled musubi-tuner v0.3.4 catalog (no musubi-tuner checkout found)" in text


def test_a_stub_checkout_is_not_trusted(tmp_path: Path) -> None:
    pkg = musubi_like.write_checkout(tmp_path / "m")
    (pkg / "wan_cache_latents.py").write_text("def wan_setup_parser(parser):\n    return parser\n")
    (pkg / "cache_latents.py").write_text("")
    ref = read_reference(Checkout(pkg, "script"))
    assert not ref.from_install and "wan_cache_latents.py" in (ref.problem or "")
    (tmp_path / "d.toml").write_text('[[datasets]]\nimage_directory = "i"\n')
    found = _rules(check_pasted(TRAIN.format(script=pkg / "wan_train_network.py"), tmp_path))
    assert "musubi-checkout-unreadable" in found and "unknown-argument" in found


def test_cached_per_checkout_and_commit_and_reread_after_an_edit(tmp_path: Path) -> None:
    pkg = musubi_like.write_checkout(tmp_path / "m")
    first = read_reference(Checkout(pkg, "script"))
    assert not first.cached and list((tmp_path / "cache" / "wantui" / "musubi").glob("*.json"))
    again = read_reference(Checkout(pkg, "script"))
    assert again.cached and again.key() == first.key()
    parser = pkg / "training" / "parser_common.py"
    parser.write_text(
        parser.read_text() + "\n\ndef _add_more_args(parser):\n"
        "    parser.add_argument('--brand_new', action='store_true')\n"
    )
    os.utime(parser, ns=(time.time_ns(), time.time_ns() + 10**9))
    edited = read_reference(Checkout(pkg, "script"))
    assert not edited.cached and "--brand_new" in (edited.options("wan_train_network.py") or {})
    (tmp_path / "m" / ".git" / "refs" / "heads" / "main").write_text("f" * 40 + "\n")
    assert read_reference(Checkout(pkg, "script")).key() != edited.key()


def test_source_is_read_never_run(tmp_path: Path) -> None:
    pkg = musubi_like.write_checkout(tmp_path / "m")
    marker = tmp_path / "ran"
    for name in ("wan_train_network.py", "training/parser_common.py", "dataset/config_utils.py"):
        p = pkg / name
        p.write_text(f"open({str(marker)!r}, 'w').write('x')\n" + p.read_text())
    assert read_reference(Checkout(pkg, "script")).from_install
    assert not marker.exists()


def test_found_from_script_musubi_dir_and_the_interpreter(tmp_path: Path) -> None:
    pkg = musubi_like.write_checkout(tmp_path / "musubi-tuner")
    p = Project(root=tmp_path, steps={"train": Step("train", str(pkg / "wan_train_network.py"))})
    assert find_checkout(p) == Checkout(pkg, "script")
    p = Project(root=tmp_path, musubi_dir="musubi-tuner")  # no step yet (the setup wizard)
    assert find_checkout(p) == Checkout(pkg, "musubi_dir")
    # an editable install: the venv's site-packages points to the checkout
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (tmp_path / "venv" / "bin").mkdir()
    (site / "__editable__.musubi_tuner-0.3.5.pth").write_text(str(pkg.parent) + "\n")
    (site / "evil.pth").write_text(f"import os; open({str(tmp_path / 'ran')!r}, 'w')\n")
    p = Project(root=tmp_path / "elsewhere", python=str(tmp_path / "venv" / "bin" / "python"),
                steps={"train": Step("train", "wan_train_network.py")})  # fmt: skip
    assert find_checkout(p) == Checkout(pkg, "python") and not (tmp_path / "ran").exists()
    # a regular install: the package itself in site-packages
    installed = musubi_like.write_checkout(site / "musubi_tuner", layout="package")
    (site / "__editable__.musubi_tuner-0.3.5.pth").unlink()
    assert find_checkout(p) == Checkout(installed, "python")
    assert package_dir(tmp_path) is None


def test_commit_from_packed_refs_and_a_worktree(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "HEAD").write_text("ref: refs/heads/dev\n")
    (root / ".git" / "packed-refs").write_text("# pack-refs\n" + "a" * 40 + " refs/heads/dev\n")
    assert commit_of(root) == "a" * 40
    wt = tmp_path / "wt"
    (root / ".git" / "worktrees" / "wt").mkdir(parents=True)
    (root / ".git" / "worktrees" / "wt" / "HEAD").write_text("b" * 40 + "\n")
    wt.mkdir()
    (wt / ".git").write_text(f"gitdir: {root / '.git' / 'worktrees' / 'wt'}\n")
    assert commit_of(wt) == "b" * 40
    assert commit_of(tmp_path / "none") is None


def test_dataset_key_from_the_install_is_info(tmp_path: Path) -> None:
    pkg = musubi_like.write_checkout(tmp_path / "m", extra_dataset=["new_general_key"])
    (tmp_path / "i").mkdir()
    (tmp_path / "d.toml").write_text(
        '[general]\nnew_general_key = 1\n[[datasets]]\nimage_directory = "i"\n'
    )
    cmd = f"python {pkg / 'wan_cache_latents.py'} --dataset_config d.toml --vae v.safetensors"
    found = _rules(check_pasted(cmd, tmp_path))
    assert "toml-extra-key" not in found and found["toml-key-from-install"]
    bundled = tmp_path / "b"
    bundled.mkdir()
    (bundled / "d.toml").write_text((tmp_path / "d.toml").read_text())
    cmd = "python wan_cache_latents.py --dataset_config d.toml --vae v.safetensors"
    assert "toml-extra-key" in _rules(check_pasted(cmd, bundled))


@pytest.mark.skipif(
    not os.environ.get("WANTUI_MUSUBI_CHECKOUT"), reason="WANTUI_MUSUBI_CHECKOUT not set"
)
def test_a_real_checkout(tmp_path: Path) -> None:
    """WANTUI_MUSUBI_CHECKOUT: a real musubi-tuner checkout (e.g. an export of 30c658c or
    5f274db). Its parsers read, and --log_grad_metrics judged by what it really has."""
    pkg = package_dir(Path(os.environ["WANTUI_MUSUBI_CHECKOUT"]))
    assert pkg is not None
    ref = read_reference(Checkout(pkg, "script"))
    assert ref.from_install, ref.problem
    has = "--log_grad_metrics" in (ref.options("wan_train_network.py") or {})
    (tmp_path / "d.toml").write_text('[[datasets]]\nimage_directory = "i"\n')
    found = _rules(check_pasted(TRAIN.format(script=pkg / "wan_train_network.py"), tmp_path))
    assert ("unknown-argument" in found) != has
    bundled = {n for o in _raw()["scripts"]["wan_train_network.py"] for n in o["names"]}
    mine = set(ref.options("wan_train_network.py") or {})
    assert len(bundled & mine) > 0.9 * len(bundled)
