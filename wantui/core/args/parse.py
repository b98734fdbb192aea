"""Turn a command line as users type or paste it into a :class:`ParsedCommand`.

Understands ``python X.py ...``, ``python -m musubi_tuner.wan_train_network ...``,
``accelerate launch [its flags] X.py ...``, ``python -m accelerate.commands.launch``,
``uv run``, repo-root wrappers and ``src/musubi_tuner/...`` paths, ``VAR=value`` and
``set VAR=value &&`` prefixes, ``cd DIR &&``, ``call .venv\\Scripts\\activate.bat &&`` /
``source .venv/bin/activate &&``, and ``\\`` / ``^`` / backtick line continuations.
Windows command lines are split like cmd.exe does (backslashes are path separators,
``"`` quotes, ``^`` escapes), POSIX ones with :mod:`shlex`.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from wantui.core.args.catalog import OTHER_ARCH_SCRIPTS, SCRIPT_STEPS, accelerate_options
from wantui.core.args.options import ArgView, is_option, launch_view, resolve_option, step_view
from wantui.core.errors import WantuiError

_CONTINUATION = re.compile(r"(?:\\|\^|`)[ \t]*\r?\n")
_WINDOWS_HINTS = re.compile(
    r"(?:^|[\s\"'=])[A-Za-z]:\\|\\Scripts\\|\.bat\b|\.exe\b|\^[ \t]*\r?\n|^\s*(?:call|set)\s",
    re.I | re.M,
)
_ENV_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SEPARATORS = ("&&", ";", "&", "||", "|")
_PY_RE = re.compile(r"^(?:python(?:\d+(?:\.\d+)?)?|py|pythonw)(?:\.exe)?$", re.I)


@dataclass
class ParsedCommand:
    """One pipeline command, taken apart."""

    argv: list[str]  # the command itself (prefixes removed), as tokens
    step: str | None  # latents | te | train | None (unknown script)
    launcher: str  # "python" | "accelerate"
    script: str  # as written: a path, or a module name with ``-m``
    script_name: str  # basename, e.g. "wan_train_network.py"
    args: list[str]  # the script's own arguments
    launch_args: list[str] = field(default_factory=list)  # accelerate's flags
    python: str | None = None  # the interpreter token, when given
    module: bool = False  # the script was given with ``-m``
    env: dict[str, str] = field(default_factory=dict)  # VAR=value / set VAR=value prefixes
    prefix: list[list[str]] = field(default_factory=list)  # other commands before it (activate, cd)
    cwd: Path | None = None  # the folder it runs in (cwd, or after ``cd DIR &&``)
    windows: bool = False
    dataset_config: str | None = None
    other_arch: bool = False  # a non-Wan script of the same checkout
    typography: list[str] = field(default_factory=list)  # smart punctuation read as ASCII

    @property
    def options(self) -> ArgView:
        """The script's own arguments, read by the command model."""
        return step_view(self.step, self.args)

    @property
    def launch(self) -> ArgView:
        """``accelerate launch``'s flags, read by the command model."""
        return launch_view(self.launch_args)


def looks_windows(text: str) -> bool:
    return bool(_WINDOWS_HINTS.search(text))


def split_windows(text: str) -> list[str]:
    """Split like cmd.exe + the MSVC runtime: ``"`` groups, ``^`` escapes, ``\\`` is literal.

    Separators (``&&``, ``&``, ``|``) outside quotes become their own tokens.
    """
    out: list[str] = []
    cur: list[str] = []
    have = False
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            if quoted and text[i + 1 : i + 2] == '"':  # "" inside quotes is a literal quote
                cur.append('"')
                i += 2
                continue
            quoted = not quoted
            have = True
        elif c == "^" and not quoted and i + 1 < len(text):
            cur.append(text[i + 1])
            have = True
            i += 2
            continue
        elif c == "\\" and text[i + 1 : i + 2] == '"':
            # \" is an escaped quote for the C runtime; \\ before " is one backslash
            cur.append('"')
            have = True
            i += 2
            continue
        elif c in " \t\r\n" and not quoted:
            if have:
                out.append("".join(cur))
            cur, have = [], False
        elif c in "&|" and not quoted:
            if have:
                out.append("".join(cur))
            cur, have = [], False
            op = text[i : i + 2] if text[i + 1 : i + 2] == c else c
            out.append(op)
            i += len(op)
            continue
        else:
            cur.append(c)
            have = True
        i += 1
    if quoted:
        raise WantuiError("unbalanced double quote in the command line")
    if have:
        out.append("".join(cur))
    return out


# Shell prompts copied along with a command from a guide or a terminal:
# "$ ", "(venv) user@box:~/musubi-tuner$ ", "PS C:\musubi> ", "(.venv) C:\Users\me\musubi tuner>"
_PROMPTS = (
    re.compile(r"^\s*(?:\([^()\r\n]*\)\s*)?[\w.-]+@[\w.-]+:[^\r\n$#]*[$#]\s+"),
    re.compile(r"^\s*(?:\([^()\r\n]*\)\s*)?(?:PS\s+)?[A-Za-z]:\\[^\r\n<>|\"]*>\s*"),
    re.compile(r"^\s*(?:\([^()\r\n]*\)\s*)?[$%>]\s+"),
)
# what a command line starts with, so that "C:\x\python.exe a.py > C:\log" keeps its text
_COMMAND_START = re.compile(
    r"""^(?:["']?(?:[^\s"']*[\\/])?(?:python[\d.]*|py|pythonw|accelerate)(?:\.exe)?["']?(?:\s|$)"""
    r"|[^\s]+\.py(?:\s|$)|(?:@?call|source|\.|cd|pushd|set|export|env|uv|conda|poetry|nohup)\s"
    r"|[A-Za-z_][A-Za-z0-9_]*=)",
    re.I,
)


def strip_prompt(line: str) -> str:
    """``line`` without a shell prompt pasted in front of the command, if it has one."""
    for prompt in _PROMPTS:
        m = prompt.match(line)
        if m and _COMMAND_START.match(line[m.end() :]):
            return line[m.end() :]
    return line


# Guides pasted from blogs, Word or chat apps: curly quotes, dashes for "--", and spaces
# that are not ASCII (no-break, ideographic from a Japanese IME, zero-width). The shell
# takes them literally, so musubi-tuner sees "–-dit" or "“my" and stops.
_SPACES = {"\u00a0": " ", "\u3000": " ", "\u2002": " ", "\u2003": " ", "\u2009": " ", "\u202f": " "}
_INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
_DASH_OPTION = re.compile(
    r"(?<![^\s\"'=])([\u2010-\u2015\u2212\uff0d][\u2010-\u2015\u2212\uff0d-]?|-[\u2010-\u2015\u2212\uff0d])(?=[A-Za-z])"
)
_CURLY_DOUBLE = re.compile(r"[\u201c\u201d\u201e\u201f\u00ab\u00bb\uff02]")
_CURLY_SINGLE = re.compile(r"(?<!\S)[\u2018\u201a]([^\u2018\u2019\s]*)\u2019(?!\S)")


def fix_typography(text: str) -> tuple[str, list[str]]:
    """``text`` with smart punctuation turned back into what the guide meant, and a short
    description of each kind of change (empty when there was none)."""
    changes: list[str] = []
    out = text
    for ch, repl in _SPACES.items():
        if ch in out:
            out = out.replace(ch, repl)
            changes.append(f"U+{ord(ch):04X} space read as a space")
    for ch in _INVISIBLE:
        if ch in out:
            out = out.replace(ch, "")
            changes.append(f"invisible U+{ord(ch):04X} removed")
    dashes = sorted({m.group(1) for m in _DASH_OPTION.finditer(out)})
    if dashes:
        out = _DASH_OPTION.sub("--", out)
        changes.append(", ".join(f"`{d}`" for d in dashes) + " before an option read as `--`")
    if _CURLY_DOUBLE.search(out):
        out = _CURLY_DOUBLE.sub('"', out)
        changes.append('curly double quotes read as `"`')
    if _CURLY_SINGLE.search(out):
        out = _CURLY_SINGLE.sub(r"'\1'", out)
        changes.append("curly single quotes read as `'`")
    return out, changes


def split_command(text: str) -> tuple[list[str], bool]:
    """Tokens of a pasted command and whether it was read as a Windows command line."""
    windows = looks_windows(text)
    text = _CONTINUATION.sub(" ", text.strip())
    # several lines (a pasted script): one command per line, comments and prompts dropped
    lines = [
        strip_prompt(line)
        for line in text.splitlines()
        if line.strip() and not re.match(r"^\s*(?:#|@?rem\b|::)", line, re.I)
    ]
    text = (" & " if windows else " ; ").join(lines)
    if windows:
        return split_windows(text), True
    lexer = shlex.shlex(text, posix=True, punctuation_chars="&;|")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer), False
    except ValueError as exc:
        raise WantuiError(f"cannot split the command line: {exc}") from None


def basename_any(path: str) -> str:
    """Basename for POSIX and Windows paths alike."""
    return re.split(r"[\\/]", path.rstrip("\\/"))[-1]


_REDIRECT = re.compile(r"^\d*(?:>>?|<)$")
_REDIRECT_GLUED = re.compile(r"^\d*(?:>>?|<)\S+$")


def _drop_redirections(tokens: list[str]) -> list[str]:
    """Remove ``> log``, ``>>log``, ``2>&1`` and ``< in``: they belong to the shell."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if _REDIRECT.match(tok):
            # "2>&1" arrives as "2>", "&", "1"
            if tokens[i + 1 : i + 2] == ["&"] and i + 2 < len(tokens) and tokens[i + 2].isdigit():
                i += 3
            else:
                i += 2
            continue
        if _REDIRECT_GLUED.match(tok) and not tok.startswith("-"):
            i += 1
            continue
        out.append(tok)
        i += 1
    return out


def _segments(tokens: list[str]) -> list[list[str]]:
    segs: list[list[str]] = [[]]
    for tok in tokens:
        if tok in _SEPARATORS:
            segs.append([])
        else:
            segs[-1].append(tok)
    return [s for s in segs if s]


_OTHER_LAUNCHERS = ("torchrun", "deepspeed", "torch.distributed.run", "torch.distributed.launch")


def _other_launcher(seg: list[str]) -> str | None:
    """``torchrun X.py`` / ``python -m torch.distributed.run X.py`` / ``deepspeed``: the
    script is there, but not as a step wantui can run."""
    words = [t for t in seg if not _ENV_ASSIGN.match(t)]
    for i, tok in enumerate(words[:4]):
        name = basename_any(tok).lower().removesuffix(".exe")
        if name in _OTHER_LAUNCHERS:
            return name
        if tok == "-m" and i + 1 < len(words) and words[i + 1] in _OTHER_LAUNCHERS:
            return f"python -m {words[i + 1]}"
    return None


def _is_main(seg: list[str]) -> bool:
    for tok in seg:
        if _ENV_ASSIGN.match(tok) or tok in (
            "env",
            "uv",
            "run",
            "poetry",
            "conda",
            "exec",
            "nohup",
            "time",
        ):
            continue
        name = basename_any(tok).lower()
        return (
            bool(_PY_RE.match(name))
            or name in ("accelerate", "accelerate.exe")
            or name.endswith(".py")
        )
    return False


POSIX_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
WINDOWS_VAR = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)%")
_TILDE_VALUE = re.compile(r"^(--?[A-Za-z0-9_-]+=)(~(?:/.*)?)$")


# a variable whose value is a secret (WANDB_API_KEY, HF_TOKEN...): never expanded from
# this process's environment, so `wantui import` saves the reference, not the secret;
# the runner expands it when the step starts (expand_secret_refs)
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH", re.IGNORECASE)


def expand_secret_refs(text: str, environ: dict[str, str] | None = None) -> str:
    """``$NAME`` / ``${NAME}`` of a secret-looking variable replaced by its value from
    ``environ`` (default: this process's), where set. What a shell would have done."""
    if "$" not in text:
        return text
    env = os.environ if environ is None else environ

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if SECRET_NAME.search(name) and name in env:
            return env[name]
        return m.group(0)

    return POSIX_VAR.sub(sub, text)


def expand_token(tok: str, shell_vars: dict[str, str], windows: bool) -> str:
    """``$VAR``, ``${VAR}`` and a leading ``~`` (POSIX) or ``%VAR%`` (Windows) as the
    shell would expand them: variables set earlier in the pasted text first, then this
    process's environment. Unknown variables stay as written (the checks then report the
    path). Quoting is already gone here, so ``'$X'`` is expanded too: rare in these
    commands, and the checks show the result."""
    if windows:
        upper = {k.upper(): v for k, v in shell_vars.items()}

        def win(m: re.Match[str]) -> str:
            name = m.group(1).upper()
            if name in upper:
                return upper[name]
            if SECRET_NAME.search(name):
                return m.group(0)  # keep the reference: never copy a secret into files
            return os.environ.get(m.group(1), m.group(0)) if os.name == "nt" else m.group(0)

        return WINDOWS_VAR.sub(win, tok)

    def posix(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name in shell_vars:
            return shell_vars[name]
        if SECRET_NAME.search(name):
            return m.group(0)  # keep the reference: never copy a secret into files
        value = os.environ.get(name)
        return value if value is not None else m.group(0)

    if "$" in tok:
        tok = POSIX_VAR.sub(posix, tok)
    if tok == "~" or tok.startswith("~/"):
        return os.path.expanduser(tok)
    m = _TILDE_VALUE.match(tok)
    if m:
        return m.group(1) + os.path.expanduser(m.group(2))
    return tok


def parse_commands(
    argv: list[str] | str, cwd: str | os.PathLike[str] | None = None
) -> list[ParsedCommand]:
    """Every musubi-tuner command in a pasted command line or script, in order."""
    typography: list[str] = []
    if isinstance(argv, list) and len(argv) == 1 and " " in argv[0]:
        argv = argv[0]  # `wantui check -- "python x.py --a b"`: one pasted string
    if isinstance(argv, str):
        text, typography = fix_typography(argv)
        tokens, windows = split_command(text)
    else:
        tokens = list(argv)
        _, typography = fix_typography(" ".join(tokens))
        if typography and not any(c in t for t in tokens for c in " \"'\t"):
            # the shell split on ASCII spaces and took “ ” as letters: read the words again
            # as the guide meant them
            tokens, _ = split_command(fix_typography(" ".join(tokens))[0])
        elif typography:
            tokens = [fix_typography(t)[0] for t in tokens]
        windows = any(looks_windows(t) for t in tokens)
    while tokens and tokens[0] in ("$", ">", "%"):  # a prompt pasted after `--`
        tokens = tokens[1:]
    if not tokens:
        raise WantuiError("empty command line")
    segs = _segments(_drop_redirections(tokens))
    for seg in segs:
        launcher = _other_launcher(seg)
        if launcher:
            raise WantuiError(
                f"`{launcher}` launches are not supported: wantui runs a step with python or"
                " `accelerate launch` (for several GPUs: `accelerate launch --multi_gpu"
                " --num_processes N ...`)"
            )
    if not any(_is_main(seg) for seg in segs):
        raise WantuiError("no python, accelerate or .py script found in the command line")
    env: dict[str, str] = {}
    shell_vars: dict[str, str] = {}  # what `$X` / `%X%` means further down the script
    prefix: list[list[str]] = []
    run_cwd = Path(cwd) if cwd is not None else Path.cwd()
    out: list[ParsedCommand] = []
    for seg in segs:
        # wantui runs steps without a shell, so expand what the shell would have
        seg = [expand_token(tok, shell_vars, windows) for tok in seg]
        if all(_ENV_ASSIGN.match(tok) for tok in seg):  # `MODELS=/data/models` alone
            for assign in seg:
                name, _, value = assign.partition("=")
                shell_vars[name] = value
            continue
        if _is_main(seg):
            # exported variables and `cd` carry over to later commands, like in a shell
            parsed = _parse_main(seg, dict(env), [list(p) for p in prefix], run_cwd, windows)
            parsed.typography = list(typography)
            out.append(parsed)
            continue
        head = seg[0].lower()
        if head in ("set", "export") and len(seg) >= 2:
            for assign in seg[1:]:
                name, eq, value = assign.partition("=")
                if eq:
                    env[name] = value.strip('"')
                    shell_vars[name] = env[name]
        elif head in ("cd", "pushd", "chdir") and len(seg) >= 2:
            target = seg[-1]
            run_cwd = (
                Path(target)
                if os.path.isabs(target) or re.match(r"^[A-Za-z]:", target)
                else run_cwd / target
            )
            prefix.append(seg)
        else:
            prefix.append(seg)
    return out


def parse_command(
    argv: list[str] | str, cwd: str | os.PathLike[str] | None = None
) -> ParsedCommand:
    """Parse a command line (a pasted string or an argv list); with several commands (a
    pasted script), the last one. Raises WantuiError when no Python script is in it."""
    return parse_commands(argv, cwd)[-1]


def _parse_main(
    main: list[str], env: dict[str, str], prefix: list[list[str]], run_cwd: Path, windows: bool
) -> ParsedCommand:
    i = 0
    while i < len(main):
        tok = main[i]
        if _ENV_ASSIGN.match(tok):
            name, _, value = tok.partition("=")
            env[name] = value
        elif tok in ("env", "exec", "nohup", "time"):
            pass
        elif tok in ("uv", "poetry") and main[i + 1 : i + 2] == ["run"]:
            i += 1
        elif tok == "conda" and main[i + 1 : i + 2] == ["run"]:
            i += 2  # conda run -n NAME
            while i < len(main) and main[i].startswith("-"):
                i += 2 if main[i] in ("-n", "--name", "-p", "--prefix") else 1
            continue
        else:
            break
        i += 1
    rest = main[i:]
    cmd = list(rest)
    python: str | None = None
    launcher = "python"
    launch_args: list[str] = []
    module = False
    if rest and _PY_RE.match(basename_any(rest[0])):
        python = rest[0]
        rest = rest[1:]
        while rest and rest[0].startswith("-") and rest[0] != "-m":
            # interpreter options: -u, -B, -X opt, -W arg
            rest = rest[2:] if rest[0] in ("-X", "-W") else rest[1:]
        if rest == ["-m"]:
            raise WantuiError("`python -m` without a module name in the command line")
        if rest[:1] == ["-m"] and len(rest) >= 2:
            mod = rest[1]
            if mod in ("accelerate.commands.launch",) or (
                mod == "accelerate" and rest[2:3] == ["launch"]
            ):
                launcher = "accelerate"
                rest = rest[2:] if mod != "accelerate" else rest[3:]
            else:
                module = True
                script = mod
                rest = rest[2:]
                return _finish(
                    cmd,
                    script,
                    rest,
                    python,
                    launcher,
                    launch_args,
                    module,
                    env,
                    prefix,
                    run_cwd,
                    windows,
                )
    elif rest and basename_any(rest[0]).lower() in ("accelerate", "accelerate.exe"):
        launcher = "accelerate"
        if rest[1:2] != ["launch"]:
            raise WantuiError(f"`{' '.join(rest[:2])}`: only `accelerate launch` runs a script")
        rest = rest[2:]
    if launcher == "accelerate":
        opts = accelerate_options()
        j = 0
        while j < len(rest) and is_option(rest[j]):
            tok = rest[j]
            name = tok.split("=", 1)[0]
            spec = resolve_option(name, opts)[0]
            launch_args.append(tok)
            j += 1
            if spec is not None and spec.name in ("--module",) or name == "-m":
                module = True
            if spec is not None and spec.takes_value and "=" not in tok and j < len(rest):
                launch_args.append(rest[j])
                j += 1
            elif (
                spec is None
                and "=" not in tok
                and j + 1 < len(rest)
                and not rest[j].endswith(".py")
                and not is_option(rest[j])
            ):
                # an unknown launch flag: assume it takes a value unless that value is the script
                launch_args.append(rest[j])
                j += 1
        rest = rest[j:]
    if not rest:
        raise WantuiError("no script found in the command line")
    script = rest[0]
    return _finish(
        cmd, script, rest[1:], python, launcher, launch_args, module, env, prefix, run_cwd, windows
    )


def _finish(
    cmd: list[str],
    script: str,
    args: list[str],
    python: str | None,
    launcher: str,
    launch_args: list[str],
    module: bool,
    env: dict[str, str],
    prefix: list[list[str]],
    cwd: Path,
    windows: bool,
) -> ParsedCommand:
    name = script.rsplit(".", 1)[-1] + ".py" if module else basename_any(script)
    step = SCRIPT_STEPS.get(name)
    parsed = ParsedCommand(
        argv=cmd,
        step=step if step else OTHER_ARCH_SCRIPTS.get(name),
        launcher=launcher,
        script=script,
        script_name=name,
        args=list(args),
        launch_args=launch_args,
        python=python,
        module=module,
        env=env,
        prefix=prefix,
        cwd=cwd,
        windows=windows,
        other_arch=step is None and name in OTHER_ARCH_SCRIPTS,
    )
    parsed.dataset_config = parsed.options.get("--dataset_config")
    return parsed


def join_posix(argv: list[str]) -> str:
    return shlex.join(argv)
