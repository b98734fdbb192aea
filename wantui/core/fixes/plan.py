"""Turn a :class:`FixAction` into a :class:`FixPlan`: what will change, shown before it does.

Files are resolved by role (``dataset_config`` -> the project's dataset TOML, ``project``
-> ``wantui.toml``), never from a path in the action, so a rule cannot make wantui write
anywhere else. Anything unsafe or impossible becomes ``FixPlan.refused`` with a reason.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import shlex
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wantui.core.args.options import options_for
from wantui.core.errors import WantuiError
from wantui.core.fixactions import (
    ACTIONS,
    FILE_ROLES,
    STEPS,
    FixAction,
    env_name_problem,
    validate_action,
)
from wantui.core.fixes import flags as flagops
from wantui.core.fixes.toml_edit import FixMoot, FixRefused, apply_toml_action
from wantui.core.fsutil import match_newlines, read_regular_file, sha256_bytes
from wantui.core.project import PROJECT_FILE, STEP_NAMES, Project, load_project, project_to_toml

MAX_EDIT_BYTES = 4 * 1024 * 1024  # a dataset TOML or wantui.toml is a few KB
_PATHLIKE = re.compile(r"[/\\]|^~|^[A-Za-z]:|\.(safetensors|pth|pt|ckpt|bin|toml|json|gguf)$", re.I)


@dataclass
class FileChange:
    """One file rewrite: resolved path, its role, and the exact bytes before and after."""

    role: str
    path: Path
    before: bytes
    after: bytes

    @property
    def sha_before(self) -> str:
        return sha256_bytes(self.before)

    @property
    def sha_after(self) -> str:
        return sha256_bytes(self.after)

    def diff(self, label: str | None = None) -> str:
        name = label or str(self.path)
        a = self.before.decode("utf-8", "replace").splitlines(keepends=True)
        b = self.after.decode("utf-8", "replace").splitlines(keepends=True)
        lines = list(difflib.unified_diff(a, b, f"a/{name}", f"b/{name}"))
        return "".join(
            line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
            for line in lines
        )


@dataclass
class DownloadStep:
    """The download half of a ``download`` plan."""

    spec: str  # catalog name or OWNER/REPO/FILE
    repo: str
    filename: str
    size: int | None
    dest: Path  # the final file
    free: int | None


@dataclass
class FixPlan:
    action: FixAction
    root: Path  # the project folder (journal, backups)
    refused: str | None = None
    moot: bool = False  # refused because it would not help here: not offered at all
    change: FileChange | None = None
    download: DownloadStep | None = None
    rerun: str | None = None
    argv_before: dict[str, list[str]] = field(default_factory=dict)
    argv_after: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    also: list[FixPlan] = field(default_factory=list)  # parts in other files, same fix

    @property
    def label(self) -> str:
        return self.action.label or describe_action(self.action)

    @property
    def applicable(self) -> bool:
        return self.refused is None

    def preview(self) -> str:
        """Human preview: a unified diff, argv before/after, download size and place."""
        out: list[str] = [f"Fix: {self.label}"]
        if self.refused:
            out.append(f"Refused: {self.refused}")
            return "\n".join(out) + "\n"
        if self.download is not None:
            from wantui.core.hub.download import human_size

            d = self.download
            out.append(f"Download: {d.repo}/{d.filename}")
            out.append(
                f"  size:        {human_size(d.size) if d.size is not None else 'from the hub at download time'}"
            )
            out.append(f"  destination: {d.dest}")
            out.append(f"  free disk:   {human_size(d.free) if d.free is not None else 'unknown'}")
        for step in self.argv_before:
            # what changes first (argv lines are long), then the whole command both ways
            out.extend(
                f"Step {step}: {c}"
                for c in argv_changes(self.argv_before[step], self.argv_after[step])
            )
            out.append(f"Step {step}, before: {shlex.join(self.argv_before[step])}")
            out.append(f"Step {step}, after:  {shlex.join(self.argv_after[step])}")
        if self.change is not None:
            out.append(self.change.diff(_display_path(self.change.path, self.root)).rstrip("\n"))
        if self.rerun is not None:
            out.append(f"Run the step '{self.rerun}' again (no file changes).")
        out.extend(self.notes)
        for part in self.also:  # the same fix, in another file
            out.append(part.preview().split("\n", 1)[1].rstrip("\n"))
        return "\n".join(out) + "\n"

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
        }


def _display_path(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def describe_action(a: FixAction) -> str:
    p = a.params
    where = {"": "at the top level", "general": "in [general]"}.get(
        str(p.get("table", "")), f"in {p.get('table')}"
    )
    step = p.get("step")
    match a.action:
        case "toml_remove_key":
            return f"Remove the key '{p['key']}' {where}"
        case "toml_rename_key":
            return f"Rename '{p['key']}' to '{p['new_key']}' {where}"
        case "toml_move_key":
            return f"Move '{p['key']}' from {p['table'] or 'the top level'} to {p['to_table'] or 'the top level'}"
        case "toml_set_key":
            return f"Set '{p['key']}' = {p['value']} {where}"
        case "toml_edits":
            return "; ".join(
                describe_action(
                    FixAction(
                        e["action"],
                        {"file": p["file"], **{k: v for k, v in e.items() if k != "action"}},
                    )
                )
                for e in p["edits"]
            )
        case "toml_fix_windows_paths":
            return "Write the Windows paths of the dataset config with forward slashes"
        case "flag_add":
            return f"Add {p['flag']}{' ' + str(p['value']) if p.get('value') is not None else ''} to the {step} step"
        case "flag_remove":
            return f"Remove {p['flag']} from the {step} step"
        case "flag_set":
            most = " (at most)" if p.get("ceiling") else ""
            return f"Set {p['flag']} {p['value']}{most} in the {step} step"
        case "flag_replace":
            return f"Replace {p['flag']} with {p['new_flag']} in the {step} step"
        case "env_set":
            return f"Set {p['name']}={p['value']} for the {step} step"
        case "download":
            return f"Download {p['name']}" + (
                f" and point {p['flag']} at it" if p.get("flag") else ""
            )
        case "rerun_step":
            return f"Run the {step} step again"
    return a.action


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


# -- planning ----------------------------------------------------------------------------


def _read(path: Path) -> bytes:
    # a FIFO or device in the file's place must be refused, not read forever
    try:
        return read_regular_file(path, limit=MAX_EDIT_BYTES, what="file")
    except WantuiError as exc:
        raise FixRefused(str(exc)) from None


def _split_bom(text: str) -> tuple[str, str]:
    """A UTF-8 BOM (Windows Notepad) is kept as it was but hidden from tomlkit, which
    takes it for an empty key."""
    return ("\ufeff", text[1:]) if text.startswith("\ufeff") else ("", text)


def _check_not_read_only(path: Path) -> None:
    """A file its owner made read-only is not ours to replace: the atomic rename would
    succeed anyway (it needs only the folder to be writable), so ask before we try."""
    try:
        st = os.stat(path)
    except OSError:
        return  # _read says why
    if not os.access(path, os.W_OK):
        raise FixRefused(f"{path} is not writable by you (permission denied)")
    if not st.st_mode & stat.S_IWUSR:
        raise FixRefused(f"{path} is read-only; make it writable (chmod u+w) to apply this fix")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        # the atomic write puts a temporary file beside it, and .wantui/ holds the backup
        raise FixRefused(
            f"the folder {path.parent} is not writable; the fix writes its new version there"
        )


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FixRefused(f"{path} is not UTF-8 text (byte {exc.start})") from None


def _resolve_role(role: str, project: Project | None, dataset_config: Path | None) -> Path:
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


def _steps_for(step: str, project: Project) -> list[str]:
    if step == "all":
        names = [s for s in STEP_NAMES if s in project.steps]
        if not names:
            raise FixRefused("the project has no steps")
        return names
    name = "train" if step == "launch" else step
    if name not in project.steps:
        raise FixRefused(f"the project has no [steps.{name}]")
    return [name]


def _check_ceiling(action: FixAction, args: list[str], step: str) -> None:
    """A ``ceiling`` flag_set never raises a value: refused (moot) when the step's value,
    or musubi-tuner's default when the flag is absent, is already at or below it."""
    p = action.params
    if action.action != "flag_set" or not p.get("ceiling"):
        return
    now = flagops.current_values(args, p["flag"], options_for(step))
    where = ""
    if now is None:
        spec = options_for(step).get(p["flag"])
        now = [str(spec.default)] if spec is not None and spec.default is not None else None
        where = " (musubi-tuner's default)"
    try:
        shown = now[-1]  # type: ignore[index]
        current, limit = float(shown), float(p["value"])
    except (TypeError, ValueError, IndexError):
        return  # not a number: let the user see the change
    if current <= limit:
        raise FixMoot(
            f"{p['flag']} is already {shown}{where}, not above {p['value']}: this fix would"
            " not lower it"
        )


def _edit_args(action: FixAction, args: list[str], step: str) -> list[str]:
    """``step``: the step whose options ``args`` are (``launch``: accelerate's)."""
    p = action.params
    opts = options_for(step)
    match action.action:
        case "flag_add":
            return flagops.add_flag(args, p["flag"], p.get("value"), opts)
        case "flag_remove":
            return flagops.remove_flag(args, p["flag"], opts)
        case "flag_set":
            return flagops.set_flag(args, p["flag"], p["value"], opts)
        case "flag_replace":
            return flagops.replace_flag(args, p["flag"], p["new_flag"], p.get("value"), opts)
    raise FixRefused(f"'{action.action}' is not a flag action")


def _project_change(project: Project, mutate: Any) -> tuple[FileChange, Project, Project]:
    """Apply ``mutate`` to a copy of the project, render it over the current text."""
    path = project.file
    before = _read(path)
    bom, text = _split_bom(_decode(before, path))
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
    if project is not None:
        root = project.root
    elif dataset_config is not None:
        root = Path(os.path.abspath(dataset_config)).parent
    else:
        root = Path.cwd()
    plan = FixPlan(action=action, root=root)
    try:
        _plan_into(plan, action, project, dataset_config, finding, models_dir)
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


def _plan_into(
    plan: FixPlan,
    action: FixAction,
    project: Project | None,
    dataset_config: Path | None,
    finding: Any,
    models_dir: Path | None,
) -> None:
    problem = validate_action(action.action, action.params)
    if problem:
        raise FixRefused(problem)
    if not action.auto:
        raise FixRefused("this fix can only be done by hand (see the finding's advice)")
    taint = log_path_taint(action, finding)
    if taint:
        raise FixRefused(taint)
    p = action.params
    kind = action.action
    if kind.startswith("toml_"):
        role = p["file"]
        if role not in FILE_ROLES:
            raise FixRefused(f"unknown file role {role!r}")
        if role != "dataset_config":
            raise FixRefused(
                "TOML key fixes edit the dataset config; wantui.toml is edited by flag and env fixes"
            )
        path = _resolve_role(role, project, dataset_config)
        _check_writable_input(path, plan.root, project, dataset_config)
        before = _read(path)
        if path.suffix.lower() == ".json":
            raise FixRefused(f"{path.name} is JSON; wantui's TOML fixes edit .toml dataset configs")
        # musubi-tuner's toml.load fails on a BOM: a fixed dataset config is written without
        _bom, text = _split_bom(_decode(before, path))
        after = match_newlines(apply_toml_action(text, kind, p), text).encode("utf-8")
        if after == before:
            raise FixRefused("the file already says this; nothing to change")
        plan.change = FileChange(role, path, before, after)
        return
    if kind == "rerun_step":
        step = p["step"]
        if step not in STEPS or step == "launch":
            raise FixRefused(f"cannot rerun step {step!r}")
        if project is not None and step != "all":
            _steps_for(step, project)
        if project is not None and step in ("latents", "te"):
            _check_something_to_cache(project)
        plan.rerun = step
        return
    if project is None:
        raise FixRefused("this fix edits wantui.toml; open a project (--project) first")
    _check_writable_input(project.file, plan.root, project, dataset_config)
    if kind in ("flag_add", "flag_remove", "flag_set", "flag_replace"):
        step = p["step"]
        names = _steps_for(step, project)

        for name in names:
            if step != "launch":
                _check_ceiling(action, project.steps[name].args, name)

        def mutate(proj: Project) -> None:
            for name in names:
                s = proj.steps[name]
                if step == "launch":
                    s.launch_args = _edit_args(action, s.launch_args, "launch")
                else:
                    s.args = _edit_args(action, s.args, name)

        change, old, new = _project_change(project, mutate)
        for name in names:
            plan.argv_before[name] = old.argv(name)
            plan.argv_after[name] = new.argv(name)
        plan.change = change
        if step == "launch" and old.steps["train"].launcher != "accelerate":
            plan.notes.append(
                'Note: the train step runs without accelerate; launch_args take effect only with launcher = "accelerate".'
            )
        return
    if kind == "env_set":
        name, value = p["name"], p["value"]
        if not isinstance(name, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            raise FixRefused(f"bad environment variable name {name!r}")
        denied = env_name_problem(name)
        if denied:
            raise FixRefused(denied)
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise FixRefused("an environment value must be a string")
        names = _steps_for(p["step"], project)

        def mutate_env(proj: Project) -> None:
            changed = False
            for n in names:
                if proj.steps[n].env.get(name) != str(value):
                    proj.steps[n].env[name] = str(value)
                    changed = True
            if not changed:
                raise FixRefused(f"{name} is already {value!r}")

        change, old_p, _new = _project_change(project, mutate_env)
        plan.change = change
        for n in names:
            was = old_p.steps[n].env.get(name)
            plan.notes.append(
                f"Step {n} environment: {name}={value} (was {'unset' if was is None else repr(was)})"
            )
        return
    if kind == "download":
        _plan_download(plan, action, project, models_dir)
        return
    raise FixRefused(f"unknown action {kind!r} (known: {', '.join(sorted(ACTIONS))})")


def _check_something_to_cache(project: Project) -> None:
    """Caching again changes nothing while the dataset folders are there but hold no file
    to cache: such a rerun is moot (the dataset finding says where the videos are). A
    missing folder is left to its own finding, which names the nearest one."""
    path = project.dataset_config_path()
    if path is None or not path.is_file():
        return
    from wantui.core.dataset import load_dataset_config, scan_datasets

    try:
        scans = scan_datasets(load_dataset_config(path), project.cwd())
    except (WantuiError, OSError):
        return  # a broken config has its own findings
    if scans and all(s.exists for s in scans) and not any(s.media for s in scans):
        where = ", ".join(str(s.directory or s.jsonl) for s in scans)
        raise FixMoot(
            f"the dataset has nothing to cache ({where}): caching again would write nothing"
        )


def _check_writable_input(
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


def _plan_download(
    plan: FixPlan, action: FixAction, project: Project, models_dir: Path | None
) -> None:
    from wantui.core.hub.catalog import resolve_spec
    from wantui.core.hub.download import free_space

    p = action.params
    try:
        f = resolve_spec(str(p["name"]))
    except WantuiError as exc:
        raise FixRefused(exc.message) from None
    # a models folder linked to a bigger disk is normal; the download only creates a new
    # file there (it never replaces a different one), so no symlink check here
    folder = Path(models_dir) if models_dir is not None else project.resolve(project.models_dir)
    dest = folder / f.basename
    wrong = _wrong_file_in_place(dest, f.role)
    if wrong:
        # the download would stop on it ("a different file with this name"), and telling
        # the user to get the file they already have leads nowhere
        raise FixRefused(
            f"{dest} is already there under the right name but is {wrong}; move it aside,"
            " then apply this fix to download the real one"
        )
    plan.download = DownloadStep(
        str(p["name"]), f.repo, f.filename, f.size, dest, free_space(folder)
    )
    step = p.get("step") or f.step
    flag = p.get("flag") or f.flag
    if step and flag and not p.get("step"):
        # the catalog's default step: skip the pointer when the project lacks that step
        target = "train" if step == "launch" else step
        if step != "all" and target not in project.steps:
            plan.notes.append(f"The project has no [steps.{target}]; only the download is done.")
            return
    if step and flag:
        names = _steps_for(step, project)
        try:
            shown = str(dest.relative_to(project.root))
        except ValueError:
            shown = str(dest)

        def mutate(proj: Project) -> None:
            for name in names:
                s = proj.steps[name]
                if flagops.current_values(s.args, flag, options_for(name)) == [shown]:
                    continue
                s.args = flagops.set_flag(s.args, flag, shown, options_for(name))

        change, old, new = _project_change(project, mutate)
        if change.before != change.after:
            plan.change = change
            for name in names:
                plan.argv_before[name] = old.argv(name)
                plan.argv_after[name] = new.argv(name)


_ROLE_KIND = {"t5": "t5", "vae": "wan-vae", "clip": "clip"}


def _wrong_file_in_place(dest: Path, role: str) -> str | None:
    """What the file already at ``dest`` is, when it is not the model ``role`` needs."""
    kind = _ROLE_KIND.get(role)
    if kind is None or not dest.is_file():
        return None
    from wantui.core.models import inspect_file

    info = inspect_file(dest)
    if info.kind in ("unknown", "corrupt"):
        return None  # not surely wrong: the download compares it with the hub's file
    if info.kind == kind and not info.notes and info.details.get("layout", "wan") == "wan":
        return None
    return "; ".join(info.notes) or f"a {info.kind} file"


def argv_changes(before: list[str], after: list[str]) -> list[str]:
    """The tokens a fix adds, removes or replaces: ``+ --sdpa``, ``- --fp8_scaled``,
    ``~ bf16 -> fp16``."""
    import difflib

    out: list[str] = []
    ops = difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in ops:
        old, new = shlex.join(before[i1:i2]), shlex.join(after[j1:j2])
        if tag == "insert":
            out.append(f"+ {new}")
        elif tag == "delete":
            out.append(f"- {old}")
        elif tag == "replace":
            # a changed value reads better with its flag: "~ --task t2v-14B -> t2v-A14B"
            flag = before[i1 - 1] if i1 and before[i1 - 1].startswith("-") else ""
            if flag and not before[i1].startswith("-"):
                old = f"{flag} {old}"
            out.append(f"~ {old} -> {new}")
    return out
