"""Safe writes of user files: atomic replace with a backup.

Every module that writes a file the user owns (the dataset TOML, ``wantui.toml``, an
exported script) goes through :func:`atomic_write`, so that a crash, a full disk or a
SIGKILL at any moment leaves either the old bytes or the new ones, never a truncated or
missing file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from wantui.core.errors import WantuiError

STATE_DIR = ".wantui"
BACKUP_DIR = Path(STATE_DIR) / "backups"
PROJECT_FILE = "wantui.toml"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str], *, chunk: int = 1 << 20) -> str:
    """The sha256 of a file, read in chunks (model files are tens of GB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def read_regular_file(
    path: str | os.PathLike[str], *, limit: int, what: str = "file", nofollow: bool = False
) -> bytes:
    """The bytes of a small regular file, or a one-line WantuiError naming it.

    A FIFO or a device (``/dev/zero``, a named pipe someone made by mistake) would block
    or never end on a plain ``read_bytes()``, so anything but a regular file is refused
    before it is opened, and the read is bounded by ``limit`` even if the file grows.
    With ``nofollow`` a symlink is refused too (wantui's own state files).
    """
    p = Path(path)
    try:
        st = os.lstat(p) if nofollow else p.stat()
    except FileNotFoundError:
        raise WantuiError(f"{what} not found", path=p) from None
    except OSError as exc:
        raise WantuiError(f"cannot read the {what}: {exc.strerror or exc}", path=p) from None
    if stat.S_ISDIR(st.st_mode):
        raise WantuiError(f"is a directory, not a {what}", path=p)
    if stat.S_ISLNK(st.st_mode):
        raise WantuiError(f"is a symlink; refusing to follow it for the {what}", path=p)
    if not stat.S_ISREG(st.st_mode):
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise WantuiError(f"is {kind}, not a {what}", path=p)
    if st.st_size > limit:
        raise WantuiError(f"too large for a {what} ({st.st_size} bytes)", path=p)
    try:
        # O_NONBLOCK: should the path be swapped for a FIFO after the stat, open() must
        # not hang waiting for a writer
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(p, flags | (_NOFOLLOW if nofollow else 0))
    except PermissionError:
        raise WantuiError(f"cannot read the {what}: permission denied", path=p) from None
    except OSError as exc:
        raise WantuiError(f"cannot read the {what}: {exc.strerror or exc}", path=p) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise WantuiError(f"is not a regular file, not a {what}", path=p)
        chunks: list[bytes] = []
        total = 0
        while True:
            block = os.read(fd, 1 << 20)
            if not block:
                break
            chunks.append(block)
            total += len(block)
            if total > limit:
                raise WantuiError(f"too large for a {what} (over {limit} bytes)", path=p)
    except OSError as exc:
        raise WantuiError(f"cannot read the {what}: {exc.strerror or exc}", path=p) from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def match_newlines(new: str, old: str) -> str:
    """``new`` with CRLF line ends when ``old`` (the file it replaces) used them: tomlkit
    writes added lines with LF, and a Windows file should not end up with both."""
    if "\r\n" not in old:
        return new
    return new.replace("\r\n", "\n").replace("\n", "\r\n")


def find_project_root(path: str | os.PathLike[str]) -> Path:
    """The nearest folder at or above ``path``'s folder holding ``wantui.toml``; else the
    file's own folder (a dataset TOML checked alone keeps its backups beside it)."""
    start = Path(os.path.abspath(path)).parent
    for folder in (start, *start.parents):
        try:
            if (folder / PROJECT_FILE).is_file():
                return folder
        except OSError:  # a parent we may not look into
            break
    return start


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make a rename in ``folder`` durable. Not possible on Windows; harmless to skip."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def current_umask() -> int:
    """The process umask. Linux says it in /proc without changing it; elsewhere it is
    read by setting and restoring it (there is no other call)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def new_file_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file: 0666 less the umask.
    (mkstemp makes its files 0600, private, which a user's shared project must not get.)"""
    return 0o666 & ~current_umask()


def _write_new_file(folder: Path, prefix: str, data: bytes, mode: int | None) -> Path:
    """Write ``data`` into a fresh temporary file in ``folder`` and fsync it; it gets
    ``mode``, or the user's umask when None."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, new_file_mode() if mode is None else mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


# -- wantui's own state: <project>/.wantui/ ---------------------------------------------
# A project folder is not trusted (a cloned template, an unpacked archive): a `.wantui`
# that is a symlink would turn an append to the journal into an append to ~/.bashrc.
# So every folder on the way must be a real folder inside the project, and the files in
# it are opened without following links.


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def state_folder(root: str | os.PathLike[str], *subdirs: str, create: bool = True) -> Path:
    """``<root>/.wantui[/subdirs...]``, each part a real folder (not a symlink, not a
    junction) that resolves inside ``root``; made when missing and ``create``. Without
    ``create`` a missing part is returned as is (the caller finds nothing there)."""
    return real_folder(
        root, STATE_DIR, *subdirs, create=create, what="its journal and backups", where="project"
    )


def real_folder(
    root: str | os.PathLike[str],
    *parts: str,
    create: bool = True,
    what: str = "its files",
    where: str = "project",
) -> Path:
    """``<root>/<parts...>``, each part a real folder (not a symlink, not a junction) that
    resolves inside ``root``; made when missing and ``create`` (else a missing part is
    returned as is). For every folder wantui writes in below a folder it was given:
    ``.wantui/``, a project's ``runs/``, a download's ``.wantui-partial/``."""
    root_p = Path(root)
    folder = root_p
    for name in parts:
        folder = folder / name
        try:
            try:
                st = os.lstat(folder)
            except FileNotFoundError:
                if not create:
                    return root_p.joinpath(*parts)
                with contextlib.suppress(FileExistsError):
                    os.mkdir(folder, 0o755)
                st = os.lstat(folder)
        except OSError as exc:
            raise WantuiError(
                f"cannot create the folder for {what}: {exc.strerror or exc}", path=folder
            ) from None
        if stat.S_ISLNK(st.st_mode):
            raise WantuiError(
                f"is a symlink; wantui writes {what} only in a real folder inside the {where}"
                " folder (remove the link)",
                path=folder,
            )
        if not stat.S_ISDIR(st.st_mode):
            raise WantuiError(f"is not a folder; wantui writes {what} there", path=folder)
    real = Path(os.path.realpath(folder))
    if not _inside(real, Path(os.path.realpath(root_p))):
        raise WantuiError(f"resolves to {real}, outside the {where} folder; refusing", path=folder)
    return folder


def open_state_file(path: Path, flags: int, mode: int = 0o644) -> int:
    """Open a file of wantui's state (journal, lock) without following a symlink; refuse
    anything but a regular file with one link (a hard link to ~/.bashrc is one too)."""
    if not _NOFOLLOW and os.path.islink(path):  # Windows: no O_NOFOLLOW
        raise WantuiError("is a symlink; refusing to write through it", path=path)
    try:
        fd = os.open(path, flags | _NOFOLLOW | getattr(os, "O_BINARY", 0), mode)
    except OSError as exc:
        if os.path.islink(path):  # ELOOP (Linux) / EMLINK (FreeBSD) from O_NOFOLLOW
            raise WantuiError("is a symlink; refusing to write through it", path=path) from None
        raise WantuiError(f"cannot open: {exc.strerror or exc}", path=path) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
        os.close(fd)
        why = "has other hard links" if stat.S_ISREG(st.st_mode) else "is not a regular file"
        raise WantuiError(f"{why}; refusing to write it", path=path)
    return fd


def write_state_file(root: str | os.PathLike[str], name: str, data: bytes) -> Path:
    """Replace ``<root>/.wantui/<name>`` (a cache wantui owns) with ``data``: a new file
    renamed into place, so a link of that name is replaced, never written through."""
    folder = state_folder(root)
    target = folder / name
    tmp = _write_new_file(folder, f".{name}.", data, None)
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)
    return target


def write_backup(
    path: Path, old: bytes, project_root: Path | None = None, mode: int | None = None
) -> Path:
    """Keep ``old`` (the bytes about to be replaced) under ``<root>/.wantui/backups``,
    with the mode of the file it came from (a private file's backup stays private).

    The folder is checked by :func:`state_folder`; the bytes go to a new temporary file
    (``mkstemp``: ``O_EXCL``, ``O_NOFOLLOW``) renamed into place, and a rename replaces a
    link of that name rather than writing through it."""
    root = project_root if project_root is not None else find_project_root(path)
    folder = state_folder(root, "backups")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    name = f"{path.name}.{stamp}.{sha256_bytes(old)[:12]}.bak"
    target = folder / name
    with contextlib.suppress(OSError, WantuiError):
        if read_regular_file(target, limit=len(old), nofollow=True) == old:
            return target  # the same bytes at the same second: one backup is enough
    tmp = _write_new_file(folder, f".{path.name}.", old, mode)
    os.replace(tmp, target)
    fsync_dir(folder)
    return target


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    backup: bool = True,
    project_root: str | os.PathLike[str] | None = None,
    before_replace: Callable[[Path | None], None] | None = None,
) -> Path | None:
    """Replace ``path`` with ``data`` atomically; return the backup path (or None).

    A temporary file in the same folder is written, flushed and fsynced, given the old
    file's mode (a new file: 0666 less the umask, as any editor would make it), then renamed over the target and the folder fsynced. A symlink is
    followed (the link stays a link). With ``backup``, the old bytes are first saved in
    the project's ``.wantui/backups/``. Errors are one-line :class:`WantuiError`s naming
    the file; on any failure the target is untouched.

    ``before_replace(backup_path)`` runs when the backup and the new bytes are on disk,
    just before the rename: the fix journal writes its record there (write-ahead), so a
    SIGKILL can never leave a changed file without its undo record. If it raises, the
    target is untouched.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("atomic_write takes bytes")
    given = Path(path)
    real = Path(os.path.realpath(given))
    if real.is_dir():
        raise WantuiError("is a directory, cannot write it", path=given)
    folder = real.parent
    if not folder.is_dir():
        raise WantuiError("the folder does not exist", path=given)
    mode: int | None = None
    old: bytes | None = None
    try:
        st = real.stat()
        if not stat.S_ISREG(st.st_mode):
            # reading a FIFO's "old bytes" for the backup would block forever
            kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
            raise WantuiError(f"is {kind}; not replacing it", path=given)
        if not st.st_mode & stat.S_IWUSR or not os.access(real, os.W_OK):
            # the rename would succeed anyway (it needs only the folder): ask, don't override
            raise WantuiError("is read-only; make it writable to replace it", path=given)
        mode = stat.S_IMODE(st.st_mode)
        if backup:
            old = real.read_bytes()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise WantuiError(f"cannot read before writing: {exc.strerror}", path=given) from None
    backup_path: Path | None = None
    try:
        if old is not None:
            root = Path(project_root) if project_root is not None else None
            backup_path = write_backup(real, old, root, mode)
        tmp = _write_new_file(folder, f".{real.name}.", bytes(data), mode)
        try:
            if before_replace is not None:
                before_replace(backup_path)
            os.replace(tmp, real)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise WantuiError(
            f"cannot write: {reason} (the file was not changed)", path=given
        ) from None
    fsync_dir(folder)
    _remove_stale_temps(folder, real.name)
    return backup_path


STALE_TEMP_S = 3600.0


def _remove_stale_temps(folder: Path, name: str) -> None:
    """Delete temp files an earlier killed write of ``name`` left behind. Only old ones:
    a fresh one may belong to a write in progress in another process."""
    cutoff = time.time() - STALE_TEMP_S
    for tmp in folder.glob(f".{glob_escape(name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if tmp.is_file() and not tmp.is_symlink() and tmp.stat().st_mtime < cutoff:
                tmp.unlink()


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
