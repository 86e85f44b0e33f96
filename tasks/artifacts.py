"""The artifact store: immutable version folders, an atomic champion pointer, a publish lock.

Layout under the store's root (a local folder by default, any fsspec URL for teams)::

    v0001/ program.json manifest.json report.md   immutable, complete before anything points at them
    CHAMPION                                       {"version", "sha256", "moved_at", "reason"}
    history.jsonl                                  one line per pointer move or staged decision
    locks/<week>.lock                              who is publishing that week

Atomicity. Local folders: a version is written into a hidden temp folder and renamed into place
(a rename never replaces a non-empty folder, so a version is never overwritten); the pointer is
written to a temp file, fsynced and ``os.replace``d. Other fsspec stores (s3://, memory://):
files are created exclusively where the filesystem supports it, ``manifest.json`` is written
last (a folder without it is not a version and is never listed or pointed at), and the
pointer is a single-object put read back to verify. Readers check the sha256 of program.json
against the pointer and the manifest, so even a torn write cannot be loaded silently.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec
import psutil
from fsspec.implementations.local import LocalFileSystem

from judge.scale import Scale
from judgeflow.errors import JudgeflowError
from judgeflow.weeks import parse_week

VERSION_RE = re.compile(r"^v(\d{4,})$")
POINTER = "CHAMPION"
HISTORY = "history.jsonl"
REQUIRED_FILES = ("program.json", "manifest.json", "report.md")
DEFAULT_STALE_LOCK_S = 6 * 3600.0


class ArtifactError(JudgeflowError):
    """A problem with the artifact store the user can act on (missing, corrupt, refused)."""


class LockHeldError(JudgeflowError):
    """Another run holds the publish lock of the week."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def version_name(number: int) -> str:
    return f"v{number:04d}"


def version_number(name: str) -> int:
    """4 for "v0004"; raise ArtifactError for anything that is not a version name."""
    match = VERSION_RE.match(str(name).strip())
    if not match:
        raise ArtifactError(f"version must look like v0004, got {name!r}; run `judgeflow history` to list them")
    return int(match.group(1))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def dumps(obj: Any) -> bytes:
    """Canonical JSON bytes (sorted keys, trailing newline) so equal content hashes equal."""
    return (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")


def jsonable(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to floats/ints, tuples to lists, keys to strings."""
    if isinstance(value, Scale):
        return str(value)  # "1-5", the form every reader compares
    if hasattr(value, "model_dump"):
        return jsonable(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ArtifactStore:
    """An fsspec-backed folder of versions; ``ArtifactStore(settings.artifacts)``."""

    def __init__(self, url: str | Path) -> None:
        self.url = str(url)
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as exc:
            raise ArtifactError(
                f"cannot open the artifact store {self.url!r} ({exc}); install the filesystem's extra, "
                "e.g. judgeflow[s3] for s3://, or use a local folder"
            ) from exc
        self.root = self.root.rstrip("/") or "/"
        self.local = isinstance(self.fs, LocalFileSystem)
        if self.local:
            Path(self.root).mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.url!r})"

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    # -- reading -----------------------------------------------------------------------------

    def exists(self, *parts: str) -> bool:
        return bool(self.fs.exists(self.path(*parts)))

    def read_bytes(self, *parts: str) -> bytes:
        try:
            return self.fs.cat_file(self.path(*parts))
        except FileNotFoundError as exc:
            raise ArtifactError(f"{self.path(*parts)} does not exist in the artifact store {self.url}") from exc

    def read_json(self, *parts: str) -> Any:
        data = self.read_bytes(*parts)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ArtifactError(
                f"{self.path(*parts)} is not valid JSON (a torn write?); restore it or roll back"
            ) from exc

    def version_names(self) -> list[str]:
        """Every complete version (one holding manifest.json), oldest first."""
        try:
            entries = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            return []
        names = [e.rstrip("/").rsplit("/", 1)[-1] for e in entries]
        versions = [n for n in names if VERSION_RE.match(n) and self.exists(n, "manifest.json")]
        return sorted(versions, key=version_number)

    def taken_numbers(self) -> list[int]:
        """Numbers used by any folder, complete or not: a partial folder is never reused."""
        try:
            entries = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            return []
        names = [e.rstrip("/").rsplit("/", 1)[-1] for e in entries]
        return sorted(version_number(n) for n in names if VERSION_RE.match(n))

    # -- writing -----------------------------------------------------------------------------

    def sweep_temp(self, older_than_s: float = 3600.0) -> list[str]:
        """Remove temp folders and files that crashed local writers left behind; return their names."""
        if not self.local:
            return []
        removed = []
        for entry in Path(self.root).iterdir():
            if not entry.name.startswith((".tmp-", f".{POINTER}.tmp-")):
                continue
            if time.time() - entry.stat().st_mtime > older_than_s:
                if entry.is_dir():
                    _remove_tree(entry)
                else:
                    entry.unlink()
                removed.append(entry.name)
        return removed

    def write_version(self, name: str, files: dict[str, bytes]) -> str:
        """Create version folder ``name`` with ``files``; refuse if it exists (never overwrite).

        ``manifest.json`` is written last: until it exists the folder is not a version.
        """
        version_number(name)
        missing = [f for f in REQUIRED_FILES if f not in files]
        if missing:
            raise ArtifactError(f"version {name} needs {', '.join(missing)}; pass every file of a version")
        if self.exists(name):
            raise ArtifactError(f"version {name} already exists in {self.url}; versions are never overwritten")
        order = sorted(files, key=lambda f: f == "manifest.json")
        if self.local:
            tmp = Path(self.root) / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
            tmp.mkdir(parents=True)
            for fname in order:
                _write_synced(tmp / fname, files[fname])
            try:
                os.rename(tmp, Path(self.root) / name)
            except OSError as exc:
                _remove_tree(tmp)
                raise ArtifactError(
                    f"version {name} already exists in {self.url}; versions are never overwritten"
                ) from exc
            _fsync_dir(Path(self.root))
        else:
            for fname in order:
                self._create_exclusive(self.path(name, fname), files[fname])
        return name

    def _create_exclusive(self, path: str, data: bytes) -> None:
        try:
            with self.fs.open(path, "xb") as fh:
                fh.write(data)
            return
        except FileExistsError as exc:
            raise ArtifactError(f"{path} already exists; versions are never overwritten") from exc
        except (ValueError, NotImplementedError, TypeError):
            pass  # this filesystem has no exclusive create: check, then write
        if self.fs.exists(path):
            raise ArtifactError(f"{path} already exists; versions are never overwritten")
        self.fs.pipe_file(path, data)

    def replace_file(self, name: str, data: bytes) -> None:
        """Atomically replace a small control file (the pointer): readers see old or new, never half."""
        if self.local:
            target = Path(self.root) / name
            tmp = target.with_name(f".{name}.tmp-{uuid.uuid4().hex[:8]}")
            _write_synced(tmp, data)
            os.replace(tmp, target)
            _fsync_dir(target.parent)
            return
        path = self.path(name)
        self.fs.pipe_file(path, data)  # one object put: atomic on object stores
        if self.fs.cat_file(path) != data:
            raise ArtifactError(f"{path} did not read back as written; check the store and retry")

    def append_line(self, name: str, record: dict[str, Any]) -> None:
        """Append one JSON line (local: O_APPEND + fsync; elsewhere: read, extend, rewrite)."""
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
        if self.local:
            fd = os.open(Path(self.root) / name, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line  # end a line torn by a crash so this record stays whole
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            return
        path = self.path(name)
        old = self.fs.cat_file(path) if self.fs.exists(path) else b""
        self.fs.pipe_file(path, old + (b"\n" if old and not old.endswith(b"\n") else b"") + line)

    def read_lines(self, name: str) -> list[dict[str, Any]]:
        """The JSON lines of ``name``; a torn last line (crash mid-append) is skipped."""
        if not self.exists(name):
            return []
        records = []
        for raw in self.read_bytes(name).decode("utf-8").splitlines():
            try:
                records.append(json.loads(raw))
            except ValueError:
                continue
        return records

    # -- the publish lock --------------------------------------------------------------------

    def lock_path(self, week: str) -> str:
        return self.path("locks", f"{week}.lock")

    def try_create_lock(self, week: str, record: dict[str, Any]) -> bool:
        """Create the week's lock exclusively; False if it already exists."""
        data = dumps(record)
        path = self.lock_path(week)
        if self.local:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            return True
        try:
            self._create_exclusive(path, data)
        except ArtifactError:
            return False
        return json.loads(self.fs.cat_file(path)).get("token") == record["token"]

    def read_lock(self, week: str) -> dict[str, Any] | None:
        path = self.lock_path(week)
        try:
            return json.loads(self.fs.cat_file(path))
        except FileNotFoundError:
            return None
        except ValueError:
            return {"torn": True}  # a writer died mid-write: treated as stale

    def remove_lock(self, week: str, token: str | None = None) -> bool:
        """Remove the lock (only ours when ``token`` is given); True if removed."""
        path = self.lock_path(week)
        if token is not None:
            held = self.read_lock(week)
            if not held or held.get("token") != token:
                return False
        if self.local:
            # Rename first so two breakers of one stale lock cannot both succeed.
            grave = f"{path}.removed-{uuid.uuid4().hex[:8]}"
            try:
                os.rename(path, grave)
            except FileNotFoundError:
                return False
            os.unlink(grave)
            return True
        try:
            self.fs.rm_file(path)
        except FileNotFoundError:
            return False
        return True


def _lock_is_stale(lock: dict[str, Any], stale_after_s: float) -> bool:
    """Stale if torn, older than ``stale_after_s``, or its process on this host is gone."""
    if lock.get("torn"):
        return True
    if time.time() - float(lock.get("created_ts", 0)) > stale_after_s:
        return True
    if lock.get("host") == socket.gethostname() and lock.get("pid"):
        try:
            proc = psutil.Process(int(lock["pid"]))
            return abs(proc.create_time() - float(lock.get("pid_started", 0))) > 1.0
        except psutil.NoSuchProcess:
            return True
    return False


@contextmanager
def week_lock(
    store: ArtifactStore,
    week: str,
    *,
    run_id: str | None = None,
    stale_after_s: float = DEFAULT_STALE_LOCK_S,
) -> Iterator[dict[str, Any]]:
    """Hold the publish lock of ``week`` for the block, or raise LockHeldError.

    Re-entrant per run: inside a block holding the lock for ``run_id``, a nested
    ``week_lock(..., run_id=run_id)`` in the same process yields the held record and leaves
    releasing it to the outer block (the flow holds the week, publish_version nests).
    Stale locks: a lock whose process on this host has died (a killed run), that is torn, or
    that is older than ``stale_after_s`` is broken and taken over, so a rerun after a crash
    proceeds; so is a lock of the same ``run_id`` held by another process (a Prefect retry of
    the run in a new process). A live lock from another host younger than ``stale_after_s``
    must be waited for or removed by hand.
    """
    week = parse_week(week)
    me = psutil.Process(os.getpid())
    record = {
        "week": week,
        "run_id": run_id or f"pid-{os.getpid()}",
        "token": uuid.uuid4().hex,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "pid_started": me.create_time(),
        "created_at": now_iso(),
        "created_ts": time.time(),
    }
    for _ in range(3):
        if store.try_create_lock(week, record):
            break
        held = store.read_lock(week)
        if held is None:
            continue  # released between our attempt and the read
        same_run = run_id is not None and held.get("run_id") == run_id
        if same_run and held.get("host") == record["host"] and held.get("pid") == record["pid"]:
            yield held  # nested in this process: the outer block owns and releases it
            return
        if same_run or _lock_is_stale(held, stale_after_s):
            store.remove_lock(week, held.get("token"))
            continue
        raise LockHeldError(
            f"week {week} is already being published by run {held.get('run_id')} "
            f"(pid {held.get('pid')} on {held.get('host')}, since {held.get('created_at')}); "
            f"wait or remove the stale lock at {store.lock_path(week)}"
        )
    else:
        raise LockHeldError(
            f"could not take the publish lock of week {week} after 3 attempts; "
            f"another run keeps taking it: wait, or remove {store.lock_path(week)}"
        )
    try:
        yield record
    finally:
        store.remove_lock(week, record["token"])


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_tree(path: Path) -> None:
    for child in path.iterdir():
        child.unlink()
    path.rmdir()
