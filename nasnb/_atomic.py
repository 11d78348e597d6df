"""Write files so that a crash or a full disk never leaves a half-written one (DESIGN rule 14).

The data goes to a temporary file in the target's folder, is flushed and fsynced, then
renamed over the target (atomic on POSIX and Windows), and the folder is fsynced so the
rename survives a power cut. On any error the temporary file is removed and the old file
is left as it was.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "arch.json")
>>> write_text(path, '{"op": 1}\\n')
>>> open(path).read()
'{"op": 1}\\n'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any

__all__ = ["atomic_file", "save_with", "write_bytes", "write_text"]


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path``.

    ``mode`` is "w" (text) or "wb" (bytes). The new file gets the old one's permissions
    (or the usual ones for a new file).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_file: mode must be 'w' or 'wb', got {mode!r}")
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, os.stat(target).st_mode & 0o7777)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8), atomically."""
    with atomic_file(path, "w") as f:
        f.write(text)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data``, atomically."""
    with atomic_file(path, "wb") as f:
        f.write(data)


def save_with(path: str | os.PathLike[str], save: Callable[[IO[bytes]], None]) -> None:
    """Replace ``path`` with what ``save(file)`` writes (e.g. ``lambda f: torch.save(obj, f)``), atomically."""
    with atomic_file(path, "wb") as f:
        save(f)
