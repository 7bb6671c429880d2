"""The command group that turns every input error into one line and exit code 2."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from moecomm.cli.flags import FLAGS
from moecomm.errors import MoecommError


class InputError(click.ClickException):
    """Bad input: printed as one line per problem, exit code 2 like click's usage errors."""

    exit_code = 2


def _shorten(text: str, limit: int) -> str:
    """click's own short help: the summary cut at a word boundary with '...'."""
    from click.utils import make_default_short_help

    short: str = make_default_short_help(text, max(limit, 45))  # type: ignore[operator]
    return short


def _one_line(message: str) -> str:
    return " ".join(message.split())


class MoecommGroup(click.Group):
    """A click group whose errors never print usage blocks or tracebacks.

    Subcommands named in ``lazy`` (name -> module path with a ``command``) are imported only
    when used, so one command does not pay for the imports of all the others.
    """

    def __init__(
        self,
        *args: Any,
        lazy: dict[str, str] | None = None,
        summaries: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})
        self.summaries = dict(summaries or {})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the summaries, so that --help imports no command module."""
        rows = [(name, self.summaries[name]) for name in self.list_commands(ctx)]
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            shortened = [(name, _shorten(text, limit)) for name, text in rows]
            with formatter.section("Commands"):
                formatter.write_dl(shortened)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module = importlib.import_module(self.lazy[cmd_name])
            command: click.Command = module.command
            return command
        return super().get_command(ctx, cmd_name)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            click.echo(f"Error: {_one_line(exc.format_message())}", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            click.echo(f"Error: {_one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except MoecommError as exc:  # raised outside a command body (e.g. in a callback)
            click.echo(f"Error: {_one_line(exc.text(FLAGS))}", err=True)
            sys.exit(2)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MoecommError as exc:
            raise InputError(exc.text(FLAGS)) from None


def emit(text: str) -> None:
    click.echo(text, nl=False)


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
