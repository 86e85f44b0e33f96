"""The DuckDB store: one file, schema applied by numbered migrations, SQL read from sql/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import duckdb

_MIGRATION_RE = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


class StoreError(RuntimeError):
    """A problem with the DuckDB store that the user can act on."""


def sql_dir() -> Path:
    """sql/ in a source checkout, or the copy packaged inside the wheel."""
    repo = Path(__file__).resolve().parent.parent / "sql"
    if repo.is_dir():
        return repo
    return Path(__file__).resolve().parent / "_sql"


@cache
def sql(name: str) -> str:
    """The text of sql/<name>.sql; values are bound as $name parameters, never formatted in."""
    path = sql_dir() / f"{name}.sql"
    if not path.exists():
        raise StoreError(f"no SQL file named {name!r} in {sql_dir()}")
    return path.read_text(encoding="utf-8")


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, text) of every numbered file in sql/migrations, in order."""
    found = []
    for path in sorted((sql_dir() / "migrations").glob("*.sql")):
        match = _MIGRATION_RE.match(path.name)
        if not match:
            raise StoreError(f"migration file {path.name!r} must be named NNN_verb_object.sql")
        found.append((int(match.group(1)), path.stem, path.read_text(encoding="utf-8")))
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise StoreError(f"two migrations share a number in {sql_dir() / 'migrations'}")
    return found


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the migrations the database has not recorded yet; return their names."""
    con.execute(sql("create_schema_migrations"))
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, name, text in migrations():
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(text)
            con.execute(sql("insert_schema_migration"), {"version": version, "name": name})
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the store and bring its schema up to date."""
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise StoreError(
                f"the store {path} is in use by another judgeflow process; "
                "wait for it to finish (DuckDB allows one writer per file)"
            ) from exc
        raise
    if not read_only:
        migrate(con)
    return con


@contextmanager
def open_store(path: str | Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """connect() as a context manager that always closes the file."""
    con = connect(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All-or-nothing: commit on success, roll back on any exception."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
