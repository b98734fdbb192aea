"""Turn a :class:`FixAction` into a :class:`FixPlan`: what will change, shown before it does.

Each action plans itself (:mod:`wantui.core.fixes.actions`); this module holds what they
share: the plan and its typed changes, the checks every fix passes, and the safe reading
and rewriting of the project's inputs.

Files are resolved by role (``dataset_config`` -> the project's dataset TOML, ``project``
-> ``wantui.toml``), never from a path in the action, so a rule cannot make wantui write
anywhere else. Anything unsafe or impossible becomes ``FixPlan.refused`` with a reason.

A plan carries its changes as data (:attr:`FixPlan.changes`: a file's bytes before and
after, a step's argv before and after, an environment variable, a download, a rerun);
:meth:`FixPlan.preview_lines` says them as typed lines that the CLI prints and the TUI
colours by kind.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import shlex
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wantui.core.errors import WantuiError
from wantui.core.fixactions import FixAction, validate_action
from wantui.core.fixes.toml_edit import FixMoot, FixRefused
from wantui.core.fsutil import match_newlines, read_regular_file, sha256_bytes
from wantui.core.project import PROJECT_FILE, STEP_NAMES, Project, load_project, project_to_toml

MAX_EDIT_BYTES = 4 * 1024 * 1024  # a dataset TOML or wantui.toml is a few KB
_PATHLIKE = re.compile(r"[/\\]|^~|^[A-Za-z]:|\.(safetensors|pth|pt|ckpt|bin|toml|json|gguf)$", re.I)


# -- what a plan changes, as data ---------------------------------------------------------


@dataclass(frozen=True)
class PreviewLine:
    """One line of a preview and what it is, so a front end colours it without reading
    it: ``title``, ``refused``, ``download``, ``argv-add``, ``argv-remove``,
    ``argv-replace``, ``argv``, ``diff-file``, ``diff-hunk``, ``diff-add``,
    ``diff-remove``, ``diff-context``, ``diff-note``, ``env``, ``rerun``, ``note``."""

    kind: str
    text: str


@dataclass
class FileChange:
    """One file rewrite: resolved path, its role, and the exact bytes before and after."""

    role: str
    path: Path
    before: bytes
    after: bytes

    @property
    def kind(self) -> str:
        return "toml-edit" if self.role == "dataset_config" else "project-edit"

    @property
    def sha_before(self) -> str:
        return sha256_bytes(self.before)

    @property
    def sha_after(self) -> str:
        return sha256_bytes(self.after)

    def diff_lines(self, label: str | None = None) -> list[PreviewLine]:
        """The unified diff of the change, a line each, typed from difflib's own parts."""
        name = label or str(self.path)
        a = self.before.decode("utf-8", "replace").splitlines(keepends=True)
        b = self.after.decode("utf-8", "replace").splitlines(keepends=True)
        out: list[PreviewLine] = []
        kinds = {"+": "diff-add", "-": "diff-remove", " ": "diff-context", "@": "diff-hunk"}
        for n, line in enumerate(difflib.unified_diff(a, b, f"a/{name}", f"b/{name}")):
            kind = "diff-file" if n < 2 else kinds.get(line[:1], "diff-context")
            if line.endswith("\n"):
                out.append(PreviewLine(kind, line[:-1]))
            else:
                out.append(PreviewLine(kind, line))
                out.append(PreviewLine("diff-note", "\\ No newline at end of file"))
        return out

    def diff(self, label: str | None = None) -> str:
        return "".join(line.text + "\n" for line in self.diff_lines(label))


@dataclass
class ArgvChange:
    """One step's command line before and after a fix (``kind`` argv-edit)."""

    step: str
    before: list[str]
    after: list[str]
    kind: str = "argv-edit"

    def lines(self) -> list[PreviewLine]:
        # what changes first (argv lines are long), then the whole command both ways
        out = [
            PreviewLine(k, f"Step {self.step}: {t}") for k, t in _argv_ops(self.before, self.after)
        ]
        out.append(PreviewLine("argv", f"Step {self.step}, before: {shlex.join(self.before)}"))
        out.append(PreviewLine("argv", f"Step {self.step}, after:  {shlex.join(self.after)}"))
        return out


@dataclass
class EnvChange:
    """One variable of a step's environment (``kind`` env); ``was`` None: unset."""

    step: str
    name: str
    value: str
    was: str | None
    kind: str = "env"

    def lines(self) -> list[PreviewLine]:
        was = "unset" if self.was is None else repr(self.was)
        return [
            PreviewLine(
                "env", f"Step {self.step} environment: {self.name}={self.value} (was {was})"
            )
        ]


@dataclass
class DownloadStep:
    """The download half of a ``download`` plan (``kind`` download)."""

    spec: str  # catalog name or OWNER/REPO/FILE
    repo: str
    filename: str
    size: int | None
    dest: Path  # the final file
    free: int | None
    kind: str = "download"

    def lines(self) -> list[PreviewLine]:
        from wantui.core.hub.download import human_size

        size = human_size(self.size) if self.size is not None else "from the hub at download time"
        free = human_size(self.free) if self.free is not None else "unknown"
        return [
            PreviewLine("download", f"Download: {self.repo}/{self.filename}"),
            PreviewLine("download", f"  size:        {size}"),
            PreviewLine("download", f"  destination: {self.dest}"),
            PreviewLine("download", f"  free disk:   {free}"),
        ]


@dataclass
class RerunChange:
    """A step to run again: nothing on disk changes (``kind`` rerun)."""

    step: str
    kind: str = "rerun"

    def lines(self) -> list[PreviewLine]:
        return [PreviewLine("rerun", f"Run the step '{self.step}' again (no file changes).")]


Change = DownloadStep | ArgvChange | FileChange | RerunChange | EnvChange


@dataclass
class FixPlan:
    action: FixAction
    root: Path  # the project folder (journal, backups)
    refused: str | None = None
    moot: bool = False  # refused because it would not help here: not offered at all
    change: FileChange | None = None
    download: DownloadStep | None = None
    rerun: str | None = None
    argv: list[ArgvChange] = field(default_factory=list)
    env: list[EnvChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    also: list[FixPlan] = field(default_factory=list)  # parts in other files, same fix

    @property
    def label(self) -> str:
        return self.action.label or describe_action(self.action)

    @property
    def applicable(self) -> bool:
        return self.refused is None

    @property
    def changes(self) -> list[Change]:
        """What the fix changes, in preview order (its ``also`` parts not included)."""
        out: list[Change] = []
        if self.download is not None:
            out.append(self.download)
        out.extend(self.argv)
        if self.change is not None:
            out.append(self.change)
        if self.rerun is not None:
            out.append(RerunChange(self.rerun))
        out.extend(self.env)
        return out

    def body_lines(self) -> list[PreviewLine]:
        out: list[PreviewLine] = []
        for change in self.changes:
            if isinstance(change, FileChange):
                out.extend(change.diff_lines(_display_path(change.path, self.root)))
            else:
                out.extend(change.lines())
        out.extend(PreviewLine("note", n) for n in self.notes)
        for part in self.also:  # the same fix, in another file
            out.extend(part.body_lines())
        return out

    def preview_lines(self) -> list[PreviewLine]:
        """The preview as typed lines: a unified diff, argv before/after, download size
        and place."""
        out = [PreviewLine("title", f"Fix: {self.label}")]
        if self.refused:
            return [*out, PreviewLine("refused", f"Refused: {self.refused}")]
        return out + self.body_lines()

    def preview(self) -> str:
        """The human preview as text (what ``wantui fix --apply`` prints)."""
        return "".join(line.text + "\n" for line in self.preview_lines())

    def to_json(self) -> dict[str, Any]:
        return {
            "fix": self.action.to_json(),
            "label": self.label,
            "refused": self.refused,
            "file": str(self.change.path) if self.change else None,
            "role": self.change.role if self.change else None,
            "download": (
                {
                    "repo": self.download.repo,
                    "filename": self.download.filename,
                    "size": self.download.size,
                    "dest": str(self.download.dest),
                    "free": self.download.free,
                }
                if self.download
                else None
            ),
            "rerun": self.rerun,
            "preview": self.preview(),
            # the same preview as data (PreviewLine kinds): a reader renders a diff
            # without parsing the text
            "preview_lines": [{"kind": p.kind, "text": p.text} for p in self.preview_lines()],
        }


def _display_path(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def describe_action(a: FixAction) -> str:
    from wantui.core.fixes.actions import unit_for

    unit = unit_for(a.action)
    return unit.describe(a.params) if unit is not None else a.action


# -- safety ------------------------------------------------------------------------------


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def _symlink_escape(path: Path, root: Path) -> str | None:
    """A reason when ``path`` (inside ``root``) is, or passes through, a symlink that leads
    outside ``root``."""
    lexical = Path(os.path.abspath(path))
    if not _inside(lexical, Path(os.path.abspath(root))):
        return None  # a declared input outside the project folder: no escape via link
    real = Path(os.path.realpath(lexical))
    if not _inside(real, Path(os.path.realpath(root))):
        return f"{_display_path(lexical, root)} is a symlink to {real}, outside the project folder"
    return None


def log_path_taint(action: FixAction, finding: Any) -> str | None:
    """A reason when a parameter of a fix from a *log* finding carries a path-like value
    taken from the log text (a capture): wantui never writes a path it read in a log."""
    if finding is None or getattr(finding, "origin", "log") != "log":
        return None
    captures = {
        k: v
        for k, v in (getattr(finding, "captures", None) or {}).items()
        if isinstance(v, str) and v
    }
    params = list(action.params.items())
    for edit in action.params.get("edits") or []:  # toml_edits: each edit's values too
        if isinstance(edit, dict):
            params.extend(edit.items())
    for name, value in params:
        if not isinstance(value, str) or name in ("step", "file", "table", "to_table", "action"):
            continue
        for cap, text in captures.items():
            if text in value and _PATHLIKE.search(text):
                return f"the value of '{name}' comes from the log text (capture '{cap}': {text!r}); wantui never writes paths read from a log"
    return None


# -- reading and rewriting the project's inputs ------------------------------------------


def read_input(path: Path) -> bytes:
    # a FIFO or device in the file's place must be refused, not read forever
    try:
        return read_regular_file(path, limit=MAX_EDIT_BYTES, what="file")
    except WantuiError as exc:
        raise FixRefused(str(exc)) from None


def split_bom(text: str) -> tuple[str, str]:
    """A UTF-8 BOM (Windows Notepad) is kept as it was but hidden from tomlkit, which
    takes it for an empty key."""
    return ("\ufeff", text[1:]) if text.startswith("\ufeff") else ("", text)


def _check_not_read_only(path: Path) -> None:
    """A file its owner made read-only is not ours to replace: the atomic rename would
    succeed anyway (it needs only the folder to be writable), so ask before we try."""
    try:
        st = os.stat(path)
    except OSError:
        return  # read_input says why
    if not os.access(path, os.W_OK):
        raise FixRefused(f"{path} is not writable by you (permission denied)")
    if not st.st_mode & stat.S_IWUSR:
        raise FixRefused(f"{path} is read-only; make it writable (chmod u+w) to apply this fix")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        # the atomic write puts a temporary file beside it, and .wantui/ holds the backup
        raise FixRefused(
            f"the folder {path.parent} is not writable; the fix writes its new version there"
        )


def decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FixRefused(f"{path} is not UTF-8 text (byte {exc.start})") from None


def resolve_role(role: str, project: Project | None, dataset_config: Path | None) -> Path:
    if role == "dataset_config":
        if dataset_config is not None:
            return Path(os.path.abspath(dataset_config))
        if (
            project is not None
            and project.dataset_config
            and os.name != "nt"
            and re.match(r"^(?:[A-Za-z]:[\\/]|\\\\)", project.dataset_config)
        ):
            raise FixRefused(
                f"the dataset config `{project.dataset_config}` is a Windows path this machine cannot open"
            )
        if project is not None and project.dataset_config_path() is not None:
            return Path(os.path.abspath(project.dataset_config_path()))  # type: ignore[arg-type]
        raise FixRefused(
            "no dataset config is known (set project.dataset_config or pass --dataset-config)"
        )
    if role == "project":
        if project is None:
            raise FixRefused("no project file (wantui.toml) is open")
        return project.file
    raise FixRefused(f"unknown file role {role!r}; fixes name files by role, never by path")


def steps_for(step: str, project: Project) -> list[str]:
    if step == "all":
        names = [s for s in STEP_NAMES if s in project.steps]
        if not names:
            raise FixRefused("the project has no steps")
        return names
    name = "train" if step == "launch" else step
    if name not in project.steps:
        raise FixRefused(f"the project has no [steps.{name}]")
    return [name]


def project_change(
    project: Project, mutate: Callable[[Project], None]
) -> tuple[FileChange, Project, Project]:
    """Apply ``mutate`` to a copy of the project, render it over the current text."""
    path = project.file
    before = read_input(path)
    bom, text = split_bom(decode(before, path))
    current = load_project_safe(path)
    new = copy.deepcopy(current)
    mutate(new)
    after_text = project_to_toml(new, base=text)
    after_text = match_newlines(after_text, text)
    after = (bom + after_text).encode("utf-8")
    # the rendered file must load back to exactly the project we meant
    check = load_project_from_text(after_text, path)
    if [vars(s) for s in check.steps.values()] != [vars(s) for s in new.steps.values()]:
        raise FixRefused("the edited wantui.toml would not load back as intended; not applied")
    return FileChange("project", path, before, after), current, new


def load_project_safe(path: Path) -> Project:
    try:
        return load_project(path)
    except WantuiError as exc:
        raise FixRefused(str(exc)) from None


def load_project_from_text(text: str, path: Path) -> Project:
    """Load a project from text through the same loader (a temp copy beside nothing)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / PROJECT_FILE
        p.write_text(text, encoding="utf-8")
        try:
            proj = load_project(p)
        except WantuiError as exc:
            raise FixRefused(f"the edited wantui.toml would not load: {exc.message}") from None
    proj.root = path.parent
    return proj


def check_writable_input(
    path: Path, root: Path, project: Project | None, dataset_config: Path | None
) -> None:
    """Refuse a write to anything but the project's known inputs, or through a symlink
    that leads out of the project folder."""
    known: set[str] = set()
    if project is not None:
        known.add(os.path.abspath(project.file))
        if project.dataset_config_path() is not None:
            known.add(os.path.abspath(project.dataset_config_path()))  # type: ignore[arg-type]
    if dataset_config is not None:
        known.add(os.path.abspath(dataset_config))
    if os.path.abspath(path) not in known:
        raise FixRefused(f"{path} is not one of the project's inputs; wantui only edits those")
    escape = _symlink_escape(path, root)
    if escape:
        raise FixRefused(escape)
    _check_not_read_only(path)


# -- planning ----------------------------------------------------------------------------


@dataclass
class PlanContext:
    """What an action plans against: its parameters, the project, the dataset config
    given on the command line, the finding it came from, and where downloads go."""

    params: dict[str, Any]
    project: Project | None
    dataset_config: Path | None = None
    finding: Any = None
    models_dir: Path | None = None

    def project_to_edit(self, plan: FixPlan) -> Project:
        """The open project, for an action that edits wantui.toml, checked writable."""
        if self.project is None:
            raise FixRefused("this fix edits wantui.toml; open a project (--project) first")
        check_writable_input(self.project.file, plan.root, self.project, self.dataset_config)
        return self.project


def plan_fix(
    action: FixAction,
    project: Project | None,
    *,
    dataset_config: Path | None = None,
    finding: Any = None,
    models_dir: Path | None = None,
) -> FixPlan:
    """Plan one fix. Never raises for a bad or unsafe fix: ``FixPlan.refused`` says why.

    ``finding`` (optional) is the Finding the fix came from; a path-like value taken from
    a log capture is refused. ``models_dir`` overrides where downloads go.
    """
    from wantui.core.fixes.actions import unit_for

    if project is not None:
        root = project.root
    elif dataset_config is not None:
        root = Path(os.path.abspath(dataset_config)).parent
    else:
        root = Path.cwd()
    plan = FixPlan(action=action, root=root)
    ctx = PlanContext(dict(action.params), project, dataset_config, finding, models_dir)
    try:
        problem = validate_action(action.action, action.params)
        if problem:
            raise FixRefused(problem)
        if not action.auto:
            raise FixRefused("this fix can only be done by hand (see the finding's advice)")
        taint = log_path_taint(action, finding)
        if taint:
            raise FixRefused(taint)
        unit_for(action.action).plan(plan, ctx)  # type: ignore[union-attr]  # validated
    except FixRefused as exc:
        plan.refused = str(exc)
        plan.moot = isinstance(exc, FixMoot)
        plan.change = None
    parts = (action.params.get("also") or []) if plan.refused is None else []
    for part in parts:
        sub = plan_fix(
            FixAction(part["action"], part["params"], label=part.get("label", "")),
            project,
            dataset_config=dataset_config,
            finding=finding,
            models_dir=models_dir,
        )
        if sub.refused is not None:  # a part refused: the whole fix is (never half of it)
            plan.refused, plan.moot, plan.change, plan.also = sub.refused, sub.moot, None, []
            break
        plan.also.append(sub)
    return plan


def _argv_ops(before: list[str], after: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    ops = difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in ops:
        old, new = shlex.join(before[i1:i2]), shlex.join(after[j1:j2])
        if tag == "insert":
            out.append(("argv-add", f"+ {new}"))
        elif tag == "delete":
            out.append(("argv-remove", f"- {old}"))
        elif tag == "replace":
            # a changed value reads better with its flag: "~ --task t2v-14B -> t2v-A14B"
            flag = before[i1 - 1] if i1 and before[i1 - 1].startswith("-") else ""
            if flag and not before[i1].startswith("-"):
                old = f"{flag} {old}"
            out.append(("argv-replace", f"~ {old} -> {new}"))
    return out


def argv_changes(before: list[str], after: list[str]) -> list[str]:
    """The tokens a fix adds, removes or replaces: ``+ --sdpa``, ``- --fp8_scaled``,
    ``~ bf16 -> fp16``."""
    return [text for _kind, text in _argv_ops(before, after)]
