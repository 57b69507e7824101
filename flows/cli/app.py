"""The frame of the `spokesync` command line: user mistakes in one line and exit 2, tracebacks
only with `--debug`, and `--version`.

Typer's own handling of a bad option prints a usage line, a hint and a framed box (five lines);
here a usage mistake is one line naming the command, the problem and where help is. Anything
unexpected is one line too, and `spokesync --debug …` shows its traceback.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version

import typer
from typer._click import exceptions as click  # typer vendors click: its errors are these

from spokesync.flows.cli.common import USER_MISTAKE, state


class Cli(typer.Typer):
    """A Typer app whose usage errors and unexpected failures are said in one line."""

    def __call__(self, *args, **kwargs):
        try:
            code = super().__call__(*args, standalone_mode=False, **kwargs)
        except click.NoArgsIsHelpError as exc:
            exc.show()  # `spokesync review` alone: the group's help, as before
            sys.exit(USER_MISTAKE)
        except click.ClickException as exc:
            say_usage_error(exc)
            sys.exit(USER_MISTAKE)
        except typer.Abort:
            print("spokesync: aborted", file=sys.stderr)
            sys.exit(1)
        except Exception as exc:
            if state["debug"]:
                raise
            print(f"error: {unexpected(exc)}", file=sys.stderr)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def say_usage_error(exc: click.ClickException) -> None:
    """`error: <what>` and where help is, on one line (stderr, so CSV on stdout stays clean)."""
    ctx = getattr(exc, "ctx", None)
    where = f" (`{ctx.command_path} --help` lists the options)" if ctx else ""
    print(f"error: {exc.format_message()}{where}", file=sys.stderr)


def unexpected(exc: BaseException) -> str:
    first = (str(exc).splitlines() or [""])[0]
    return (
        f"{type(exc).__name__}: {first} (unexpected; run again as `spokesync --debug …` for "
        "the traceback and report it)"
    )


def package_version() -> str:
    try:
        return version("spokesync")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def show_version(value: bool) -> None:
    if value:
        print(f"spokesync {package_version()}")
        raise typer.Exit(0)


def add_global_options(app: typer.Typer) -> None:
    """`spokesync [--debug] [--version] COMMAND …`."""

    @app.callback()
    def main(
        debug: bool = typer.Option(
            False, "--debug", help="show tracebacks (errors are otherwise one line)"
        ),
        show: bool = typer.Option(
            False,
            "--version",
            callback=show_version,
            is_eager=True,
            help="print the version and exit",
        ),
    ) -> None:
        """Global options: --debug and --version."""
        state["debug"] = debug
