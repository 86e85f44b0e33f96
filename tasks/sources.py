"""Sources: resolve a file, a directory or an fsspec URL into local files DuckDB can read.

Each file is hashed (sha256, streamed) for the ingest ledger. Remote files (any fsspec URL
other than a local path) are copied to a temporary folder while they are hashed, so DuckDB
always reads a local file and the hash is of exactly the bytes that were read. A local file's
hash may be left pending (``hash_local=False``) and computed later with ``with_hashes``, so
ingest can hash a source it already knows has changed while DuckDB checks its rows.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import fsspec

from judgeflow.errors import InputError
from judgeflow.store import sql

FORMATS = {
    ".jsonl": "jsonl",
    ".jsonl.gz": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".json.gz": "json",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "tsv",
    ".tsv.gz": "tsv",
    ".parquet": "parquet",
}
_CHUNK = 1 << 20


@dataclass(frozen=True)
class SourceFile:
    """One input file: where it came from, the local copy DuckDB reads, its format and hash."""

    uri: str
    local_path: str
    format: str
    sha256: str | None  # None: a local file not hashed yet (see with_hashes)
    bytes: int

    def ledger_entry(self) -> dict[str, object]:
        return {"uri": self.uri, "format": self.format, "sha256": self.sha256, "bytes": self.bytes}


def file_format(name: str) -> str | None:
    """The format named by a file's extension, or None when judgeflow does not read it."""
    lower = name.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if lower.endswith(suffix):
            return FORMATS[suffix]
    return None


def _is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def _hash_and_copy(fs: fsspec.AbstractFileSystem, path: str, copy_to: Path | None) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with fs.open(path, "rb") as src:
        out = copy_to.open("wb") if copy_to else None
        try:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if out:
                    out.write(chunk)
        finally:
            if out:
                out.close()
    return digest.hexdigest(), size


def resolve_sources(
    source: str | Path, workdir: str | Path | None = None, *, hash_local: bool = True
) -> list[SourceFile]:
    """Every readable file of ``source`` (a file or a directory, local or fsspec URL), sorted.

    Remote files are copied into ``workdir`` (a new temporary folder when None) and hashed on
    the way. Local files are hashed too, unless ``hash_local`` is False: then their sha256 is
    None and their size is the file system's, for ``with_hashes`` to complete.
    """
    uri = str(source)
    fs, root = fsspec.core.url_to_fs(uri)
    if not fs.exists(root):
        raise InputError(f"source {uri!r} does not exist; pass a file, a folder or an fsspec URL")
    if fs.isdir(root):
        paths = sorted(p for p in fs.find(root) if file_format(p))
        if not paths:
            raise InputError(
                f"folder {uri!r} holds no .jsonl, .jsonl.gz, .json, .csv, .tsv or .parquet files"
            )
    else:
        if not file_format(root):
            raise InputError(
                f"file {uri!r} is not .jsonl, .jsonl.gz, .json, .csv, .tsv or .parquet; rename or convert it"
            )
        paths = [root]
    local = _is_local(uri)
    folder = None if local else Path(workdir or tempfile.mkdtemp(prefix="judgeflow-src-"))
    files = []
    for index, path in enumerate(paths):
        file_uri = path if local else fs.unstrip_protocol(path)
        if local and not hash_local:
            digest, size = None, fs.size(path)
            local_path = path
        elif local:
            digest, size = _hash_and_copy(fs, path, None)
            local_path = path
        else:
            target = folder / f"{index:05d}-{Path(path).name}"
            digest, size = _hash_and_copy(fs, path, target)
            local_path = str(target)
        files.append(SourceFile(file_uri, local_path, file_format(path) or "", digest, size))
    return files


def with_hashes(files: list[SourceFile]) -> list[SourceFile]:
    """``files`` with every pending sha256 computed (the files hashed already are kept)."""
    out = []
    for f in files:
        if f.sha256 is None:
            digest, size = _hash_and_copy(fsspec.filesystem("file"), f.local_path, None)
            f = replace(f, sha256=digest, bytes=size)
        out.append(f)
    return out


def cleanup(files: list[SourceFile]) -> None:
    """Remove the temporary copies of remote files."""
    folders = {Path(f.local_path).parent for f in files if not _is_local(f.uri)}
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


# JSON forbids raw control characters, so this never splits a valid JSONL line.
_LINE_DELIM = "\x01"
_CSV_DELIMS = (",", ";", "\t", "|")
# Longer lines are quarantined as line_too_long; DuckDB sizes its read buffer from this.
MAX_LINE_BYTES = 8 << 20


def _first_line(path: str) -> str:
    with fsspec.open(path, "rb", compression="infer") as fh:
        return fh.readline().decode("utf-8", errors="replace")


def csv_delimiter(file: SourceFile) -> str:
    """The delimiter of a CSV file's header line (',', ';', tab or '|'); TSV is always tab."""
    if file.format == "tsv":
        return "\t"
    header = _first_line(file.local_path)
    counts = {d: header.count(d) for d in _CSV_DELIMS}
    best = max(_CSV_DELIMS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _is_json_array(path: str) -> bool:
    with fsspec.open(path, "rb", compression="infer") as fh:
        head = fh.read(4096).lstrip()
    return head.startswith(b"[")


def stage_file(con: duckdb.DuckDBPyConnection, file: SourceFile, *, in_place: bool = False,
               typed_parquet: bool = True) -> dict[str, object]:
    """Append one file's rows to the temp table staged_raw; return what was learnt about it.

    With ``in_place`` a JSONL file, and a Parquet file if ``typed_parquet``, is not staged:
    the caller reads it straight from the file (info["read"] == "in place").
    """
    info: dict[str, object] = file.ledger_entry()
    if file.bytes == 0:
        return info
    if in_place and (file.format == "jsonl" or (typed_parquet and file.format == "parquet")):
        info["read"] = "in place"
        return info
    params = {"uri": file.uri, "file": file.local_path}
    try:
        if file.format == "parquet":
            con.execute(sql("insert_staged_parquet"), params)
            return info
        if file.format == "json" and _is_json_array(file.local_path):
            con.execute(sql("insert_staged_json_array"), params)
            return info
        con.execute(sql("drop_reject_tables"))
        con.execute(sql("drop_reject_scans"))
        if file.format in ("csv", "tsv"):
            delim = csv_delimiter(file)
            info["delimiter"] = delim
            con.execute(sql("insert_staged_csv"), {**params, "delim": delim, "max_line_size": MAX_LINE_BYTES})
            kind = "csv"
        else:
            con.execute(sql("insert_staged_jsonl"), {**params, "delim": _LINE_DELIM, "max_line_size": MAX_LINE_BYTES})
            kind = "jsonl"
        rejected = con.execute(sql("count_rejected_lines")).fetchone()[0]
        if rejected:
            con.execute(sql("create_file_line_macro"))
            con.execute(sql("renumber_staged_lines"), {"uri": file.uri})
            con.execute(sql("insert_staged_rejects"), {"uri": file.uri, "format": kind})
        info["rejected_lines"] = rejected
    except duckdb.Error as exc:
        raise unreadable(file, exc, "fix the file or convert it to JSONL") from exc
    return info


def unreadable(file: SourceFile, exc: duckdb.Error, what_to_do: str) -> InputError:
    """The one-line error for a file DuckDB could not read: the file, the format, DuckDB's reason."""
    first = str(exc).strip().splitlines()[0]
    return InputError(f"cannot read {file.uri!r} as {file.format}: {first}; {what_to_do}")


def _point_at(con: duckdb.DuckDBPyConnection, file: SourceFile) -> None:
    """Set the session variables the in-place views read: jf_file (local path) and jf_uri."""
    con.execute("SET VARIABLE jf_file = $file", {"file": file.local_path})
    con.execute("SET VARIABLE jf_uri = $uri", {"uri": file.uri})


def stage_files(
    con: duckdb.DuckDBPyConnection, files: list[SourceFile], *, in_place: bool = False, typed_parquet: bool = True
) -> list[dict[str, object]]:
    """Create staged_raw and fill it from every file, in order (see stage_file for ``in_place``)."""
    con.execute(sql("create_staged_raw"))
    return [stage_file(con, f, in_place=in_place, typed_parquet=typed_parquet) for f in files]


def read_jsonl_in_place(con: duckdb.DuckDBPyConnection, file: SourceFile, view: str) -> None:
    """Point the view ``view`` (a fixed name: sql/create_<view>_from_jsonl.sql) at one JSONL file."""
    con.execute(sql("drop_reject_tables"))
    con.execute(sql("drop_reject_scans"))
    _point_at(con, file)
    con.execute("SET VARIABLE jf_delim = $delim", {"delim": _LINE_DELIM})
    con.execute("SET VARIABLE jf_max_line_size = $size", {"size": MAX_LINE_BYTES})
    con.execute(sql(f"create_{view}_from_jsonl"))


def read_jsonl_records_in_place(con: duckdb.DuckDBPyConnection, file: SourceFile, view: str) -> None:
    """Point the view ``view`` (sql/create_<view>_from_jsonl_records.sql) at one JSONL file, read
    by DuckDB's JSON reader: ~3x faster than the line reader, but it skips blank lines and fails
    on a bad line, so only a file whose records account for every byte may keep its rows."""
    _point_at(con, file)
    con.execute(sql(f"create_{view}_from_jsonl_records"))


def ends_with_newline(file: SourceFile) -> bool:
    """Whether the local copy of ``file`` ends with a line feed (an empty file does not)."""
    with open(file.local_path, "rb") as fh:
        if fh.seek(0, 2) == 0:
            return False
        fh.seek(-1, 2)
        return fh.read(1) == b"\n"


def read_typed_parquet(con: duckdb.DuckDBPyConnection, file: SourceFile, view: str) -> None:
    """Point the view ``view`` (a fixed name: sql/create_<view>_from_parquet.sql) at one Parquet file."""
    _point_at(con, file)
    try:
        con.execute(sql(f"create_{view}_from_parquet"))
    except duckdb.Error as exc:
        raise unreadable(file, exc, "fix the file or convert it to JSONL") from exc
