"""The project file, ``wantui.toml``: paths and the three pipeline steps as data.

Steps are argv lists, never shell strings. A project looks like::

    [project]
    name = "my-lora"
    musubi_dir = "/home/me/musubi-tuner"      # the checkout
    python = "/home/me/musubi-tuner/.venv/bin/python"   # the pipeline's interpreter
    dataset_config = "dataset.toml"             # relative to the project folder
    models_dir = "models"
    runs_dir = "runs"

    [steps.latents]
    script = "wan_cache_latents.py"             # relative to musubi_dir, or absolute
    args = ["--vae", "models/wan_2.1_vae.safetensors"]

    [steps.te]
    script = "wan_cache_text_encoder_outputs.py"
    args = ["--t5", "models/models_t5_umt5-xxl-enc-bf16.pth", "--batch_size", "16"]

    [steps.train]
    script = "wan_train_network.py"
    launcher = "accelerate"                     # or "python"
    launch_args = ["--num_cpu_threads_per_process", "1", "--mixed_precision", "bf16"]
    args = ["--task", "t2v-A14B", "--sdpa", ...]
    env = { PYTORCH_CUDA_ALLOC_CONF = "expandable_segments:True" }

``--dataset_config`` is kept once, at project level, and added to each step's argv when
it is rendered. Reading uses tomllib/tomli-free tomlkit so that saving keeps comments.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
import tomlkit.items

from wantui.core.errors import WantuiError
from wantui.core.fixactions import env_name_problem

PROJECT_FILE = "wantui.toml"
STEP_NAMES = ("latents", "te", "train")
_DEFAULTS = {"name": "wan-lora", "models_dir": "models", "runs_dir": "runs"}
DEFAULT_SCRIPTS = {
    "latents": "wan_cache_latents.py",
    "te": "wan_cache_text_encoder_outputs.py",
    "train": "wan_train_network.py",
}


@dataclass
class Step:
    name: str
    script: str
    args: list[str] = field(default_factory=list)
    launcher: str = "python"  # "python" or "accelerate" (train only)
    launch_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    enabled: bool = True


@dataclass
class Project:
    root: Path  # the folder holding wantui.toml
    name: str = "wan-lora"
    musubi_dir: str | None = None
    python: str | None = None
    dataset_config: str | None = None
    models_dir: str = "models"
    runs_dir: str = "runs"
    steps: dict[str, Step] = field(default_factory=dict)

    # -- paths -------------------------------------------------------------------------
    @property
    def file(self) -> Path:
        return self.root / PROJECT_FILE

    def resolve(self, p: str | os.PathLike[str]) -> Path:
        """A path from the project file, resolved against the project folder."""
        path = Path(os.path.expanduser(str(p)))
        return path if path.is_absolute() else self.root / path

    def dataset_config_path(self) -> Path | None:
        return self.resolve(self.dataset_config) if self.dataset_config else None

    def python_path(self) -> str:
        return str(self.resolve(self.python)) if self.python else sys.executable

    def script_path(self, step: Step) -> Path:
        script = Path(os.path.expanduser(step.script))
        if script.is_absolute():
            return script
        if self.musubi_dir:
            return self.resolve(self.musubi_dir) / script
        return self.root / script

    def runs_path(self) -> Path:
        return self.resolve(self.runs_dir)

    # -- argv --------------------------------------------------------------------------
    def argv(self, step_name: str) -> list[str]:
        """The exact argv of a step (interpreter first). Never a shell string."""
        from wantui.core.args.options import step_view

        step = self.steps[step_name]
        args = list(step.args)
        if self.dataset_config and not step_view(step_name, args).has("--dataset_config"):
            args = ["--dataset_config", str(self.dataset_config_path())] + args
        script = str(self.script_path(step))
        if step.launcher == "accelerate":
            return [
                self.python_path(),
                "-m",
                "accelerate.commands.launch",
                *step.launch_args,
                script,
                *args,
            ]
        return [self.python_path(), script, *args]

    def cwd(self) -> Path:
        """musubi-tuner resolves relative dataset paths from the working directory; wantui
        runs every step from the project folder so the TOML's relative paths mean the same
        thing in checks and in runs."""
        return self.root


def _str_list(value: Any, where: str, path: Path) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise WantuiError(f"{where} must be a list of strings", path=path)
    return [str(v) for v in value]


# a variable name every shell and cmd.exe take as it is: exported scripts and the
# runner's environment never see a name that could end a quote or start a command
ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_table(env: dict[str, Any], where: str, path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in env.items():
        if not ENV_KEY.fullmatch(k):
            raise WantuiError(
                f"{where}: {k!r} is not a valid environment variable name"
                " (letters, digits and _, not starting with a digit)",
                path=path,
            )
        denied = env_name_problem(k)  # LD_PRELOAD, PYTHONPATH...: a cloned file is not yours
        if denied:
            raise WantuiError(f"{where}: {denied}", path=path)
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise WantuiError(f"{where}.{k} must be a string", path=path)
        if "\0" in str(v):
            raise WantuiError(f"{where}.{k} contains a NUL character", path=path)
        out[k] = str(v)
    return out


def load_project(root: str | os.PathLike[str]) -> Project:
    """Load ``wantui.toml`` from a folder. Errors name the file and line."""
    given = Path(root)
    path = given / PROJECT_FILE if given.is_dir() else given
    from wantui.core.dataset.load import toml_error
    from wantui.core.fsutil import read_regular_file

    if not path.exists() and not path.is_symlink():
        raise WantuiError("no project file here (run `wantui` to set one up)", path=path)
    # a FIFO or /dev/zero in its place must not hang; a BOM (Notepad) is not an error
    raw = read_regular_file(path, limit=4 * 1024 * 1024, what="project file")
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise WantuiError(f"not UTF-8 text (byte {exc.start})", path=path) from None
    try:
        doc = tomlkit.parse(text)
    except Exception as exc:  # ParseError, and KeyAlreadyPresent for a duplicate key
        raise toml_error(exc, text, path) from None
    data = doc.unwrap()
    proj_tbl = data.get("project", {})
    if not isinstance(proj_tbl, dict):
        raise WantuiError("[project] must be a table", path=path)
    project = Project(root=path.parent.resolve())
    for key in ("name", "musubi_dir", "python", "dataset_config", "models_dir", "runs_dir"):
        if key in proj_tbl:
            if not isinstance(proj_tbl[key], str):
                raise WantuiError(f"project.{key} must be a string", path=path)
            setattr(project, key, proj_tbl[key])
    steps_tbl = data.get("steps", {})
    if not isinstance(steps_tbl, dict):
        raise WantuiError("[steps] must be a table", path=path)
    for name, tbl in steps_tbl.items():
        if name not in STEP_NAMES:
            raise WantuiError(
                f"unknown step [steps.{name}] (steps are {', '.join(STEP_NAMES)})", path=path
            )
        if not isinstance(tbl, dict):
            raise WantuiError(f"[steps.{name}] must be a table", path=path)
        env = tbl.get("env", {})
        if not isinstance(env, dict):
            raise WantuiError(f"steps.{name}.env must be a table", path=path)
        enabled = tbl.get("enabled", True)
        if not isinstance(enabled, bool):
            # `enabled = "false"` is a non-empty string: bool() would make it true
            raise WantuiError(
                f"steps.{name}.enabled must be true or false (without quotes),"
                f" not {type(enabled).__name__} {enabled!r}",
                path=path,
            )
        launcher = tbl.get("launcher", "python")
        if launcher not in ("python", "accelerate"):
            raise WantuiError(f"steps.{name}.launcher must be 'python' or 'accelerate'", path=path)
        project.steps[name] = Step(
            name=name,
            script=str(tbl.get("script", DEFAULT_SCRIPTS[name])),
            args=_str_list(tbl.get("args", []), f"steps.{name}.args", path),
            launcher=launcher,
            launch_args=_str_list(tbl.get("launch_args", []), f"steps.{name}.launch_args", path),
            env=_env_table(env, f"steps.{name}.env", path),
            enabled=enabled,
        )
    return project


def project_to_toml(project: Project, base: str | None = None) -> str:
    """Render a project as TOML text, merging into ``base`` (existing text) so that
    comments and order the user wrote survive."""
    doc = tomlkit.parse(base) if base else tomlkit.document()
    ptbl = doc.get("project")
    if ptbl is None:
        ptbl = tomlkit.table()
        if any(
            getattr(project, k) not in (None, _DEFAULTS.get(k))
            for k in ("name", "musubi_dir", "python", "dataset_config", "models_dir", "runs_dir")
        ):
            doc["project"] = ptbl  # only when there is something to say
    for key in ("name", "musubi_dir", "python", "dataset_config", "models_dir", "runs_dir"):
        value = getattr(project, key)
        if value is None:
            if key in ptbl:
                del ptbl[key]
        elif key not in ptbl and value == _DEFAULTS.get(key):
            continue  # don't spell out defaults the user never wrote
        elif ptbl.get(key) != value:
            ptbl[key] = value
    steps = doc.get("steps")
    if steps is None:
        steps = tomlkit.table(is_super_table=True)
        doc["steps"] = steps
    for name in STEP_NAMES:
        step = project.steps.get(name)
        if step is None:
            if name in steps:
                del steps[name]
            continue
        tbl = steps.get(name)
        new_table = tbl is None
        if tbl is None:
            tbl = tomlkit.table()
            steps[name] = tbl
        wanted: dict[str, Any] = {}
        # a new step says which script it runs; an existing one the user wrote without
        # `script` (the default) is not given one by a fix
        if new_table or "script" in tbl or step.script != DEFAULT_SCRIPTS[name]:
            wanted["script"] = step.script
        if step.launcher != "python" or "launcher" in tbl:
            wanted["launcher"] = step.launcher
        if step.launch_args or "launch_args" in tbl:
            wanted["launch_args"] = step.launch_args
        wanted["args"] = step.args
        if step.env or "env" in tbl:
            wanted["env"] = step.env
        if not step.enabled or "enabled" in tbl:
            wanted["enabled"] = step.enabled
        for key, value in wanted.items():
            current = tbl.get(key)
            current_plain = current.unwrap() if hasattr(current, "unwrap") else current
            if current_plain != value:
                if (
                    isinstance(value, list)
                    and isinstance(current, tomlkit.items.Array)
                    and _update_array(current, value)
                ):
                    pass  # edited in place: comments on the kept items survive
                elif isinstance(value, list):
                    arr = tomlkit.array()
                    arr.extend(value)
                    if len(value) > 4:
                        arr.multiline(True)
                    tbl[key] = arr
                elif isinstance(value, dict):
                    it = tomlkit.inline_table()
                    it.update(value)
                    tbl[key] = it
                else:
                    tbl[key] = value
    return tomlkit.dumps(doc)


def _update_array(arr: tomlkit.items.Array, values: list[str]) -> bool:
    """Turn ``arr`` into ``values`` with the fewest inserts and deletes, so that a fix
    which adds one flag leaves the user's other items, and their comments, untouched.

    Returns False when the edited array does not read back as ``values``: tomlkit can
    swallow an item appended after a trailing comment into that comment. The caller
    then writes a fresh array (comments inside it are lost, the values are right)."""
    import difflib

    old = [str(v) for v in arr]
    ops = difflib.SequenceMatcher(a=old, b=values, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in reversed(ops):  # back to front: indices stay valid
        if tag == "equal":
            continue
        # a changed value keeps its place and its comment; only the surplus is
        # deleted or inserted
        common = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for offset in range(common):
            arr[i1 + offset] = values[j1 + offset]
        for i in range(i2 - 1, i1 + common - 1, -1):
            del arr[i]
        for offset, value in enumerate(values[j1 + common : j2]):
            arr.insert(i1 + common + offset, value)
    try:
        return tomlkit.parse("x = " + arr.as_string())["x"].unwrap() == values
    except tomlkit.exceptions.ParseError:
        return False
