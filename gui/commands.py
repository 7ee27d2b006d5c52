"""The contract between the command line and its command modules: each module has a
``register(add)`` that adds its subcommands through an :data:`AddCommand`."""

from __future__ import annotations

import argparse
from collections.abc import Callable

#: A subcommand: parsed arguments in, exit code out.
Command = Callable[[argparse.Namespace], int]
#: ``add(name, command, help)``: adds a subcommand and returns its parser for the options.
AddCommand = Callable[[str, Command, str], argparse.ArgumentParser]
