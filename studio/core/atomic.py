"""Atomic file writes: a file is either completely the old version or completely the new one.

Every writer in the studio (images, safetensors networks, JSON, snapshots) goes through here so
a crash, a full disk or an exception halfway never leaves a truncated file behind. The recipe:
write to a temporary file in the *same folder* (so the rename cannot cross file systems),
flush it to disk with fsync, then ``os.replace`` it over the target and fsync the folder.

Two forms:

* :func:`atomic_path` - a context manager giving a temporary path, for libraries that want a
  file name (``Image.save``, ``safetensors.torch.save_file``).
* :func:`atomic_write` - calls ``writer(binary_file)``, for code that writes to a stream;
  :func:`atomic_write_bytes` and :func:`atomic_write_text` are one-line conveniences.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
import stat
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

__all__ = ["atomic_path", "atomic_write", "atomic_write_bytes", "atomic_write_text", "fsync_dir", "remove_stale_temps"]

_TEMP_SUFFIX = ".tmp"


def _create_temp(target: Path) -> Path:
    """Create an empty, uniquely named hidden temp file next to ``target`` and return its path.

    The file is created with the usual umask-governed permissions (unlike ``mkstemp``'s 0600),
    so the finished file gets the same permissions as any other file the user creates.
    """
    while True:
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}{_TEMP_SUFFIX}")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return temp


_TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{12}" + re.escape(_TEMP_SUFFIX) + "$")


def remove_stale_temps(folder: str | os.PathLike[str], older_than_s: float = 3600.0) -> list[Path]:
    """Delete the temporary files a killed writer left in ``folder`` (``.NAME.<12 hex>.tmp``, the
    names :func:`atomic_path` makes) that are older than ``older_than_s``; returns what went.
    Nothing else is touched, and a file another writer is still filling is younger than the limit."""
    removed = []
    now = time.time()
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not _TEMP_NAME.match(entry.name):
            continue
        try:
            if now - entry.stat().st_mtime >= older_than_s and entry.is_file():
                entry.unlink()
                removed.append(entry)
        except OSError:
            pass
    return removed


def _fsync_file(path: Path) -> None:
    """Flush a closed file's contents to disk."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Flush a folder entry (the rename) to disk where the platform allows it (POSIX)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on folders; the data itself is already synced
    finally:
        os.close(fd)


def _keep_mode(temp: Path, target: Path) -> None:
    """Give ``temp`` the permission bits of an existing ``target`` (no-op when there is none)."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return
    with contextlib.suppress(OSError):
        os.chmod(temp, mode)


def _remove_quietly(path: Path) -> None:
    """Delete ``path`` if it exists, ignoring errors (used while already handling one)."""
    with contextlib.suppress(OSError):
        os.remove(path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it atomically replaces ``path``.

    The caller must have closed the temporary file when the ``with`` block ends. When the
    block raises, the temporary file is removed and any existing file at ``path`` is left
    untouched. The folder of ``path`` must already exist.

    Example::

        with atomic_path("out.png") as tmp:
            image.save(tmp, format="PNG")
    """
    target = Path(path)
    temp = _create_temp(target)
    try:
        yield temp
        _fsync_file(temp)
        _keep_mode(temp, target)
        os.replace(temp, target)
    except BaseException:
        _remove_quietly(temp)
        raise
    fsync_dir(target.parent)


def atomic_write(path: str | os.PathLike[str], writer: Callable[[BinaryIO], None]) -> None:
    """Atomically (re)write ``path`` with whatever ``writer`` writes to the binary file it gets.

    If ``writer`` raises, the exception propagates, no temporary file is left behind and the
    old file at ``path`` (if any) is unchanged.
    """
    with atomic_path(path) as temp:
        with open(temp, "wb") as stream:
            writer(stream)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Atomically (re)write ``path`` with ``data``."""
    atomic_write(path, lambda stream: stream.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Atomically (re)write ``path`` with ``text`` (UTF-8 by default, newlines unchanged)."""
    atomic_write_bytes(path, text.encode(encoding))
