"""The `judgeflow` command line. Commands live in one module per area."""

from __future__ import annotations

import sys

import click

from judgeflow.errors import JudgeflowError


class _Group(click.Group):
    """Turn domain errors into one clear line and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (JudgeflowError, ValueError) as exc:
            # pydantic's ValidationError is a ValueError: keep its first line only.
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            error = click.ClickException(message)
            error.exit_code = 2
            raise error from exc


@click.group(cls=_Group)
@click.version_option(package_name="judgeflow")
def cli() -> None:
    """Keep an LLM-as-a-judge aligned with human raters, week after week."""


def _register() -> None:
    # Imported for their side effect of adding commands to `cli`.
    from judgeflow.cli import (  # noqa: F401
        data,
        evaluate,
        judge,
        optimize,
        publish,
        run,
        sample,
        trec,
    )


def main() -> None:
    _register()
    try:
        cli.main(standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)
