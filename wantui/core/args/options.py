"""The one reader of a step's options: argv tokens as argparse would take them.

Every part of wantui that asks "what does this step pass for ``--x``" reads it here: the
checks, the model-file checks, the probe's cross-checks, the run planner, import, the
fixes and the TUI. argparse semantics: exact names first, then a unique prefix
(``--mixed_prec`` is ``--mixed_precision``), ``--opt=value``, on/off switches, ``nargs``
(``?``, ``*``, ``+``, N), repeated options (the last one wins) and negative numbers read
as values. The option table is the script's catalog: the user's musubi-tuner read from source
when a check runs against it, else the bundled one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wantui.core.args.catalog import STEP_SCRIPTS, ArgSpec, accelerate_options, script_options

if TYPE_CHECKING:
    from wantui.core.project import Project


def is_option(tok: str) -> bool:
    """An option token, as argparse sees it (a negative number is a value)."""
    if not tok.startswith("-") or tok == "-":
        return False
    try:
        float(tok)
        return False
    except ValueError:
        return True


@dataclass(frozen=True)
class Occurrence:
    """One option as written in argv, with what argparse takes for it."""

    start: int  # index of the option token
    end: int  # index after the last token it owns (its values and any stray ones)
    written: str  # the name as typed ("--mixed_prec")
    spec: ArgSpec | None  # None: unknown, or an ambiguous prefix
    values: tuple[str, ...]  # what argparse stores
    extra: tuple[str, ...] = ()  # tokens after it that argparse leaves unrecognized
    inline: bool = False  # given as --opt=value
    ambiguous: tuple[str, ...] = ()  # the options an ambiguous prefix could mean

    @property
    def name(self) -> str:
        """The canonical option name (the written one for an unknown option)."""
        return self.spec.name if self.spec is not None else self.written

    @property
    def abbreviated(self) -> bool:
        return self.spec is not None and self.written not in self.spec.names


@dataclass
class ArgView:
    """A step's argv read once: every occurrence in order, and the last value of each."""

    args: list[str]
    occurrences: list[Occurrence] = field(default_factory=list)
    stray: list[tuple[int, str]] = field(default_factory=list)  # values with no option
    values: dict[str, list[str]] = field(default_factory=dict)  # canonical -> last values
    written: dict[str, str] = field(default_factory=dict)  # canonical -> last spelling
    counts: dict[str, int] = field(default_factory=dict)
    opts: Mapping[str, ArgSpec] = field(default_factory=dict, repr=False)  # the table read with

    def __bool__(self) -> bool:
        return bool(self.args)

    def has(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str) -> str | None:
        vals = self.values.get(name)
        return vals[0] if vals else None

    def get_all(self, name: str) -> list[str] | None:
        return list(self.values[name]) if name in self.values else None

    def int(self, name: str, default: int | None = None) -> int | None:
        v = self.get(name)
        try:
            return int(v) if v is not None else default
        except ValueError:
            return default

    def flag(self, name: str) -> str:
        """The option as the user wrote it last (fixes look it up by that)."""
        return self.written.get(name, name)

    def canonical(self, name: str) -> str:
        """``name`` as argparse resolves it in this table (an alias or a unique prefix
        becomes the option's name; anything else stays as it is)."""
        spec = resolve_option(name, self.opts)[0]
        return spec.name if spec is not None else name

    def find(self, name: str) -> list[Occurrence]:
        """Occurrences of ``name``: the option it resolves to (by any alias or prefix), or
        an unknown option written that way."""
        want = self.canonical(name)
        return [o for o in self.occurrences if o.name == want or o.written == name]


def resolve_option(
    name: str, opts: Mapping[str, ArgSpec]
) -> tuple[ArgSpec | None, tuple[str, ...]]:
    """argparse's lookup: exact, else a unique ``--`` prefix; (spec, ambiguous names)."""
    spec = opts.get(name)
    if spec is not None:
        return spec, ()
    if not name.startswith("--") or len(name) < 3:
        return None, ()
    hits = sorted({opts[n].name for n in opts if n.startswith(name)})
    if len(hits) == 1:
        return opts[hits[0]], ()
    return None, tuple(hits)


def read_args(args: Iterable[str], opts: Mapping[str, ArgSpec]) -> ArgView:
    """Walk ``args`` like argparse's ``parse_known_args`` with the option table ``opts``."""
    args = list(args)
    view = ArgView(args=args, opts=opts)
    i = 0
    while i < len(args):
        tok = args[i]
        if not is_option(tok):
            view.stray.append((i, tok))
            i += 1
            continue
        name, eq, inline = tok.partition("=") if tok.startswith("--") else (tok, "", "")
        j = i + 1
        while j < len(args) and not is_option(args[j]):
            j += 1
        following = args[i + 1 : j]
        spec, ambiguous = resolve_option(name, opts)
        if spec is None:
            vals = ([inline] if eq else []) + following
            view.occurrences.append(
                Occurrence(i, j, name, None, tuple(vals), (), bool(eq), ambiguous)
            )
            i = j
            continue
        if not spec.takes_value:
            vals, extra = [], ([inline] if eq else []) + following
        elif eq:
            vals, extra = [inline], following
        elif spec.nargs in ("*", "+"):
            vals, extra = following, []
        elif isinstance(spec.nargs, int) and spec.nargs > 1:
            vals, extra = following[: spec.nargs], following[spec.nargs :]
        else:
            vals, extra = following[:1], following[1:]
        occ = Occurrence(i, j, name, spec, tuple(vals), tuple(extra), bool(eq))
        view.occurrences.append(occ)
        view.values[spec.name] = list(vals)
        view.written[spec.name] = name
        view.counts[spec.name] = view.counts.get(spec.name, 0) + 1
        i = j
    return view


def step_options(step: str | None, script: str | None = None) -> Mapping[str, ArgSpec]:
    """The option table of a step's script (training's for an unknown step): the user's
    musubi-tuner when a check runs against it (:mod:`wantui.core.args.checkout`), else
    the bundled catalog."""
    from wantui.core.args.checkout import active_options

    name = script or STEP_SCRIPTS.get(step or "", STEP_SCRIPTS["train"])
    if name not in STEP_SCRIPTS.values():
        name = STEP_SCRIPTS.get(step or "", STEP_SCRIPTS["train"])
    return active_options(name) or script_options(name)


def step_view(step: str | None, args: Iterable[str], cwd: Path | None = None) -> ArgView:
    """A step's own arguments read with its script's options (training's ``--config_file``
    merged when ``cwd`` is given)."""
    if step == "train" and cwd is not None:
        return train_view(args, cwd)
    return read_args(args, step_options(step))


def launch_view(launch_args: Iterable[str]) -> ArgView:
    """``accelerate launch``'s own flags read with accelerate's options."""
    return read_args(launch_args, accelerate_options())


def options_for(step: str) -> Mapping[str, ArgSpec]:
    """The option table of ``step``; ``launch`` is accelerate's (the training step's launcher)."""
    return accelerate_options() if step == "launch" else step_options(step)


def without(args: list[str], view: ArgView, name: str) -> list[str]:
    """``args`` with every occurrence of ``name`` (and the tokens it owns) removed."""
    drop = {k for o in view.find(name) for k in range(o.start, o.end)}
    return [t for k, t in enumerate(args) if k not in drop]


def config_path(value: str, cwd: Path) -> Path:
    """Where musubi-tuner looks for ``--config_file VALUE`` (``.toml`` added when missing)."""
    path = Path(os.path.expanduser(value if value.endswith(".toml") else value + ".toml"))
    return path if path.is_absolute() else cwd / path


def apply_config(view: ArgView, data: Mapping[str, Any], opts: Mapping[str, ArgSpec]) -> None:
    """Fill the options not given on the command line from a ``--config_file`` TOML (tables
    flattened), as musubi-tuner's ``read_config_from_file`` does; values are not
    type-checked there, and unknown keys are kept silently."""
    flat: dict[str, Any] = {}
    for key, val in data.items():
        if isinstance(val, dict):
            flat.update(val)
        else:
            flat[key] = val
    for key, val in flat.items():
        spec = opts.get("--" + str(key))
        if spec is None or spec.name in view.values:
            continue  # the command line wins
        if isinstance(val, bool):
            if val:
                view.values[spec.name] = []
        elif isinstance(val, list):
            view.values[spec.name] = [str(v) for v in val]
        elif val is not None:
            view.values[spec.name] = [str(val)]


def read_config(path: Path) -> dict[str, Any]:
    """A ``--config_file`` TOML as data; raises OSError or a TOML error."""
    import tomlkit

    return tomlkit.parse(path.read_text(encoding="utf-8")).unwrap()


def train_view(args: Iterable[str], cwd: Path | None = None) -> ArgView:
    """The training step read with its ``--config_file`` merged (when ``cwd`` is given and
    the file reads; the argument checks report one that does not)."""
    view = step_view("train", args)
    value = view.get("--config_file")
    if cwd is not None and value:
        try:
            apply_config(view, read_config(config_path(value, cwd)), step_options("train"))
        except Exception:  # noqa: BLE001 - reported by check_files.merge_config_file
            pass
    return view


def project_view(project: Project | None, step: str) -> ArgView:
    """An enabled step's arguments read by the model (empty for a missing or disabled
    step); training's ``--config_file`` merged."""
    st = project.steps.get(step) if project is not None else None
    if st is None or not st.enabled:
        return read_args([], step_options(step))
    return step_view(step, st.args, cwd=project.cwd() if step == "train" else None)


def project_launch(project: Project | None) -> ArgView:
    """The training step's ``accelerate launch`` flags (empty under ``python``)."""
    st = project.steps.get("train") if project is not None else None
    if st is None or st.launcher != "accelerate":
        return launch_view([])
    return launch_view(st.launch_args)


def map_values(
    args: list[str], view: ArgView, names: Iterable[str], fn: Callable[[str], str]
) -> list[str]:
    """``args`` with each value of the options ``names`` passed through ``fn`` (paths made
    relative to another folder, for instance); ``--opt=value`` stays in that form."""
    wanted = set(names)
    out = list(args)
    for o in view.occurrences:
        if o.name not in wanted or not o.values:
            continue
        if o.inline:
            out[o.start] = f"{o.written}={fn(o.values[0])}"
        else:
            for k, v in enumerate(o.values):
                out[o.start + 1 + k] = fn(v)
    return out
