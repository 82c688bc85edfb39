"""Writing files and folders atomically: a reader sees the old file (folder) or the
complete new one, never a half-written one."""

from __future__ import annotations

import glob
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "FILE_MODE",
    "DirectoryNotEmpty",
    "atomic_directory",
    "atomic_write",
    "atomic_write_text",
    "is_empty_directory",
    "remove_stale_siblings",
]

#: Permissions of written files (mkstemp creates them 0600).
FILE_MODE = 0o644

#: Suffixes of the hidden siblings of an atomic folder write: the folder being written,
#: and the previous folder while it is being replaced.
_SAVING, _REPLACED = "saving", "replaced"


class DirectoryNotEmpty(FileExistsError):
    """The target folder of a write exists and is not empty, and was not to be replaced.

    Attributes:
        path: The folder.
    """

    def __init__(self, path: Path, message: str | None = None) -> None:
        self.path = Path(path)
        super().__init__(
            message
            or (
                f"{path} exists and is not empty: pass overwrite=True (dirisk run --force) "
                "to replace it, or choose another folder"
            )
        )


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write a file through a temporary sibling and rename it into place.

    A reader never sees a half-written file: either the old one, or the complete new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write text atomically (UTF-8)."""
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def is_empty_directory(path: Path) -> bool:
    """Whether ``path`` is a directory with nothing in it."""
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is None
    except (NotADirectoryError, FileNotFoundError):
        return False


def _sibling(target: Path, kind: str) -> Path:
    """A new hidden sibling of ``target`` named after it, this process and a random token:
    ``.<name>.<pid>-<token>.<kind>``."""
    return target.parent / f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.{kind}"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (this process counts as alive)."""
    if pid == os.getpid():
        return True
    import psutil  # a dependency of dirisk; imported only when a stale sibling is found

    return psutil.pid_exists(pid)


def _remove(path: Path) -> None:
    """Delete a file, a symbolic link or a whole folder (what is left of it on errors)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_stale_siblings(target: Path) -> list[Path]:
    """Delete the hidden siblings that :func:`atomic_directory` left for ``target`` when
    its process died mid-write (those of a process still running are kept).

    Returns:
        The paths deleted.
    """
    pattern = re.compile(
        rf"\.{re.escape(target.name)}\.(\d+)-[0-9a-f]+\.(?:{_SAVING}|{_REPLACED})\Z"
    )
    stale = []
    try:
        candidates = list(target.parent.glob(f".{glob.escape(target.name)}.*"))
    except OSError:
        return []
    for path in candidates:
        match = pattern.match(path.name)
        if match and not _alive(int(match.group(1))):
            _remove(path)
            stale.append(path)
    return stale


def atomic_directory(
    target: str | Path, write: Callable[[Path], None], *, overwrite: bool = False
) -> Path:
    """Write a folder through a hidden sibling and rename it into place.

    ``write(folder)`` fills a new hidden folder ``.<name>.<pid>-<token>.saving`` beside
    ``target`` (same parent, so the final step is one rename of a directory); a reader
    sees no folder, or the complete one. The hidden folder never outlives an error, and
    hidden siblings of earlier writes of ``target`` whose process died are deleted first.

    A missing or empty ``target`` is simply replaced. A non-empty one is refused
    (:class:`DirectoryNotEmpty`) unless ``overwrite``: then it is renamed away to a hidden
    ``.<name>.<pid>-<token>.replaced`` sibling, the new folder is renamed in, and the old
    one deleted (if renaming the new one in fails, the old one is put back).

    Returns:
        ``target`` as a Path.

    Raises:
        DirectoryNotEmpty: ``target`` exists, is not empty and ``overwrite`` is False
            (checked before ``write`` runs, and again when renaming).
    """
    target = Path(os.path.abspath(target))
    if not overwrite and os.path.lexists(target) and not is_empty_directory(target):
        raise DirectoryNotEmpty(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_siblings(target)
    tmp = _sibling(target, _SAVING)
    tmp.mkdir()
    try:
        write(tmp)
        _move_into_place(tmp, target, overwrite=overwrite)
    except BaseException:
        _remove(tmp)
        raise
    return target


def _move_into_place(tmp: Path, target: Path, *, overwrite: bool) -> None:
    """Rename the finished folder ``tmp`` to ``target``, replacing it as allowed."""
    try:
        os.rename(tmp, target)  # a new target, or an empty directory (POSIX replaces it)
        return
    except OSError:
        if not os.path.lexists(target):
            raise
        if not overwrite and not is_empty_directory(target):
            raise DirectoryNotEmpty(target) from None
    old = _sibling(target, _REPLACED)
    os.rename(target, old)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(old, target)
        raise
    _remove(old)
