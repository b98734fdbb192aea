"""Adversarial tests of wantui's own state in an untrusted project folder (issue 10,
defects 2 and 3): a ``.wantui/`` (or its journal, backups, lock) that links out of the
project, and a crafted journal that asks ``fix --undo`` to write elsewhere. Every case
checks that nothing outside the project was written (a fake home is snapshotted)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import pytest

from wantui.core.errors import WantuiError
from wantui.core.fixes import Journal, undo_last

DATASET = """# clips
[general]
resolution = [960, 544]
caption_extension = ".txt"
num_frames = 17  # wrong key
[[datasets]]
video_directory = "clips"
cache_directory = "cache"
target_frames = [17]
"""
HOSTILE_NAME = "ds$(touch${IFS}PWNED).toml"  # runs `touch PWNED` if ever sourced by a shell
BASHRC = "# the user's shell startup\nexport PATH=$HOME/bin:$PATH\n"


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: file bytes, link targets, folders."""
    out: dict[str, bytes | str] = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = p.read_bytes()
    return out


@pytest.fixture
def home_and_project(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    (home / ".bashrc.d").mkdir(parents=True)
    (home / ".bashrc").write_text(BASHRC)
    (home / "dotdir").mkdir()
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / HOSTILE_NAME).write_text(DATASET)
    (proj / "clips").mkdir()
    return home, proj


def _link_journal(home: Path, state: Path) -> None:
    (state / "journal.jsonl").symlink_to(home / ".bashrc")


def _link_backups(home: Path, state: Path) -> None:
    (state / "backups").symlink_to(home / ".bashrc.d", target_is_directory=True)


def _link_lock(home: Path, state: Path) -> None:
    (state / "fix.lock").symlink_to(home / ".profile")  # dangling: O_CREAT would make it


def _hardlink_journal(home: Path, state: Path) -> None:
    os.link(home / ".bashrc", state / "journal.jsonl")


LAYOUTS = {
    "journal->~/.bashrc": _link_journal,
    "backups->~/.bashrc.d": _link_backups,
    "fix.lock->~/.profile": _link_lock,
    "journal hard link of ~/.bashrc": _hardlink_journal,
}


@pytest.mark.parametrize("layout", [*LAYOUTS, ".wantui->~/dotdir"])
def test_linked_state_is_refused_and_nothing_outside_is_written(
    home_and_project: tuple[Path, Path], layout: str, wantui_cli
) -> None:
    home, proj = home_and_project
    if layout == ".wantui->~/dotdir":
        (proj / ".wantui").symlink_to(home / "dotdir", target_is_directory=True)
    else:
        (proj / ".wantui").mkdir()
        LAYOUTS[layout](home, proj / ".wantui")
    before_home = snapshot(home)
    before_ds = (proj / HOSTILE_NAME).read_bytes()
    r = wantui_cli("fix", "--dataset-config", HOSTILE_NAME, "--apply", "all", "--yes", cwd=proj)
    assert r.returncode in (1, 2), r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    said = r.stdout + r.stderr
    assert "symlink" in said or "hard links" in said, said
    assert snapshot(home) == before_home  # ~/.bashrc, ~/.bashrc.d, ~/.profile untouched
    assert (proj / HOSTILE_NAME).read_bytes() == before_ds  # no fix without its record
    assert not list(home.parent.rglob("PWNED"))
    # undo reads the same state: refused too, still nothing written
    r = wantui_cli("fix", "--dataset-config", HOSTILE_NAME, "--undo", "--force", cwd=proj)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert snapshot(home) == before_home


def test_planted_link_at_the_next_backup_name_is_replaced_not_followed(
    home_and_project: tuple[Path, Path], wantui_cli
) -> None:
    """The backup name is predictable (file name, second, sha of the old bytes): links
    planted at the next seconds' names must be replaced by the backup, not written through."""
    home, proj = home_and_project
    backups = proj / ".wantui" / "backups"
    backups.mkdir(parents=True)
    sha = hashlib.sha256(DATASET.encode()).hexdigest()[:12]
    now = time.time()
    for dt in range(-1, 30):
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now + dt))
        (backups / f"{HOSTILE_NAME}.{stamp}.{sha}.bak").symlink_to(home / f"planted{dt}")
    before_home = snapshot(home)
    r = wantui_cli("fix", "--dataset-config", HOSTILE_NAME, "--apply", "all", "--yes", cwd=proj)
    assert r.returncode == 0, r.stdout + r.stderr
    assert snapshot(home) == before_home
    assert "num_frames" not in (proj / HOSTILE_NAME).read_text()
    made = [p for p in backups.iterdir() if not p.is_symlink()]
    assert len(made) == 1 and made[0].read_text() == DATASET
    r = wantui_cli("fix", "--dataset-config", HOSTILE_NAME, "--undo", cwd=proj)
    assert r.returncode == 0, r.stderr
    assert (proj / HOSTILE_NAME).read_text() == DATASET
    assert not list(home.parent.rglob("PWNED"))


# -- defect 3: a crafted journal and fix --undo --------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def craft(proj: Path, file: Path, *, after: str | None, role: str = "dataset_config") -> Path:
    """A journal whose last fix names ``file``, with a genuine-looking backup in the
    project's own backups folder holding an attacker's payload."""
    payload = b"export PROMPT_COMMAND='touch PWNED'\n"
    backups = proj / ".wantui" / "backups"
    backups.mkdir(parents=True, exist_ok=True)
    bak = backups / "x.toml.20260101-000000.abcdef012345.bak"
    bak.write_bytes(payload)
    entry = {
        "type": "apply",
        "id": "evil",
        "time": 0,
        "file": str(file),
        "role": role,
        "backup": str(bak),
        "sha256_before": _sha(payload),
        "sha256_after": after,
        "label": "innocent",
    }
    (proj / ".wantui" / "journal.jsonl").write_text(json.dumps(entry) + "\n")
    return bak


@pytest.mark.parametrize("force", [False, True])
def test_undo_never_overwrites_a_file_outside_the_project(
    home_and_project: tuple[Path, Path], force: bool, wantui_cli
) -> None:
    home, proj = home_and_project
    target = home / ".bashrc"
    craft(proj, target, after=_sha(target.read_bytes()))  # the after-hash even matches
    before_home = snapshot(home)
    args = ["fix", "--dataset-config", HOSTILE_NAME, "--undo", *(["--force"] if force else [])]
    r = wantui_cli(*args, cwd=proj)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "not one of the project's inputs" in r.stderr and len(r.stderr.splitlines()) == 1
    assert snapshot(home) == before_home


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("after", [None, "0" * 64])
def test_undo_never_creates_a_missing_file(
    home_and_project: tuple[Path, Path], force: bool, after: str | None
) -> None:
    """Outside the project (``~/.bash_login``) and inside it (the project's own input,
    deleted since): undo puts bytes back, it never creates a file."""
    home, proj = home_and_project
    for target in (home / ".bash_login", proj / "gone.toml"):
        craft(proj, target, after=after)
        before_home = snapshot(home)
        with pytest.raises(WantuiError) as err:
            undo_last(Journal(proj), force=force)
        assert not target.exists(), err.value
        assert snapshot(home) == before_home


def test_undo_requires_the_recorded_after_hash(home_and_project: tuple[Path, Path]) -> None:
    _, proj = home_and_project
    target = proj / HOSTILE_NAME
    before = target.read_bytes()
    craft(proj, target, after=None)
    with pytest.raises(WantuiError, match="no sha256 of the fixed file"):
        undo_last(Journal(proj), force=True)
    assert target.read_bytes() == before


def test_undo_restores_only_project_inputs(home_and_project: tuple[Path, Path]) -> None:
    """A file inside the project that is not an input (a git hook) is not restored, even
    forced; nor is an input that is a symlink leading out of the project."""
    home, proj = home_and_project
    (proj / "wantui.toml").write_text(
        '[project]\nname = "p"\ndataset_config = "dataset.toml"\n'
        '[steps.train]\nscript = "wan_train_network.py"\nargs = []\n'
    )
    hook = proj / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(parents=True)
    hook.write_text("#!/bin/sh\nexit 0\n")
    craft(proj, hook, after=_sha(hook.read_bytes()), role="project")
    with pytest.raises(WantuiError, match="not one of the project's inputs"):
        undo_last(Journal(proj), force=True)
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"

    outside = home / "dataset.toml"
    outside.write_text(DATASET)
    (proj / "dataset.toml").symlink_to(outside)
    craft(proj, proj / "dataset.toml", after=_sha(outside.read_bytes()))
    before_home = snapshot(home)
    with pytest.raises(WantuiError, match="outside the project folder"):
        undo_last(Journal(proj), force=True)
    assert snapshot(home) == before_home


@pytest.mark.parametrize("layout", ["probe.json->~/.bashrc", ".wantui->~/dotdir"])
def test_probe_cache_is_never_written_through_a_link(
    home_and_project: tuple[Path, Path], layout: str
) -> None:
    """`wantui doctor` keeps its probe report in `.wantui/probe.json`; a link planted
    there (or a linked `.wantui`) must not turn that save into a write of ~/.bashrc."""
    from wantui.core.probe.cache import save_probe
    from wantui.core.probe.runner import ProbeResult

    home, proj = home_and_project
    if layout == ".wantui->~/dotdir":
        (proj / ".wantui").symlink_to(home / "dotdir", target_is_directory=True)
    else:
        (proj / ".wantui").mkdir()
        (proj / ".wantui" / "probe.json").symlink_to(home / ".bashrc")
    before_home = snapshot(home)
    data = {"python": {"version": "3.12.3", "executable": "x", "prefix": sys.prefix}}
    saved = save_probe(proj, ProbeResult(python=sys.executable, data=data, ok=True))
    assert snapshot(home) == before_home
    if layout == ".wantui->~/dotdir":
        assert saved is None  # refused: a cache is never an error
    else:  # the link was replaced by the report, inside the project
        assert saved == proj / ".wantui" / "probe.json" and not saved.is_symlink()


def test_import_never_writes_a_linked_project_file_outside(
    home_and_project: tuple[Path, Path], wantui_cli
) -> None:
    """A cloned folder whose wantui.toml links to a TOML file of the user's elsewhere."""
    home, proj = home_and_project
    mine = home / "other-project.toml"
    mine.write_text('[project]\nname = "mine"\n')
    (proj / "wantui.toml").symlink_to(mine)
    before_home = snapshot(home)
    r = wantui_cli("import", "--", "python", "wan_train_network.py", "--sdpa", cwd=proj)
    assert r.returncode == 2 and "outside the project folder" in r.stderr, r.stdout + r.stderr
    assert snapshot(home) == before_home


def test_linked_runs_folder_or_lock_is_refused(tmp_path: Path, wantui_cli) -> None:
    """#10: a project whose runs/ is a link (to ~/.config/autostart, another disk) or
    whose runs/.lock is one (to ~/.bashrc, which the lock's holder record would
    truncate): `wantui run` refuses before it writes anything there."""
    sys.path.insert(0, str(Path(__file__).parent))
    from fakes.fakeproject import make_project

    proj = tmp_path / "proj"
    make_project(proj)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text(BASHRC)
    (proj / "runs").symlink_to(home)
    before = snapshot(home)
    r = wantui_cli("run", "--force", cwd=proj)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "symlink" in r.stderr and "Traceback" not in r.stderr
    assert snapshot(home) == before
    (proj / "runs").unlink()
    (proj / "runs").mkdir()
    (proj / "runs" / ".lock").symlink_to(home / ".bashrc")
    r = wantui_cli("run", "--force", cwd=proj)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "symlink" in r.stderr and (home / ".bashrc").read_text() == BASHRC
    assert snapshot(home) == before


def test_fix_yes_never_edits_a_dataset_config_outside_the_project(
    tmp_path: Path, wantui_cli
) -> None:
    """#10: a wantui.toml the user did not write names a dataset config anywhere
    (`../../.config/x.toml`): `fix --apply all --yes` must not edit it unattended; with
    --allow-outside (the user's say) it does."""
    shared = tmp_path / "elsewhere"
    shared.mkdir()
    (shared / "dataset.toml").write_text(DATASET)
    (shared / "clips").mkdir()
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "wantui.toml").write_text(
        '[project]\nname = "p"\ndataset_config = "../elsewhere/dataset.toml"\n\n'
        '[steps.latents]\nscript = "wan_cache_latents.py"\nargs = []\n'
    )
    r = wantui_cli("fix", cwd=proj)
    assert "num_frames" in r.stdout, r.stdout + r.stderr  # a fix is offered for it
    r = wantui_cli("fix", "--apply", "all", "--yes", cwd=proj)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stdout + r.stderr
    assert "outside the project folder" in r.stdout and "--allow-outside" in r.stdout
    assert (shared / "dataset.toml").read_text() == DATASET
    r = wantui_cli("fix", "--apply", "all", "--yes", "--allow-outside", cwd=proj)
    assert "Traceback" not in r.stderr, r.stderr
    assert (shared / "dataset.toml").read_text() != DATASET
