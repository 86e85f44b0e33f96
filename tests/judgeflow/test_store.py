"""Store and configuration basics. Stays away from ingest and the judge."""

from __future__ import annotations

import pytest

from judge.scale import Scale
from judgeflow.config import load_settings
from judgeflow.store import connect, migrate, migrations
from judgeflow.weeks import last_complete_week, parse_week


def test_migrations_are_applied_once_and_recorded(db_path):
    con = connect(db_path)
    recorded = con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [v for (v,) in recorded] == [v for v, _, _ in migrations()]
    assert migrate(con) == []
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
