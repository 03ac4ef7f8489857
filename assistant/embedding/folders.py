"""Folders written whole or not at all: a manifest of hashes written last, staging and an atomic swap.

Both the prepared model folder (``prepare.py``) and the serving bundle (``bundle.py``) are built in a
staging folder beside their target and renamed into place; the manifest, written last, lists every
file's size, mtime and SHA-256, so a torn, half-written or edited folder is recognised and rebuilt (or,
where nothing can rebuild it, refused).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Written last into a finished folder; its presence and agreement with the files mark completeness.
MANIFEST_NAME = "manifest.json"


def sha256_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_manifest(folder: Path, fields: dict[str, Any]) -> None:
    """Hash every file of ``folder`` into its manifest (with ``fields``), written atomically."""
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST_NAME):
        stat = path.stat()
        files[path.relative_to(folder).as_posix()] = {
            "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256_file(path)}
    manifest = {"format": 1, **fields, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files": files}
    tmp = folder / f".{MANIFEST_NAME}.tmp"
    write_json(tmp, manifest)
    os.replace(tmp, folder / MANIFEST_NAME)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def manifest_problem(folder: Path, expected: dict[str, Any]) -> str | None:
    """Why ``folder`` is not complete and intact (``None`` when it is): no manifest, a field of
    ``expected`` that differs, or a file missing, of another size, or changed.

    Sizes are always checked (a truncated file shows there); a file whose mtime differs from the one
    recorded is re-hashed, so an in-place change is caught without hashing every file on each start.
    """
    manifest = read_manifest(folder)
    if manifest is None:
        return "no manifest (unfinished)"
    for key, value in expected.items():
        if manifest.get(key) != value:
            return f"{key} is {manifest.get(key)!r}, need {value!r}"
    for name, entry in manifest.get("files", {}).items():
        path = folder / name
        try:
            stat = path.stat()
        except OSError:
            return f"{name} is missing"
        if stat.st_size != entry["size"]:
            return f"{name} has {stat.st_size} bytes, expected {entry['size']}"
        if stat.st_mtime_ns != entry["mtime_ns"] and sha256_file(path) != entry["sha256"]:
            return f"{name} content differs from the manifest"
    return None


def staging_folder(target: Path) -> Path:
    """A fresh name beside ``target`` for building it (the pid lets a later run clear it if we die)."""
    return target.parent / f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def remove_abandoned_staging(target: Path) -> None:
    """Delete half-made folders left by builds that were killed (their process is gone)."""
    for path in target.parent.glob(f".{target.name}.*-*"):
        kind, _, rest = path.name[len(target.name) + 2:].partition("-")
        if kind == "old":
            shutil.rmtree(path, ignore_errors=True)
        elif kind == "tmp":
            pid = rest.partition("-")[0]
            if pid.isdigit() and not _process_alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def swap_into_place(staging: Path, target: Path, intact: Callable[[Path], bool], *, force: bool) -> None:
    """Rename ``staging`` to ``target``; a bad old folder is renamed away first, then deleted.

    If another process finished a good folder in the meantime (``intact``), its folder wins and ours
    is dropped. Processes that still have the old files open keep reading them (Unix unlink semantics).
    """
    for _ in range(3):
        if target.exists():
            if not force and intact(target):
                return
            trash = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            try:
                target.rename(trash)
            except FileNotFoundError:
                continue  # someone else moved it first
            shutil.rmtree(trash, ignore_errors=True)
        try:
            staging.rename(target)
            return
        except OSError:
            continue  # another process put its folder there between our two renames
    raise OSError(f"could not move {staging} to {target}")
