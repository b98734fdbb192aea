"""Remove secrets and personal details from text a user will paste into a public issue.

Removed: tokens and keys of the common shapes (Hugging Face ``hf_...``, W&B's 40-hex API
keys, AWS access key ids and secrets, GitHub/OpenAI-style tokens, ``Bearer ...``,
``api_key=...``/``token: ...``/``password=...``), the value of every environment variable
whose name looks like ``*TOKEN*``, ``*KEY*``, ``*SECRET*``, ``*PASSWORD*`` (in ``NAME=value``
text and wherever the machine's own such values appear), the user's name and home folder
(shown as ``~``), the host name, IP addresses and e-mail addresses.

Pure: what to look for beyond the fixed shapes (the environment, the user and host names,
the home folder) is passed in as a :class:`Context`; :func:`context_from_machine` builds it
from this machine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_SECRET_NAME = re.compile(r"(?:TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.I)
# NAME=value / NAME: value where NAME looks secret (env dumps, .env files, `export`, YAML)
# the keyword in a lookahead (tried once per word): between two [A-Z0-9_]* it made the
# search quadratic on a long word of keywords ("KEYKEYKEY...")
_ASSIGN = re.compile(
    r"(?P<name>\b(?=[A-Z0-9_]*(?:TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL))[A-Z_][A-Z0-9_]*)"
    r"(?P<sep>\s*[=:]\s*)(?P<q>[\"']?)(?P<value>[^\s\"',;]{4,})"
)
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bhf_[A-Za-z0-9]{20,}"), "<hf-token>"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "<aws-key-id>"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"), "<github-token>"),
    (re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}"), "<api-key>"),
    (re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}"), "<slack-token>"),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"), "Bearer <token>"),
    (re.compile(r"(?i)(\bwandb\s+login\s+)(?:--relogin\s+)?[0-9a-f]{40}\b"), r"\1<wandb-key>"),
    (
        re.compile(
            r"(?i)(\b(?:api[_-]?key|access[_-]?token|auth[_-]?token|token|password|passwd|secret)\b\s*[=:]\s*[\"']?)[^\s\"',;]{4,}"
        ),
        r"\1<redacted>",
    ),
    # a URL's user:password@
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), r"\1<user>:<redacted>@"),
    # a bare 40-hex string next to "wandb" (W&B API keys)
    (re.compile(r"(?i)(wandb[^\n]{0,40}?)\b[0-9a-f]{40}\b"), r"\1<wandb-key>"),
)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_IPV4 = re.compile(
    r"(?<![\d.])(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?![\d.])"
)
_IPV6 = re.compile(r"(?i)(?<![0-9a-f:])(?:[0-9a-f]{1,4}:){4,7}[0-9a-f]{1,4}(?![0-9a-f:])")
_KEEP_IPS = {"0.0.0.0", "127.0.0.1"}
# home folders in any OS's spelling: /home/<user>, /Users/<user>, C:\Users\<user>
_HOME = re.compile(
    r"(?P<pre>(?:[A-Za-z]:)?[\\/]{1,2}(?:home|Users|users)[\\/]{1,2})(?P<user>[^\\/\s'\"]+)"
)
_PROMPT = re.compile(
    r"\b(?P<user>[a-z_][a-z0-9_-]{0,31})@(?P<host>[A-Za-z0-9][A-Za-z0-9.-]{0,62})(?=:)"
)


@dataclass
class Context:
    env: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    home: str | None = None
    host: str | None = None


def context_from_machine(extra_env: Mapping[str, str] | None = None) -> Context:
    """This machine's environment, user, home folder and host name."""
    import getpass
    import socket

    try:
        user: str | None = getpass.getuser()
    except Exception:  # no user name at all (a container without passwd): nothing to hide
        user = None
    try:
        host: str | None = socket.gethostname()
    except OSError:
        host = None
    env = dict(os.environ)
    env.update(extra_env or {})
    return Context(env=env, user=user, home=os.path.expanduser("~"), host=host)


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of environment variables whose names look secret (long enough to matter),
    longest first so a value containing another is replaced whole."""
    vals = {
        v for k, v in env.items() if _SECRET_NAME.search(k) and isinstance(v, str) and len(v) >= 6
    }
    return sorted(vals, key=len, reverse=True)


def redact(text: str, ctx: Context | None = None) -> str:
    """``text`` without secrets, personal names, hosts, IPs and e-mail addresses."""
    ctx = ctx or Context()
    out = text
    for value in secret_values(ctx.env):
        out = out.replace(value, "<redacted>")
    out = _ASSIGN.sub(lambda m: f"{m.group('name')}{m.group('sep')}{m.group('q')}<redacted>", out)
    for pat, repl in _SHAPES:
        out = pat.sub(repl, out)
    out = _EMAIL.sub("<email>", out)
    if ctx.home and len(ctx.home) > 1:
        out = out.replace(ctx.home, "~")
    out = _HOME.sub(
        lambda m: "~" if m.group("user") not in ("Shared", "Public") else m.group(0), out
    )
    out = _PROMPT.sub("<user>@<host>", out)
    if ctx.host and len(ctx.host) >= 3:
        out = re.sub(rf"(?<![\w.-]){re.escape(ctx.host)}(?![\w-])", "<host>", out)
    if ctx.user and len(ctx.user) >= 3 and ctx.user not in ("root", "user"):
        out = re.sub(rf"(?<![\w.-]){re.escape(ctx.user)}(?![\w-])", "<user>", out)
    out = _IPV4.sub(lambda m: m.group(0) if m.group(0) in _KEEP_IPS else "<ip>", out)
    out = _IPV6.sub("<ip>", out)
    return out
