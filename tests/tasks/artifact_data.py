"""Plain manifests and programs shared by the publishing tests (the store fixture is in conftest)."""

from __future__ import annotations


def manifest(week: str, nmse: float = 10.0, parse_rate: float = 1.0) -> dict:
    return {
        "week": week,
        "scale": "1-5",
        "optimizer": {"name": "library", "settings": {"max_calls": 10}},
        "candidate_metrics": {"nmse": nmse, "parse_rate": parse_rate, "n": 40},
        "decision": {"reason": f"promoted: test for {week}."},
    }


def program(label: str) -> dict:
    return {"judge.predict": {"signature": {"instructions": f"Rate relevance ({label})."}, "demos": []}}
