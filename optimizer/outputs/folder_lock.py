"""One writer per run folder: a second process that would write a folder being written is refused at once.

The lock of folder ``X`` is the hidden file ``.X.lock`` beside it, held with ``flock`` by the writing
process and holding its pid, host, command and start time, so the refusal can name the other process. The
kernel drops an ``flock`` when its process dies (even by SIGKILL or a power cut), so a lock left by a dead
process is simply taken over by the next writer, the way :func:`optimizer.outputs.remove_leftovers`
clears the staging folders of dead runs. A process may take the lock of a folder it already holds (the
command takes it before solving; :func:`optimizer.outputs.staging_folder` again when writing).

Waiting instead of being refused: ``territory --wait SECONDS COMMAND ...`` or the environment variable
``TERRITORY_WAIT=SECONDS`` (``inf`` waits for as long as it takes).
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import socket
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from optimizer.core.errors import InputError

WAIT_VARIABLE = "TERRITORY_WAIT"
POLL_SECONDS = 0.2
_wait_seconds: float | None = None  # set by ``territory --wait``; None: the environment decides
_held: dict[Path, "_Lock"] = {}
_guard = threading.Lock()
_scope: ExitStack | None = None


class FolderBusyError(InputError):
    """Another process is writing the folder (exit code 2, like any input the user can change)."""


@dataclass
class _Lock:
    path: Path
    fd: int
    depth: int = 1
    made: list[Path] = field(default_factory=list)  # parent folders created for the lock, removed if left empty


def lock_path(folder: Path) -> Path:
    """The lock file of ``folder``: ``.NAME.lock`` in its parent (the folder itself is replaced by renames)."""
    folder = Path(folder).resolve()
    return folder.parent / f".{folder.name}.lock"


def set_wait(seconds: float | None) -> None:
    """How long to wait for another writer (``None``: ``$TERRITORY_WAIT``, else refuse at once)."""
    global _wait_seconds
    _wait_seconds = seconds


def wait_seconds() -> float:
    if _wait_seconds is not None:
        return _wait_seconds
    text = os.environ.get(WAIT_VARIABLE, "").strip()
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise InputError(WAIT_VARIABLE, f"`{text}` is not a number of seconds", "e.g. TERRITORY_WAIT=600") from None
    if value != value or value < 0:
        raise InputError(WAIT_VARIABLE, f"`{text}` is not a number of seconds >= 0", "e.g. TERRITORY_WAIT=600")
    return value


@contextmanager
def folder_lock(folder: Path, where: str | None = None) -> Iterator[None]:
    """Hold the lock of ``folder`` for the block; raise :class:`FolderBusyError` naming the other writer."""
    acquire(folder, where)
    try:
        yield
    finally:
        release(folder)


@contextmanager
def command_scope() -> Iterator[None]:
    """Locks taken by :func:`claim` during a command are released when the command ends."""
    global _scope
    outer, _scope = _scope, ExitStack()
    try:
        with _scope:
            yield
    finally:
        _scope = outer


def claim(folder: Path, where: str | None = None) -> None:
    """Take the lock of ``folder`` until the current command ends (see :func:`command_scope`); outside a
    command (the Python API) until the process ends."""
    acquire(folder, where)
    if _scope is not None:
        _scope.callback(release, folder)


def acquire(folder: Path, where: str | None = None) -> None:
    """Take the lock of ``folder`` (again, if this process holds it), waiting as :func:`wait_seconds` says."""
    path = lock_path(folder)
    with _guard:
        if path in _held:
            _held[path].depth += 1
            return
    made = _make_parents(path.parent)
    deadline = time.monotonic() + wait_seconds()
    while True:
        fd = _try_lock(path)
        if fd is not None:
            break
        if time.monotonic() >= deadline:
            _remove_empty(made)
            raise _busy(folder, where, path)
        time.sleep(POLL_SECONDS)
    _write_holder(fd)
    with _guard:
        _held[path] = _Lock(path, fd, made=made)


def release(folder: Path) -> None:
    """Give up one hold of ``folder``'s lock; the last one removes the lock file and unlocks it."""
    path = lock_path(folder)
    with _guard:
        lock = _held.get(path)
        if lock is None:
            return
        lock.depth -= 1
        if lock.depth > 0:
            return
        del _held[path]
    try:
        path.unlink(missing_ok=True)  # while still locked: a waiting process then locks a new file
    finally:
        os.close(lock.fd)
    _remove_empty(lock.made)


def remove_stale(folder: Path) -> None:
    """Delete the lock file of ``folder`` if no process holds it (one a killed process left behind)."""
    path = lock_path(folder)
    if not path.exists() or path in _held:
        return
    fd = _try_lock(path)
    if fd is not None:
        try:
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)


def holder(folder: Path) -> dict | None:
    """What the lock file of ``folder`` says about its writer (``None`` when there is none or it is unreadable)."""
    try:
        return json.loads(lock_path(folder).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _try_lock(path: Path) -> int | None:
    """The descriptor of ``path`` locked by this process, or ``None`` when another process holds it."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # the last writer removed the parent it had made: make it again
            path.parent.mkdir(parents=True, exist_ok=True)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed the file as we opened it: lock the new one


def _write_holder(fd: int) -> None:
    info = {"pid": os.getpid(), "host": socket.gethostname(), "command": _command(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(info) + "\n").encode("utf-8"), 0)


def _command() -> str:
    args = list(sys.argv) or ["python"]
    args[:1] = ["python", "-c", "..."] if args[0] == "-c" else [Path(args[0]).name]
    text = shlex.join(args)
    return text if len(text) <= 200 else text[:197] + "..."


def _busy(folder: Path, where: str | None, path: Path) -> FolderBusyError:
    info = None
    for _ in range(10):  # the holder writes its details just after locking
        info = holder(folder)
        if info:
            break
        time.sleep(0.05)
    if info:
        host = "" if info.get("host") == socket.gethostname() else f" on {info.get('host')}"
        who = f"process {info.get('pid')}{host} (`{info.get('command')}`, since {info.get('since')})"
    else:
        who = f"another process (its lock is {path})"
    waited = wait_seconds()
    what = f"is being written by {who}" + (f"; waited {waited:g} s" if waited else "")
    return FolderBusyError(where or str(folder), what,
                           f"let it finish, choose another folder, or wait for it with `territory --wait SECONDS "
                           f"...` or {WAIT_VARIABLE}=SECONDS")


def _make_parents(folder: Path) -> list[Path]:
    made = []
    for part in (folder, *folder.parents):
        if part.exists():
            break
        made.append(part)
    folder.mkdir(parents=True, exist_ok=True)
    return made


def _remove_empty(made: list[Path]) -> None:
    for part in made:  # deepest first
        try:
            part.rmdir()
        except OSError:
            return
