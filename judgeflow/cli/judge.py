"""CLI commands: score."""

from __future__ import annotations
