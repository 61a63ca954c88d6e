"""A path where a file is expected: one exact message for each way it can fail to be a readable file.

"file not found" is only true when nothing is there. A folder, a broken symbolic link, a named pipe or a
file this user may not read each get their own one-line error naming the key or file and the fix, before
any reader (YAML, pandas, pyogrio) turns it into a misleading message or a traceback.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from optimizer.core.errors import InputError

MAX_LISTED = 3


def absolute(path: Path) -> Path:
    """``path`` made absolute without following symbolic links (``Path.resolve`` would turn a broken link
    into the missing file it points to, and the message into "file not found")."""
    return Path(os.path.abspath(path))


def require_file(path: Path, where: str, missing: str = "file not found", fix: str = "check the path",
                 suffixes: tuple[str, ...] = ()) -> None:
    """Raise :class:`InputError` unless ``path`` is a regular file this process can open for reading.

    Parameters
    ----------
    path : Path
        The path given by the user (after resolving it against the file that names it).
    where : str
        The key and path the message starts with, e.g. ``units.dataset data/x.gpkg``.
    missing, fix : str
        What to say, and how to fix it, when nothing is at ``path`` (each caller's wording).
    suffixes : tuple of str
        File endings the caller reads; a folder given instead is searched for such files to suggest.
    """
    path = Path(path)
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        if path.is_symlink():
            target = os.readlink(path)
            raise InputError(where, f"is a symbolic link to {target}, which does not exist",
                             "fix the link or give the path of the file itself") from None
        raise InputError(where, missing, fix) from None
    except OSError as exc:
        raise _unreachable(where, exc) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(where, "is a folder, not a file", _inside(path, suffixes))
    if not stat.S_ISREG(info.st_mode):
        raise InputError(where, f"is {_special(info.st_mode)}, not a regular file", "give the path of a saved file")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise _unreachable(where, exc) from None


def _unreachable(where: str, exc: OSError) -> InputError:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return InputError(where, "cannot be read (permission denied)",
                          "give yourself read access (e.g. chmod u+r) or copy the file somewhere you can read it")
    if exc.errno == errno.ELOOP:
        return InputError(where, "is a symbolic link that points to itself in a loop",
                          "fix the link or give the path of the file itself")
    return InputError(where, f"cannot be read ({exc.strerror or exc})", "check the path and the disk")


def _inside(folder: Path, suffixes: tuple[str, ...]) -> str:
    try:
        found = sorted(p.name for p in folder.iterdir()
                       if p.is_file() and (not suffixes or p.suffix.lower() in suffixes))
    except OSError:
        found = []
    if not found:
        return "give the path of the file, not of the folder that holds it"
    listed = ", ".join(found[:MAX_LISTED]) + (", ..." if len(found) > MAX_LISTED else "")
    return f"give the path of a file inside it ({listed})"


def _special(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


@contextmanager
def reader_warnings(where: str) -> Iterator[None]:
    """Hold back the warnings a reader (GDAL via pyogrio) gives while it reads ``where``: when the read fails
    its error says what matters and they are dropped; when it succeeds each is given again, naming the file."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        warnings.warn(f"{where}: {warning.message}", UserWarning, stacklevel=3)
