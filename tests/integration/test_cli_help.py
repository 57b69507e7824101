"""Every command explains itself (issue 18): each visible command has help text on every
argument and option and ends its --help with an example, and every choice is a typer choice
that --help lists."""

from __future__ import annotations

import typer.main
from typer.testing import CliRunner

from spokesync.flows.cli.main import app

runner = CliRunner()


def commands(group, path=()):
    for name, command in group.commands.items():
        if command.hidden:
            continue
        if hasattr(command, "commands"):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_every_command_has_help_on_every_parameter_and_an_example():
    found = dict(commands(typer.main.get_command(app)))
    assert ("review", "pairing-template") in found and ("report", "runs") in found
    for path, command in found.items():
        assert command.help, path
        assert (command.epilog or "").startswith(f"Example: spokesync {' '.join(path)}"), path
        bare = [p.name for p in command.params if p.name != "help" and not getattr(p, "help", "")]
        assert not bare, (path, bare)


def test_the_choices_are_listed_in_help_and_the_example_is_shown():
    shown = runner.invoke(app, ["spoke", "add", "--help"], terminal_width=200)
    assert shown.exit_code == 0
    assert "<get|move>" in shown.output
    assert "Example: spokesync spoke add north --drop" in shown.output
    listed = runner.invoke(app, ["changes", "list", "--help"], terminal_width=200)
    assert "<table|json|csv>" in listed.output
