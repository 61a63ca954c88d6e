"""Writing a run folder atomically: everything goes to a temporary sibling folder, renamed when complete."""

from __future__ import annotations

import json
import os
import platform
import shutil
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Iterator

import pandas as pd

PACKAGES = ("territory-optimizer", "pyomo", "highspy", "numpy", "pandas", "geopandas", "shapely", "folium", "pydantic")


def require_output_folder(path: Path, flag: str = "--out") -> None:
    """Refuse an output folder that is an existing file, lies under a file or cannot be written, before any
    work is done (a run folder would otherwise replace the file, or fail after the solve)."""
    from optimizer.core.errors import InputError

    for part in (path, *path.parents):
        if not part.exists():
            continue
        if not part.is_dir():
            what = "is an existing file" if part == path else f"lies under {part}, which is a file"
            raise InputError(f"{flag} {path}", f"{what}, not a folder", "give a folder path for the outputs")
        if not os.access(part, os.W_OK | os.X_OK):
            raise InputError(f"{flag} {path}", f"cannot write in {part} (permission denied)",
                             "give a folder you can write to")
        return


def claim_output_folder(folder: Path, flag: str = "--out") -> None:
    """What a command does with the folder it will write, before any work: refuse a path that cannot be a
    folder (:func:`require_output_folder`), then take its lock for the command (``outputs.folder_lock``)."""
    from optimizer.outputs.folder_lock import claim

    require_output_folder(folder, flag)
    claim(folder, f"{flag} {folder}")


@contextmanager
def staging_folder(final: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``final``; on success it replaces ``final``, on error it vanishes.

    The folder's lock (:mod:`optimizer.outputs.folder_lock`) is held meanwhile: another process writing it is refused.
    """
    from optimizer.outputs.folder_lock import folder_lock

    final = final.resolve()
    require_output_folder(final, "run folder")
    final.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(final, f"run folder {final}"):
        remove_leftovers(final)
        staging = final.parent / f".{final.name}.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            yield staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _replace(staging, final)


def remove_leftovers(final: Path) -> None:
    """Delete the hidden staging and old-copy folders beside ``final`` that runs killed outright (SIGKILL, a
    power cut) left behind; those of a process still running are kept."""
    for pattern in (f".{final.name}.partial-*", f".{final.name}.old-*"):
        for leftover in final.parent.glob(pattern):
            pid = leftover.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not _running(int(pid)):
                shutil.rmtree(leftover, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _replace(staging: Path, final: Path) -> None:
    old = final.parent / f".{final.name}.old-{os.getpid()}"
    if final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """CSV with fixed float formatting so files diff cleanly, text a spreadsheet would run neutralised."""
    from optimizer.core.safe_csv import table_text

    table_text(frame, path)


def write_json(data: dict, path: Path) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=_plain) + "\n", encoding="utf-8")


def _plain(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def versions() -> dict[str, str]:
    """Python, platform and package versions recorded with every run."""
    found = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    from optimizer.solver.highs import highs_version

    found["HiGHS"] = highs_version()
    found["code_hash"] = code_hash()
    return found


def file_hash(path: Path) -> str:
    """First 16 hex digits of the SHA-256 of a file (recorded with every run)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def code_hash() -> str:
    """A hash of the engine's and the models' source, so a reused run can tell that the code changed."""
    import hashlib

    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for path in sorted([*root.glob("optimizer/**/*.py"), *root.glob("models/**/*.py")]):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
