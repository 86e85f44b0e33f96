"""`judgeflow score` on JSONL files the tests write themselves.

Stays away from the judge, the LM and the store: only files in tmp_path and the click
command. The metric arithmetic itself is tested in tests/judge/test_metrics.py; here the
figures are recomputed by hand only to prove the files were read and joined correctly.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import judgeflow.cli.judge  # noqa: F401  (registers `score` on the group)
from judgeflow.cli import cli


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    text = "".join(json.dumps(row) + "\n" for row in rows)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    gold = write_jsonl(
        tmp_path / "gold.jsonl",
        [
            {"id": "a", "rating": 5},
            {"id": "b", "rating": 3},
            {"id": "c", "rating": 1},
            {"id": "d", "rating": 4},
        ],
    )
    preds = write_jsonl(
        tmp_path / "preds.jsonl",
        [{"id": "a", "rating": 4}, {"id": "b", "rating": None}, {"id": "c", "rating": 2}],
    )
    return preds, gold


def score(*args: str):
    return CliRunner().invoke(cli, ["score", *args])


def test_json_output_is_one_object_with_nmse_on_0_100_and_parse_rate_as_a_fraction(files):
    preds, gold = files
    result = score("--predictions", str(preds), "--gold", str(gold), "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    # a: (4-5)^2/16 = 1/16; b: null -> 1; c: (2-1)^2/16 = 1/16; d: missing -> 1
    # NMSE = 100 * (1/16 + 1 + 1/16 + 1) / 4 = 53.125
    assert metrics["nmse"] == pytest.approx(53.125)
    assert metrics["parse_rate"] == 0.5  # a and c of four gold ids
    assert (metrics["n"], metrics["n_parsed"], metrics["n_missing"]) == (4, 2, 1)
    assert metrics["mae"] == 1.0  # |4-5| and |2-1| over the parsed rows
    for key in (
        "kappa",
        "qwk",
        "pearson",
        "spearman",
        "exact",
        "within1",
        "confusion",
        "nmse_by_gold",
    ):
        assert key in metrics
    assert metrics["confusion"]["4"]["unparsed"] == 1  # the missing id d


def test_the_table_shows_the_headline_figures_and_the_confusion_matrix(files):
    preds, gold = files
    result = score("--predictions", str(preds), "--gold", str(gold))
    assert result.exit_code == 0, result.output
    assert "nmse (0-100)          53.12" in result.output
    assert "parse_rate            0.500" in result.output
    assert "confusion (rows gold, columns predicted)" in result.output


def test_a_prediction_id_missing_from_gold_is_an_error_naming_it(files, tmp_path):
    _, gold = files
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "rating": 4}, {"id": "zz", "rating": 2}])
    result = score("--predictions", str(preds), "--gold", str(gold))
    assert result.exit_code != 0
    assert "'zz'" in result.output and "not in the gold file" in result.output
    assert "Traceback" not in result.output


def test_a_gold_rating_outside_the_scale_is_an_error_and_scale_flag_changes_it(files):
    preds, gold = files
    result = score("--predictions", str(preds), "--gold", str(gold), "--scale", "0-3")
    assert result.exit_code != 0
    assert "gold rating 5 for id 'a' is outside the scale 0-3" in result.output


def test_the_scale_defaults_to_the_project_file(tmp_path):
    Path("judgeflow.toml").write_text('[judgeflow]\nscale = "0-3"\n', encoding="utf-8")
    gold = write_jsonl(tmp_path / "g.jsonl", [{"id": 1, "rating": 0}, {"id": 2, "rating": 3}])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": 1, "rating": 3}, {"id": 2, "rating": 3}])
    result = score("--predictions", str(preds), "--gold", str(gold), "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    # id 1: (3-0)^2/9 = 1; id 2: 0 -> NMSE 50 on 0-3
    assert (metrics["scale"], metrics["nmse"]) == ("0-3", 50.0)


def test_gzipped_files_are_read(tmp_path):
    gold = write_jsonl(tmp_path / "g.jsonl.gz", [{"id": "x", "rating": 2}])
    preds = write_jsonl(tmp_path / "p.jsonl.gz", [{"id": "x", "rating": 2}])
    result = score("--predictions", str(preds), "--gold", str(gold), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["nmse"] == 0.0


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"id": "a", "rating": 4}', "not json"], "preds.jsonl:2: not a JSON object"),
        (['{"id": "a"}'], "needs the fields id and rating"),
        (['{"id": "a", "rating": "4"}'], "rating must be an integer or null, got '4'"),
        (['{"id": "a", "rating": 4.5}'], "got 4.5"),
        (['{"id": "a", "rating": 4}', '{"id": "a", "rating": 3}'], "duplicate id 'a'"),
        (['{"id": "a", "rating": 9}'], "predicted rating 9 for id 'a' is outside the scale 1-5"),
    ],
)
def test_bad_prediction_lines_are_one_line_errors_naming_the_problem(
    files, tmp_path, lines, message
):
    _, gold = files
    preds = tmp_path / "preds.jsonl"
    preds.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = score("--predictions", str(preds), "--gold", str(gold))
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_null_gold_rating_is_refused(tmp_path):
    gold = write_jsonl(tmp_path / "g.jsonl", [{"id": "a", "rating": None}])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "rating": 3}])
    result = score("--predictions", str(preds), "--gold", str(gold))
    assert result.exit_code != 0
    assert "gold rating None for id 'a'" in result.output
