"""Traceback anatomy: what a Python failure says, read from normalised log lines.

For a failure no rule explains, wantui shows the anatomy instead of a bare "no rule": the
exception type and message, the chain of exceptions ("During handling of the above
exception...", "The above exception was the direct cause..."), the innermost frame and
who owns it (musubi-tuner, torch, accelerate, transformers, diffusers, a GUI wrapper, the
user's own script), and the files named in the message with what is wrong with their
names (invisible characters, a Windows path on Linux, a file that does not exist, a near
miss in its folder).

Pure: it reads text. Whether a file exists is asked through the ``exists``/``listdir``
callables the caller passes (the CLI passes the file system; tests pass a dict).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wantui.core.pathtext import invisible_characters, looks_windows

_TRACEBACK = re.compile(r"Traceback \(most recent call last\):")
_FILE = re.compile(r'^\s*(?:> )?File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$')
_EXC = re.compile(
    r"^\s*(?:> )?(?P<type>(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Interrupt|Exit|Failure|Warning))"
    r"(?::\s?(?P<msg>.*))?$"
)
_DURING = "During handling of the above exception, another exception occurred"
_CAUSE = "The above exception was the direct cause of the following exception"
# a quoted thing in a message that looks like a path: a separator, or a known extension
_QUOTED = re.compile(r"""(?P<q>['"])(?P<p>[^'"\n]{1,1024}?)(?P=q)""")
_PATHISH = re.compile(
    r"[\\/]|\.(?:safetensors|pth|pt|bin|ckpt|gguf|toml|json|txt|py|yaml|caption)$", re.I
)

OWNERS = (
    "musubi-tuner",
    "torch",
    "triton",
    "accelerate",
    "transformers",
    "diffusers",
    "safetensors",
    "huggingface_hub",
    "bitsandbytes",
    "python",
    "gui-wrapper",
    "user-script",
)
_PACKAGE = re.compile(r"(?:site|dist)-packages[\\/](?P<pkg>[\w.-]+)")
# package folder -> owner, for frames under site-packages
_PACKAGES = {
    "musubi_tuner": "musubi-tuner",
    "torch": "torch",
    "triton": "triton",
    "accelerate": "accelerate",
    "transformers": "transformers",
    "diffusers": "diffusers",
    "safetensors": "safetensors",
    "huggingface_hub": "huggingface_hub",
    "bitsandbytes": "bitsandbytes",
    "gradio": "gui-wrapper",
}
# a checkout of musubi-tuner (its own copy inside a GUI counts): the package folder, the
# old flat layout's modules, or one of its scripts
_MUSUBI = re.compile(
    r"[\\/]musubi_tuner[\\/]"
    r"|(?:^|[\\/])(?:hunyuan_model|wan|frame_pack|qwen_image|flux|flux_2|zimage|hunyuan_video_1_5"
    r"|kandinsky5|krea2|hidream_o1|ideogram4)[\\/][\w.]+\.py$"
    r"|musubi.*[\\/](?:dataset|networks|modules|utils)[\\/][\w.]+\.py$"
    r"|(?:^|[\\/])(?:wan|hv|hv_1_5|fpack|qwen_image|flux_kontext|flux_2|zimage|kandinsky5|krea2"
    r"|hidream_o1|ideogram4)_\w+\.py$"
    r"|(?:^|[\\/])(?:cache_latents|cache_text_encoder_outputs|merge_lora|convert_lora)\.py$"
)
_GUI = re.compile(
    r"custom_nodes[\\/]|[\\/]ComfyUI[\\/]execution\.py|[\\/]backend[\\/]app[\\/]"
    r"|(?:^|[\\/])run_\w*train\w*\.py$",
    re.I,
)
_STDLIB = re.compile(
    r"^<frozen |[\\/]lib[\\/](?:python3\.\d+[\\/])?[\w]+\.py$|[\\/]lib[\\/]python3\.\d+[\\/]"
    r"|^(?:configparser|codecs|runpy|threading|subprocess|linecache|traceback)\.py$",
    re.I,
)


MAX_PATH_CHARS = 4096  # PATH_MAX: a longer "path" in a log is not one


def frame_owner(path: str) -> str:
    """Who owns a frame's file, from its path alone."""
    if len(path) > MAX_PATH_CHARS:
        # the patterns below are quadratic on a hostile 64 KiB "path"; none is a real one
        return "user-script"
    m = _PACKAGE.search(path)
    if m is not None:
        pkg = m.group("pkg")
        return _PACKAGES.get(pkg, pkg.split(".")[0])
    if _GUI.search(path):
        return "gui-wrapper"
    if _MUSUBI.search(path):
        return "musubi-tuner"
    if re.search(r"musubi-tuner-gui|gui\.py$", path, re.I):
        return "gui-wrapper"
    if _STDLIB.search(path):
        return "python"
    return "user-script"


@dataclass(frozen=True)
class Frame:
    path: str
    line: int
    function: str
    owner: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} in {self.function}"


@dataclass(frozen=True)
class ExceptionInfo:
    type: str
    message: str
    link: str = ""  # how it follows the one before: "during-handling" | "direct-cause" | ""

    @property
    def short_type(self) -> str:
        return self.type.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class NamedFile:
    path: str
    exists: bool | None  # None: not checked
    problems: tuple[str, ...] = ()
    cleaned: str | None = None  # the path without invisible characters, when it had some
    near: str | None = None  # a close name in the same folder, when the file is missing


@dataclass
class Anatomy:
    exception: ExceptionInfo
    chain: list[ExceptionInfo] = field(default_factory=list)  # earlier exceptions, oldest first
    frames: list[Frame] = field(default_factory=list)  # of the last traceback, outermost first
    files: list[NamedFile] = field(default_factory=list)

    @property
    def innermost(self) -> Frame | None:
        return self.frames[-1] if self.frames else None

    @property
    def owner(self) -> str:
        """Owner of the innermost frame, ``unknown`` when the traceback has none."""
        return self.innermost.owner if self.innermost else "unknown"

    @property
    def deepest_own(self) -> Frame | None:
        """The innermost musubi-tuner frame (where musubi's code called what failed)."""
        return next((f for f in reversed(self.frames) if f.owner == "musubi-tuner"), None)

    def summary(self) -> list[str]:
        """Human lines, most telling first."""
        return summary_lines(self.to_json())

    def to_json(self) -> dict[str, Any]:
        inner = self.innermost
        return {
            "exception": {"type": self.exception.type, "message": self.exception.message},
            "chain": [{"type": e.type, "message": e.message, "link": e.link} for e in self.chain],
            "innermost": (
                {
                    "path": inner.path,
                    "line": inner.line,
                    "function": inner.function,
                    "owner": inner.owner,
                }
                if inner
                else None
            ),
            "owner": self.owner,
            "frames": [
                {"path": f.path, "line": f.line, "function": f.function, "owner": f.owner}
                for f in self.frames
            ],
            "files": [
                {
                    "path": f.path,
                    "exists": f.exists,
                    "problems": list(f.problems),
                    "cleaned": f.cleaned,
                    "near": f.near,
                }
                for f in self.files
            ],
        }


def summary_lines(d: dict[str, Any]) -> list[str]:
    """The human lines of an anatomy (its ``to_json`` form, as a Finding carries it)."""
    exc = d["exception"]
    out = [f"exception: {exc['type']}" + (f": {exc['message']}" if exc["message"] else "")]
    for earlier in d.get("chain", []):
        out.append(
            f"  which followed: {earlier['type']}"
            + (f": {earlier['message']}" if earlier["message"] else "")
        )
    inner = d.get("innermost")
    if inner:
        out.append(
            f"raised in: {inner['path']}:{inner['line']} in {inner['function']} (owner: {inner['owner']})"
        )
        own = next((f for f in reversed(d.get("frames", [])) if f["owner"] == "musubi-tuner"), None)
        if own is not None and own != inner:
            out.append(f"last musubi-tuner frame: {own['path']}:{own['line']} in {own['function']}")
    else:
        out.append("raised in: unknown (no traceback frames in the log)")
    for f in d.get("files", []):
        state = {True: "exists", False: "does not exist", None: "not checked"}[f["exists"]]
        extra = "; ".join(f["problems"])
        line = f"file named: {f['path']!r} ({state}{'; ' + extra if extra else ''})"
        if f.get("cleaned") is not None:
            line += f"; cleaned: {f['cleaned']!r}"
        if f.get("near"):
            line += f"; did you mean {f['near']!r}?"
        out.append(line)
    return out


def parse(
    lines: Iterable[str],
    *,
    exists: Callable[[str], bool] | None = None,
    listdir: Callable[[str], Sequence[str]] | None = None,
    windows: bool = False,
) -> Anatomy | None:
    """The anatomy of the last exception in ``lines`` (normalised log text), with the
    exceptions chained before it. ``None`` when no exception line is found."""
    blocks: list[tuple[list[Frame], ExceptionInfo]] = []
    frames: list[Frame] = []
    link = ""
    in_tb = False
    for raw in lines:
        text = raw.rstrip()
        if _DURING in text:
            link, frames, in_tb = "during-handling", [], False
            continue
        if _CAUSE in text:
            link, frames, in_tb = "direct-cause", [], False
            continue
        if _TRACEBACK.search(text):
            frames, in_tb = [], True
            continue
        fm = _FILE.match(text)
        if fm is not None:
            path = fm.group("path")
            frames.append(
                Frame(
                    path,
                    int(fm.group("line")),
                    (fm.group("func") or "?").strip(),
                    frame_owner(path),
                )
            )
            in_tb = True
            continue
        em = _EXC.match(text)
        if em is not None and (in_tb or frames or not blocks):
            exc = ExceptionInfo(em.group("type"), (em.group("msg") or "").strip(), link)
            if not frames and blocks and blocks[-1][1] == exc:
                continue  # the same line printed again (a GUI echo)
            blocks.append((frames, exc))
            frames, link, in_tb = [], "", False
    if not blocks:
        return None
    last_frames, last_exc = blocks[-1]
    chain: list[ExceptionInfo] = []
    # walk back while each exception says it follows the one before
    i = len(blocks) - 1
    while i > 0 and blocks[i][1].link:
        chain.insert(0, blocks[i - 1][1])
        i -= 1
    files = [
        _named_file(p, exists=exists, listdir=listdir, windows=windows)
        for p in files_in_message(last_exc.message)
    ]
    return Anatomy(last_exc, chain, last_frames, files)


def files_in_message(message: str) -> list[str]:
    """Quoted paths in an exception message (``No such file or directory: 'x'``,
    ``Incorrect path_or_model_id: './models/a.safetensors'``), in order, once each."""
    out: list[str] = []
    for m in _QUOTED.finditer(message):
        p = m.group("p")
        if (
            (_PATHISH.search(p) or p == "")
            and p not in out
            and not p.startswith(("http://", "https://"))
        ):
            out.append(p)
    if not out and re.search(r"No such file or directory: ''", message):
        out.append("")
    return out


def _named_file(
    path: str,
    *,
    exists: Callable[[str], bool] | None,
    listdir: Callable[[str], Sequence[str]] | None,
    windows: bool,
) -> NamedFile:
    problems: list[str] = []
    if path == "":
        return NamedFile(path, False, ("the path is empty: an option was given no value",))
    chars = invisible_characters(path)
    cleaned = None
    if chars:
        problems.append("invisible character " + ", ".join(f"U+{ord(c):04X} {n}" for c, n in chars))
        cleaned = _clean_escaped(path)
    if looks_windows(path) and not windows:
        problems.append("a Windows path, but this machine is not Windows")
    try:
        found = exists(path) if exists is not None else None
    except (OSError, ValueError):  # a path from log text the OS cannot even ask about
        found = None
    near = None
    if found is False and listdir is not None:
        near = _near(path, listdir)
    return NamedFile(path, found, tuple(problems), cleaned, near)


def _clean_escaped(path: str) -> str:
    from wantui.core.pathtext import clean_path

    return clean_path(path)


def _near(path: str, listdir: Callable[[str], Sequence[str]]) -> str | None:
    import difflib
    import posixpath

    norm = path.replace("\\", "/")
    folder, name = posixpath.split(norm)
    try:
        names = list(listdir(folder or "."))[:5000]  # a huge folder: bounded time
    except (OSError, ValueError):  # ValueError: a NUL in a path taken from log text
        return None
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    if not close or close[0] == name:
        return None
    return posixpath.join(folder, close[0]) if folder else close[0]
