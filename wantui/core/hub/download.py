"""Download one hub file into the user's models folder, resumable and verified.

It uses the real huggingface_hub client: ``get_hf_file_metadata`` for the size, etag and
commit (and its typed errors for gated/missing repositories), and ``http_get`` for the
transfer with Range-based resume. wantui keeps its own partial file
(``<dest>/.wantui-partial/<file>.<etag>.part``) because ``hf_hub_download`` discards a
process's partial download when it fails; a second ``wantui download`` after a cut picks
up where the first stopped.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from wantui.core.errors import WantuiError
from wantui.core.fsutil import fsync_dir, open_state_file, real_folder, sha256_file
from wantui.core.hub.catalog import HubFile, resolve_spec
from wantui.core.hub.compat import entry_not_found_errors, silent_http_get

PARTIAL_DIR = ".wantui-partial"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Keep this much free beyond the file itself: a full disk also breaks the training run.
DISK_MARGIN = 64 * 1024 * 1024


@dataclass(frozen=True)
class DownloadProgress:
    """One progress report: bytes done of total (None when unknown), rate, ETA."""

    phase: str  # "download", "verify", "done"
    done: int
    total: int | None
    rate: float  # bytes per second over the last few seconds
    eta_s: float | None

    def describe(self) -> str:
        def size(n: float) -> str:
            return human_size(int(n))

        total = size(self.total) if self.total is not None else "?"
        eta = f", ETA {format_eta(self.eta_s)}" if self.eta_s is not None else ""
        if self.phase == "verify":
            return f"verifying sha256 of {total}"
        return f"{size(self.done)} / {total} at {size(self.rate)}/s{eta}"


ProgressCallback = Callable[[DownloadProgress], None]


def human_size(n: int | None) -> str:
    if n is None:
        return "unknown size"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def format_eta(seconds: float) -> str:
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def free_space(folder: Path) -> int | None:
    """Free bytes on the filesystem that will hold ``folder`` (nearest existing parent)."""
    for candidate in (folder, *folder.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def offline_mode() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]*@")
_HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{8,}")


def redact(text: str) -> str:
    """``text`` without credentials: ``user:token@`` of a URL (an HF_ENDPOINT such as
    https://user:hf_xxx@mirror/) and anything shaped like an HF token."""
    return _HF_TOKEN.sub("hf_***", _URL_CREDENTIALS.sub(r"\1***@", text))


def hub_endpoint() -> str:
    # read at call time: huggingface_hub.constants freezes HF_ENDPOINT at import
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


class _ProgressWriter:
    """File wrapper that reports bytes written to a callback, with a rate over ~5 s."""

    def __init__(self, f: BinaryIO, start: int, total: int | None, cb: ProgressCallback | None):
        self._f = f
        self.done = start
        self.total = total
        self._cb = cb
        self._window: list[tuple[float, int]] = [(time.monotonic(), start)]
        self._last_report = 0.0

    def write(self, data: bytes) -> int:
        n = self._f.write(data)
        self.done += len(data)
        self._report()
        return n

    def _report(self, force: bool = False) -> None:
        if self._cb is None:
            return
        now = time.monotonic()
        if not force and now - self._last_report < 0.2:
            return
        self._last_report = now
        self._window.append((now, self.done))
        while len(self._window) > 2 and now - self._window[0][0] > 5.0:
            self._window.pop(0)
        t0, b0 = self._window[0]
        rate = (self.done - b0) / (now - t0) if now > t0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 and self.total is not None else None
        self._cb(DownloadProgress("download", self.done, self.total, rate, eta))

    # http_get rewinds the file when a server ignores a Range request
    def seek(self, offset: int, whence: int = 0) -> int:
        pos = self._f.seek(offset, whence)
        self.done = pos
        return pos

    def tell(self) -> int:
        return self._f.tell()

    def truncate(self, size: int | None = None) -> int:
        return self._f.truncate(size)

    def flush(self) -> None:
        self._f.flush()


def explain_hub_error(exc: BaseException, f: HubFile, has_token: bool) -> str:
    """One line for a hub failure: gated, missing repo, missing file, network; never a
    credential (an exception's text may hold the URL with its user:token@)."""
    return redact(_explain_hub_error(exc, f, has_token))


def _explain_hub_error(exc: BaseException, f: HubFile, has_token: bool) -> str:
    from huggingface_hub import errors

    repo = f.repo
    login = "set HF_TOKEN or run `hf auth login`"
    if isinstance(exc, errors.GatedRepoError):
        if has_token:
            return f"{repo} is gated and your token has no access: accept its terms at https://huggingface.co/{repo}"
        return f"{repo} is gated: accept its terms at https://huggingface.co/{repo}, then {login}"
    if isinstance(exc, errors.RepositoryNotFoundError):
        extra = "" if has_token else f" (if it is private or gated, {login})"
        return f"repository {repo} not found on the hub{extra}"
    if isinstance(exc, errors.RevisionNotFoundError):
        return f"{repo} has no such revision"
    if isinstance(exc, entry_not_found_errors()):
        return f"{repo} has no file {f.filename}"
    if isinstance(exc, errors.OfflineModeIsEnabled):
        return (
            "HF_HUB_OFFLINE is set: downloads are disabled (unset it, or copy the file in by hand)"
        )
    if isinstance(exc, errors.HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        if status in (401, 403):
            return (
                f"{repo}: access denied (HTTP {status}); {login} with an account that can read it"
            )
        if status == 404:
            return f"{repo}/{f.filename} not found (HTTP 404)"
        return f"hub error for {repo}/{f.filename}: HTTP {status}"
    return f"cannot reach the hub at {hub_endpoint()}: {type(exc).__name__}: {exc}".splitlines()[0]


@dataclass(frozen=True)
class RemoteInfo:
    url: str
    size: int | None
    etag: str | None
    sha256: str | None
    commit: str | None


def remote_info(f: HubFile, *, revision: str = "main", token: str | None = None) -> RemoteInfo:
    """HEAD the file on the hub: size, etag, sha256 (LFS files) and the URL to GET."""
    from huggingface_hub import get_hf_file_metadata, get_token, hf_hub_url

    if token is None:
        token = get_token()  # HF_TOKEN or the hf login; never printed
    if offline_mode():
        raise WantuiError(
            "HF_HUB_OFFLINE=1 is set, so wantui will not download "
            f"{f.repo}/{f.filename}: unset it or copy the file into the models folder"
        )
    endpoint = hub_endpoint()
    url = hf_hub_url(f.repo, f.filename, revision=revision, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, token=token or False, endpoint=endpoint)
    except Exception as exc:  # every hub/network failure becomes one line
        raise WantuiError(explain_hub_error(exc, f, bool(token))) from None
    etag = meta.etag
    sha = f.sha256 or (etag if etag and _SHA256.match(etag) else None)
    # huggingface_hub 0.x reports a redirect's "Content-Length: 0" as the size when the hub
    # sends no X-Linked-Size; no model file is empty, so 0 means "unknown"
    size = f.size if f.size is not None else (meta.size or None)
    return RemoteInfo(meta.location, size, etag, sha, meta.commit_hash)


# A connection cut mid-transfer is resumed from what arrived, within the same call:
# huggingface_hub 1.x retries by itself, 0.x (musubi-tuner's pin) does not.
_RESUME_ATTEMPTS = 5


def _fetch_resuming(
    info: RemoteInfo,
    part: Path,
    headers: dict[str, str],
    f: HubFile,
    progress: ProgressCallback | None,
    has_token: bool,
    dest_dir: Path,
) -> None:
    """Append the rest of the file to ``part``, resuming after each cut that made progress."""
    for attempt in range(_RESUME_ATTEMPTS):
        start = part.stat().st_size if part.exists() else 0
        try:
            fd = open_state_file(part, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            with os.fdopen(fd, "ab") as raw:
                writer = _ProgressWriter(raw, start, info.size, progress)
                silent_http_get(
                    info.url,
                    writer,  # type: ignore[arg-type]
                    resume_size=start,
                    headers=headers,
                    expected_size=info.size,
                    displayed_filename=f.basename,
                )
                writer._report(force=True)
                raw.flush()
                os.fsync(raw.fileno())
            return
        except WantuiError:
            raise
        except Exception as exc:
            if getattr(exc, "errno", None) == 28:  # ENOSPC
                raise WantuiError(
                    f"disk full while downloading {f.basename}; the partial file is kept, "
                    "free some space and run again to resume",
                    path=dest_dir,
                ) from None
            grew = part.exists() and part.stat().st_size > start
            if grew and attempt + 1 < _RESUME_ATTEMPTS:
                continue
            if isinstance(exc, OSError):
                raise WantuiError(
                    f"download of {f.basename} failed: {_first_line(exc)}; run again to resume",
                    path=dest_dir,
                ) from None
            raise WantuiError(
                f"download of {f.basename} stopped: {explain_hub_error(exc, f, has_token)}; "
                "run again to resume"
            ) from None


def download(
    name_or_repo_file: str | HubFile,
    dest_dir: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
    revision: str = "main",
    token: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Download a catalog file (or ``OWNER/REPO/FILE``) into ``dest_dir``; return its path.

    Resumes a partial file from an earlier attempt, checks free disk space first, verifies
    the sha256 (catalog value or the hub's LFS etag) and moves the file into place only
    when complete. The token comes from ``HF_TOKEN`` or the hf login and is never printed.
    """
    from huggingface_hub import get_token
    from huggingface_hub.utils import build_hf_headers

    f = (
        name_or_repo_file
        if isinstance(name_or_repo_file, HubFile)
        else resolve_spec(name_or_repo_file)
    )
    dest_dir = Path(dest_dir).expanduser()
    target = dest_dir / f.basename
    if target.is_dir():
        raise WantuiError("is a directory, cannot download into its place", path=target)
    if token is None:
        token = get_token()
    info = remote_info(f, revision=revision, token=token)

    if target.exists():
        if info.size is not None and target.stat().st_size == info.size:
            if info.sha256 is None or _verify(target, info, progress) is None:
                return target  # already there and intact
        if not overwrite:
            raise WantuiError(
                "a different file with this name is already there (pass --force to replace it)",
                path=target,
            )

    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WantuiError(
            f"cannot create the models folder: {exc.strerror}", path=dest_dir
        ) from None
    # GBs are appended there: a .wantui-partial that is a link (to ~/.ssh, another disk)
    # or a .part file that is one would be written through
    part_dir = real_folder(dest_dir, PARTIAL_DIR, what="partial downloads", where="models")
    tag = re.sub(r"[^0-9A-Za-z]", "", info.etag or info.commit or "noetag")[:16]
    part = part_dir / f"{f.basename}.{tag}.part"
    if os.path.islink(part):
        raise WantuiError("is a symlink; refusing to write a download through it", path=part)
    resume = part.stat().st_size if part.exists() else 0
    if info.size is not None and resume > info.size:
        part.unlink()  # not ours any more: start over
        resume = 0
    if resume and info.sha256 is None and not _prefix_matches(info, part, resume, token):
        # without a checksum nothing would catch a partial file damaged since (or left
        # by another file of the same name and etag): its bytes would be moved into
        # place with the right size. Start over.
        part.unlink()
        resume = 0

    if info.size is not None:
        free = free_space(dest_dir)
        need = info.size - resume + DISK_MARGIN
        if free is not None and free < need:
            raise WantuiError(
                f"not enough disk space for {f.basename}: needs {human_size(need)}, "
                f"{human_size(free)} free",
                path=dest_dir,
            )

    headers = build_hf_headers(token=token or False)
    if _origin(info.url) != _origin(hub_endpoint()):
        # a redirect to the CDN: the token must not leave the hub
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    if info.size is None or resume < info.size:
        _fetch_resuming(info, part, headers, f, progress, bool(token), dest_dir)

    got = part.stat().st_size
    if info.size is not None and got != info.size:
        raise WantuiError(
            f"download of {f.basename} incomplete ({human_size(got)} of {human_size(info.size)}); "
            "run again to resume"
        )
    if info.sha256 is not None:
        actual = _verify(part, info, progress)
        if actual is not None:
            part.unlink(missing_ok=True)
            raise WantuiError(
                f"checksum mismatch for {f.basename}: expected sha256 {info.sha256[:16]}..., "
                f"got {actual[:16]}...; the bad file was deleted, run again"
            )
    try:
        os.replace(part, target)
    except OSError as exc:
        raise WantuiError(
            f"cannot move the finished download into place: {exc.strerror}", path=target
        ) from None
    fsync_dir(dest_dir)
    with contextlib.suppress(OSError):
        part_dir.rmdir()  # only when empty
    if progress is not None:
        progress(DownloadProgress("done", got, info.size, 0.0, 0.0))
    return target


# what is compared before resuming without a checksum: the first and last bytes of the
# partial file and a few windows between, fetched again with Range requests
_CHECK_WINDOW = 256 * 1024
_CHECK_MIDDLE = 4


def _check_windows(size: int) -> list[tuple[int, int]]:
    w = min(_CHECK_WINDOW, size)
    spots = {0, size - w}
    if size > (_CHECK_MIDDLE + 2) * w:
        step = size // (_CHECK_MIDDLE + 1)
        spots.update(k * step for k in range(1, _CHECK_MIDDLE + 1))
    return [(a, a + w) for a in sorted(spots)]


def _prefix_matches(info: RemoteInfo, part: Path, size: int, token: str | None) -> bool:
    """Whether ``size`` bytes of ``part`` agree with the hub's file where sampled (start,
    end and windows between, Range requests): the check possible when the hub gives no
    sha256. False on any doubt (no Range support, a network error)."""
    from huggingface_hub.utils import build_hf_headers, http_backoff

    headers = build_hf_headers(token=token or False)
    if _origin(info.url) != _origin(hub_endpoint()):
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    try:
        with open(part, "rb") as fh:
            for a, b in _check_windows(size):
                fh.seek(a)
                mine = fh.read(b - a)
                resp = http_backoff(
                    "GET",
                    info.url,
                    headers={**headers, "Range": f"bytes={a}-{b - 1}"},
                    max_retries=2,
                )
                if resp.status_code != 206 or resp.content != mine:
                    return False
    except Exception:  # noqa: BLE001 - any doubt: download it again
        return False
    return True


def _verify(path: Path, info: RemoteInfo, progress: ProgressCallback | None) -> str | None:
    """None when ``path`` has the expected sha256, else the actual digest."""
    if progress is not None:
        progress(DownloadProgress("verify", 0, info.size, 0.0, None))
    actual = sha256_file(path)
    return None if actual == info.sha256 else actual


def _origin(url: str) -> tuple[str, str]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return redact(text.splitlines()[0])
