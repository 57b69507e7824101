"""A user-facing error prints its text as written: a `[section]` of spokesync.toml it names is
not taken for console markup and dropped."""

from __future__ import annotations

import pytest
import typer

from spokesync.catalog.errors import ConfigInvalid
from spokesync.flows.cli.common import fail


def test_an_error_naming_a_config_section_keeps_the_section_on_the_terminal(capsys) -> None:
    with pytest.raises(typer.Exit) as stopped:
        fail(ConfigInvalid("[spokes.north] needs a drop folder: set drop = '/srv/north' there"))
    printed = capsys.readouterr().out
    assert stopped.value.exit_code == 2
    assert "[spokes.north] needs a drop folder" in printed and "drop = '/srv/north'" in printed
