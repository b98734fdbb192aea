"""The away settings, from ``wantui.toml``, the user's config and the environment.

``wantui.toml``::

    [project]
    price_per_hour = 0.79                    # what the rented GPU costs (the meter)
    on_finish = ["runpodctl", "stop", "pod", "$RUNPOD_POD_ID"]   # argv, no shell
    on_failure = ["runpodctl", "stop", "pod", "$RUNPOD_POD_ID"]  # opt-in
    finish_delay = 60                         # seconds of countdown before either

    [notify]
    urls = ["$NTFY_URL", "json://127.0.0.1:8000/hook"]   # apprise URLs; $VAR kept as written
    events = ["finished", "failed", "nan", "stall", "idle", "download"]
    stall_minutes = 20                        # no progress this long: "stall"
    idle_minutes = 15                         # GPU left idle this long after a failure

The user's config, ``$XDG_CONFIG_HOME/wantui/config.toml`` (``~/.config``), takes the
same ``[notify]`` table and ``price_per_hour`` under ``[project]``; ``WANTUI_NOTIFY``
(space-separated URLs) and ``WANTUI_PRICE_PER_HOUR`` add a one-off. URLs are kept as
written (a ``$VAR`` stays a reference) and expanded only when a message is sent.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wantui.core.errors import WantuiError

EVENTS = ("finished", "failed", "nan", "stall", "idle", "download", "test")
DEFAULT_STALL_MIN = 20.0
DEFAULT_IDLE_MIN = 15.0
DEFAULT_FINISH_DELAY = 60.0
ENV_URLS = "WANTUI_NOTIFY"
ENV_PRICE = "WANTUI_PRICE_PER_HOUR"


@dataclass
class AwayConfig:
    urls: list[str] = field(default_factory=list)  # as written: "$VAR" stays a reference
    events: frozenset[str] = frozenset(EVENTS)
    stall_minutes: float = DEFAULT_STALL_MIN
    idle_minutes: float = DEFAULT_IDLE_MIN
    price_per_hour: float | None = None
    on_finish: list[str] | str | None = None
    on_failure: list[str] | str | None = None
    finish_delay: float = DEFAULT_FINISH_DELAY

    def wants(self, event: str) -> bool:
        return bool(self.urls) and (event == "test" or event in self.events)


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "wantui" / "config.toml"


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    import tomlkit

    from wantui.core.dataset.load import toml_error
    from wantui.core.fsutil import read_regular_file

    if not path.exists():
        return {}
    raw = read_regular_file(path, limit=4 * 1024 * 1024, what=what)
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise WantuiError(f"not UTF-8 text (byte {exc.start})", path=path) from None
    try:
        return tomlkit.parse(text).unwrap()
    except Exception as exc:  # ParseError, KeyAlreadyPresent
        raise toml_error(exc, text, path) from None


def parse_price(value: Any, where: str, path: Path | None = None) -> float:
    """A price per hour: a finite number of 0 or more (the planner's --price rule)."""
    if isinstance(value, str):
        try:
            value = float(value.strip().lstrip("$€£"))
        except ValueError:
            raise WantuiError(
                f"{where} must be a number (per hour), not {value!r}", path=path
            ) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WantuiError(f"{where} must be a number (per hour)", path=path)
    if not (math.isfinite(value) and value >= 0):
        raise WantuiError(f"{where} must be a number of 0 or more", path=path)
    return float(value)


def _minutes(value: Any, where: str, path: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WantuiError(f"{where} must be a number of minutes", path=path)
    if not (math.isfinite(value) and value >= 0):
        raise WantuiError(f"{where} must be 0 (off) or more", path=path)
    return float(value)


def _command(value: Any, where: str, path: Path) -> list[str] | str | None:
    """An argv list (run as it is) or a string (run by the shell: the user wrote one)."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip() or "\0" in value:
            raise WantuiError(f"{where} must be a non-empty command", path=path)
        return value
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, str) and v and "\0" not in v for v in value)
    ):
        return list(value)
    raise WantuiError(f"{where} must be a list of strings (argv) or a string", path=path)


def _notify_table(data: dict[str, Any], cfg: AwayConfig, path: Path, *, events_set: bool) -> bool:
    tbl = data.get("notify", {})
    if not isinstance(tbl, dict):
        raise WantuiError("[notify] must be a table", path=path)
    urls = tbl.get("urls", [])
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        # the value is not echoed: it may hold a secret
        raise WantuiError("notify.urls must be a list of strings (apprise URLs)", path=path)
    for u in urls:
        if u.strip() and u.strip() not in cfg.urls:
            cfg.urls.append(u.strip())
    if "events" in tbl and not events_set:
        ev = tbl["events"]
        if not isinstance(ev, list) or not all(isinstance(e, str) for e in ev):
            raise WantuiError("notify.events must be a list of strings", path=path)
        unknown = [e for e in ev if e not in EVENTS]
        if unknown:
            raise WantuiError(
                f"notify.events: unknown event {unknown[0]!r} (events are {', '.join(EVENTS[:-1])})",
                path=path,
            )
        cfg.events = frozenset(ev)
        events_set = True
    for key in ("stall_minutes", "idle_minutes"):
        if key in tbl:
            setattr(cfg, key, _minutes(tbl[key], f"notify.{key}", path))
    return events_set


def load_away(project_root: Path | None, *, environ: dict[str, str] | None = None) -> AwayConfig:
    """The settings for a project (None: the user's config and environment only).
    Raises WantuiError naming the file for a bad value."""
    env = os.environ if environ is None else environ
    cfg = AwayConfig()
    events_set = False
    price: float | None = None
    if project_root is not None:
        path = project_root / "wantui.toml"
        data = _read_toml(path, "project file")
        events_set = _notify_table(data, cfg, path, events_set=False)
        proj = data.get("project", {})
        if isinstance(proj, dict):
            if "price_per_hour" in proj:
                price = parse_price(proj["price_per_hour"], "project.price_per_hour", path)
            cfg.on_finish = _command(proj.get("on_finish"), "project.on_finish", path)
            cfg.on_failure = _command(proj.get("on_failure"), "project.on_failure", path)
            if "finish_delay" in proj:
                d = proj["finish_delay"]
                if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 <= d < 86400:
                    raise WantuiError(
                        "project.finish_delay must be seconds (0 to 86399)", path=path
                    )
                cfg.finish_delay = float(d)
    upath = user_config_path()
    udata = _read_toml(upath, "user config")
    _notify_table(udata, cfg, upath, events_set=events_set)
    uproj = udata.get("project", {})
    if price is None and isinstance(uproj, dict) and "price_per_hour" in uproj:
        price = parse_price(uproj["price_per_hour"], "project.price_per_hour", upath)
    for u in env.get(ENV_URLS, "").split():
        if u not in cfg.urls:
            cfg.urls.append(u)
    if env.get(ENV_PRICE, "").strip():
        price = parse_price(env[ENV_PRICE], ENV_PRICE)
    cfg.price_per_hour = price
    return cfg
