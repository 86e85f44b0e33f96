"""The artifact store's guarantees: immutability, an atomic pointer under crashes, the week lock, fsspec.

Stays away from DSPy and the LM: programs are plain state-only JSON dicts. Crashes are real:
forked publishers are SIGKILLed at random points while a reader thread loads the champion.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest

from judgeflow.weeks import shift_week
from tasks.artifacts import (
    ArtifactError,
    ArtifactStore,
    LockHeldError,
    week_lock,
)
from tasks.champion import list_versions, read_champion, read_version, rollback
from tasks.publish import publish_version
from tests.tasks.artifact_data import manifest, program


def test_a_version_is_never_overwritten(store):
    files = {"program.json": b"{}", "manifest.json": b'{"version": "v0001"}', "report.md": b"first"}
    store.write_version("v0001", files)
    with pytest.raises(ArtifactError, match="v0001 already exists"):
        store.write_version("v0001", {**files, "report.md": b"second"})
    assert (Path(store.root) / "v0001" / "report.md").read_bytes() == b"first"


def test_crash_mid_pointer_write_leaves_the_previous_pointer_readable(store):
    publish_version(store, program("a"), manifest("2026-W45"), "r", promote=True)
    publish_version(store, program("b"), manifest("2026-W46"), "r", promote=False)
    # A writer killed mid-write leaves a torn temp file beside the pointer, never a torn pointer.
    (Path(store.root) / ".CHAMPION.tmp-deadbeef").write_bytes(b'{"version": "v00')
    (Path(store.root) / ".tmp-v0003-deadbeef").mkdir()
    assert read_champion(store)[0] == "v0001"
    assert [v.version for v in list_versions(store)] == ["v0001", "v0002"]
    assert publish_version(store, program("c"), manifest("2026-W47"), "r", promote=True).version == "v0003"


def test_a_torn_history_line_is_skipped_and_later_records_stay_whole(store):
    publish_version(store, program("a"), manifest("2026-W45"), "r", promote=True)
    with open(Path(store.root) / "history.jsonl", "ab") as fh:
        fh.write(b'{"action": "prom')  # a crash mid-append
    publish_version(store, program("b"), manifest("2026-W46"), "r", promote=True)
    assert [(e["action"], e["version"]) for e in store.read_lines("history.jsonl")] == [
        ("promote", "v0001"),
        ("promote", "v0002"),
    ]
    assert rollback(store).version == "v0001"


def test_temp_leftovers_of_crashed_writers_are_swept_once_old(store):
    stale, fresh = Path(store.root) / ".tmp-v0002-0ld", Path(store.root) / ".CHAMPION.tmp-fresh"
    stale.mkdir()
    (stale / "program.json").write_bytes(b"{")
    fresh.write_bytes(b"{")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    assert store.sweep_temp() == [".tmp-v0002-0ld"]
    assert fresh.exists() and not stale.exists()


def test_a_second_thread_publishing_the_same_week_gets_a_clear_lock_error(store):
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with week_lock(store, "2026-W47", run_id="run-A"):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    try:
        with pytest.raises(
            LockHeldError,
            match=r"week 2026-W47 is already being published by run run-A .*wait or remove the stale lock at .*2026-W47.lock",
        ):
            publish_version(store, program("b"), manifest("2026-W47"), "r", promote=True, run_id="run-B")
    finally:
        release.set()
        thread.join()
    assert publish_version(store, program("b"), manifest("2026-W47"), "r", promote=True).version == "v0001"
    assert not Path(store.lock_path("2026-W47")).exists()


def _hold_lock(url: str, held, release) -> None:  # runs in a forked process
    with week_lock(ArtifactStore(url), "2026-W47", run_id="run-child"):
        held.set()
        release.wait(30)
    os._exit(0)


def test_a_second_process_is_refused_while_the_first_lives_and_takes_over_once_it_is_killed(store):
    ctx = multiprocessing.get_context("fork")
    held, release = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_hold_lock, args=(store.url, held, release))
    child.start()
    assert held.wait(10)
    with pytest.raises(LockHeldError, match=f"run run-child \\(pid {child.pid} "):
        with week_lock(store, "2026-W47", run_id="run-parent"):
            pass
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    with week_lock(store, "2026-W47", run_id="run-parent") as lock:  # the dead run's lock is stale
        assert lock["run_id"] == "run-parent"


def test_a_run_holding_the_week_can_publish_inside_it_and_still_holds_the_week_afterwards(store):
    with week_lock(store, "2026-W47", run_id="flow-run-1") as outer:
        info = publish_version(store, program("a"), manifest("2026-W47"), "r", promote=True, run_id="flow-run-1")
        assert info.version == "v0001"
        assert store.read_lock("2026-W47")["token"] == outer["token"]
        with pytest.raises(LockHeldError, match="flow-run-1"):
            publish_version(store, program("b"), manifest("2026-W47"), "r", promote=True, run_id="flow-run-2")
    assert store.read_lock("2026-W47") is None


def test_stale_locks_from_another_host_are_broken_only_when_old_and_a_retry_of_the_same_run_reenters(
    store,
):
    base = {"week": "2026-W47", "run_id": "run-far", "host": "other-host", "pid": 1, "token": "t1"}
    store.try_create_lock("2026-W47", {**base, "created_ts": time.time()})
    with pytest.raises(LockHeldError, match="run-far"):
        with week_lock(store, "2026-W47"):
            pass
    with week_lock(store, "2026-W47", run_id="run-far"):
        pass
    store.try_create_lock("2026-W47", {**base, "token": "t2", "created_ts": time.time() - 7 * 3600})
    with week_lock(store, "2026-W47", run_id="run-new") as lock:
        assert lock["run_id"] == "run-new"


def test_a_memory_fsspec_store_publishes_rolls_back_and_locks():
    store = ArtifactStore(f"memory://judgeflow-{uuid.uuid4().hex}/artifacts")
    assert not store.local
    publish_version(store, program("a"), manifest("2026-W45"), "r", promote=True)
    publish_version(store, program("b"), manifest("2026-W46"), "r", promote=True)
    with pytest.raises(ArtifactError, match="already exists"):
        store.write_version("v0002", {"program.json": b"{}", "manifest.json": b"{}", "report.md": b""})
    assert read_champion(store)[0] == "v0002"
    assert rollback(store).version == "v0001"
    assert [v.champion for v in list_versions(store)] == [True, False]
    with week_lock(store, "2026-W47", run_id="a"):
        with pytest.raises(LockHeldError):
            with week_lock(store, "2026-W47", run_id="b"):
                pass
    store.fs.pipe_file(store.path("v0001", "program.json"), b'{"x": 1}')
    with pytest.raises(ArtifactError, match="corrupt"):
        read_version(store, "v0001")


WEEKS = [shift_week("2026-W01", i) for i in range(25)]


def _publish_weeks(url: str) -> None:  # runs in a forked process
    store = ArtifactStore(url)
    for week in WEEKS:
        publish_version(store, program(week), manifest(week), f"report {week}", promote=True)
    os._exit(0)


def _run(url: str, kill_after: float | None) -> None:
    child = multiprocessing.get_context("fork").Process(target=_publish_weeks, args=(url,))
    child.start()
    if kill_after is None:
        child.join(60)
    else:
        time.sleep(kill_after)
        os.kill(child.pid, signal.SIGKILL)
        child.join()


def test_killing_publishers_at_random_points_never_exposes_a_partial_version(tmp_path):
    store = ArtifactStore(tmp_path / "crashy")
    errors: list[str] = []
    stop = threading.Event()

    def read_constantly() -> None:
        while not stop.is_set():
            try:
                read_champion(store)
            except ArtifactError as exc:
                errors.append(str(exc))

    reader = threading.Thread(target=read_constantly)
    reader.start()
    rng = random.Random(7)
    try:
        for _ in range(12):
            _run(store.url, rng.uniform(0.0, 0.25))
            for version in store.version_names():
                read_version(store, version)  # every listed version is complete and verified
    finally:
        stop.set()
        reader.join()
    _run(store.url, None)  # the rerun finishes the job
    clean = ArtifactStore(tmp_path / "clean")
    _run(clean.url, None)

    def contents(s: ArtifactStore) -> list[tuple]:
        return [(v.version, v.week, v.sha256, v.status) for v in list_versions(s)]

    assert errors == []
    moves = [line["version"] for line in store.read_lines("history.jsonl")]
    assert moves == sorted(moves), "a rerun of an earlier week moved the pointer backwards"
    assert contents(store) == contents(clean)
    assert len(contents(store)) == len(WEEKS)
    assert read_champion(store)[0] == read_champion(clean)[0] == f"v{len(WEEKS):04d}"


def test_an_unknown_store_url_is_refused_with_what_to_do():
    with pytest.raises(ArtifactError, match=r"cannot open the artifact store 'nosuchproto://b/x' .*local folder"):
        ArtifactStore("nosuchproto://b/x")
