"""Store and configuration basics. Stays away from ingest and the judge."""

from __future__ import annotations

import duckdb
import pytest

from judge.scale import Scale
from judgeflow.config import load_settings
from judgeflow.store import connect, migrate, migrations, sql
from judgeflow.weeks import last_complete_week, parse_week


def test_migrations_are_applied_once_and_recorded(db_path):
    con = connect(db_path)
    recorded = con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [v for (v,) in recorded] == [v for v, _, _ in migrations()]
    assert migrate(con) == []
    con.close()


def test_the_query_key_migration_keeps_every_stored_query_key(db_path):
    # A store as it was before migration 004: production samples with their own query_key.
    con = duckdb.connect(str(db_path))
    con.execute(sql("create_schema_migrations"))
    for version, name, text in migrations():
        if version < 4:
            con.execute(text)
            con.execute(sql("insert_schema_migration"), {"version": version, "name": name})
    con.execute(
        "INSERT INTO production_samples (sample_id, week, query, query_key, document, content_hash, "
        "source_uri, source_row, ingest_run_id) VALUES "
        "('s1', 'w', 'vpn', 'k-vpn', 'd', '00000000000000ff', 'u', 1, 'r'), "
        "('s2', 'w', 'vpn', 'k-vpn', 'e', 'ffffffffffffffff', 'u', 2, 'r'), "
        "('s3', 'w', 'payroll', 'k-pay', 'd', format('{:016x}', hash('payroll', 'd')), 'u', 3, 'r')"
    )
    assert [name for name in migrate(con) if name.startswith("004")] == ["004_move_production_query_keys"]
    # and migration 005: the hex text of each content hash becomes the 64-bit number it spells
    assert con.execute("SELECT content_hash FROM production_samples ORDER BY sample_id").fetchall() == [
        (255,), (2**64 - 1,), con.execute("SELECT hash('payroll', 'd')").fetchone()]
    assert con.execute("SELECT * FROM query_keys ORDER BY query").fetchall() == [("payroll", "k-pay"), ("vpn", "k-vpn")]
    columns = [c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'production_samples'").fetchall()]
    assert "query_key" not in columns and con.execute("SELECT count(*) FROM production_samples").fetchone() == (3,)
    con.close()


def test_scale_parses_and_rejects_bad_values():
    assert Scale.parse("0-3").span == 3
    assert Scale.parse(" 1 - 5 ") == Scale()
    with pytest.raises(ValueError, match="'1to5'"):
        Scale.parse("1to5")
    with pytest.raises(ValueError, match="5-1"):
        Scale.parse("5-1")
    assert not Scale().contains(True)
    assert not Scale().contains(4.0)
    assert Scale().contains(5)


def test_settings_precedence_flag_over_env_over_project_file(tmp_path, monkeypatch):
    (tmp_path / "judgeflow.toml").write_text('[judgeflow]\nscale = "0-3"\ntimezone = "Europe/Paris"\n')
    assert str(load_settings(tmp_path).scale) == "0-3"
    monkeypatch.setenv("JUDGEFLOW_SCALE", "1-4")
    assert str(load_settings(tmp_path).scale) == "1-4"
    assert str(load_settings(tmp_path, scale="1-5").scale) == "1-5"
    assert load_settings(tmp_path).timezone == "Europe/Paris"


def test_week_parsing_names_the_bad_value():
    assert parse_week("2026-W07") == "2026-W07"
    with pytest.raises(ValueError, match="2026-47"):
        parse_week("2026-47")
    with pytest.raises(ValueError, match="no ISO week 54"):
        parse_week("2026-W54")


def test_last_complete_week_is_the_week_before_now():
    from datetime import UTC, datetime

    assert last_complete_week("UTC", datetime(2026, 11, 22, 12, tzinfo=UTC)) == "2026-W46"
    # Monday 00:30 in Tokyo is still Sunday in UTC.
    assert last_complete_week("Asia/Tokyo", datetime(2026, 11, 22, 15, 30, tzinfo=UTC)) == "2026-W47"
