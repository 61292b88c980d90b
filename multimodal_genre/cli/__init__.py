"""The ``multimodal-genre`` command line: one module per group of commands, each adding its
subcommands to the parser and handling them.

Errors caused by the user's input (MultimodalGenreError) and by the system (a full disk, a folder
it may not write) print as one message, folded to 80 columns, and exit with status 2; Ctrl-C prints
one line and exits with status 130, with what finished saved; anything else is a bug and keeps its
traceback. The package's log lines print to standard output.
"""

from __future__ import annotations

import argparse
import logging
import textwrap
import warnings
from collections.abc import Sequence

from multimodal_genre import __version__, log
from multimodal_genre.cli import data, predict, report, train, tune
from multimodal_genre.cli.common import PROG
from multimodal_genre.errors import MultimodalGenreError

COMMANDS = (data, train, tune, predict, report)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if getattr(args, "verbose", False) else logging.INFO
    with warnings.catch_warnings(), log.to_console(level=level):
        # A user warning (a row left out, a short clip) is a line to read, whatever filters are set outside.
        warnings.simplefilter("default", UserWarning)
        warnings.showwarning = _show_warning
        try:
            return args.handler(args)
        except MultimodalGenreError as error:
            log.complain(f"{PROG}: error: {error}")
            return 2
        except OSError as error:
            log.complain(f"{PROG}: error: {_system_error(error)}")
            return 2
        except KeyboardInterrupt:
            log.complain(f"{PROG}: interrupted; the runs that finished are saved")
            return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Classify music genres by fusing audio features with mel-spectrogram images.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage=f"{PROG} [-h] [--version] COMMAND ...",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help=argparse.SUPPRESS)
    for module in COMMANDS:
        module.add_commands(commands)
    parser.epilog = _command_list(commands)
    return parser


def _command_list(commands: argparse._SubParsersAction) -> str:
    """Every command with its purpose, one line each, the data commands' actions by name
    (``data summary``): what ``--help`` lists."""
    listed: list[tuple[str, str]] = []
    for choice in commands._choices_actions:  # argparse keeps each command's help only here
        inner = [action for action in commands.choices[choice.dest]._actions if isinstance(action, type(commands))]
        if inner:
            listed += [(f"{choice.dest} {action.dest}", action.help) for action in inner[0]._choices_actions]
        else:
            listed.append((choice.dest, choice.help))
    width = max(len(name) for name, _ in listed)
    lines = [
        textwrap.fill(f"  {name:<{width}}  {purpose}", log.COLUMNS, subsequent_indent=" " * (width + 4))
        for name, purpose in listed
    ]
    return "\n".join(["commands (COMMAND --help for its options):", *lines])


def _system_error(error: OSError) -> str:
    """``path: what went wrong``, as the system words it (No space left on device, Permission denied)."""
    what = error.strerror or str(error)
    return f"{error.filename}: {what}" if error.filename else what


def _show_warning(message: Warning | str, *args: object, **kwargs: object) -> None:
    """One warning, folded to 80 columns, without the source line Python shows by default."""
    log.complain(f"{PROG}: warning: {message}")
