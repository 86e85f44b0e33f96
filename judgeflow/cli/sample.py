"""CLI commands: sample-data, import-trec."""

from __future__ import annotations
