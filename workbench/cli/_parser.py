"""The command line's parser: argparse, with each usage error one line that names the mistake (and the command or
option likely meant), and the types of the options' values.
"""

from __future__ import annotations

import argparse
import difflib
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, NoReturn


class _UsageError(Exception):
    """The command line itself is wrong (argparse's errors, as one line); ``message`` is argparse's own."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(_usage(prog, message))
        self.message = message


def _usage(prog: str, message: str) -> str:
    return f"{prog}: {message}{_meant_choice(message)} — see '{prog} --help'"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(self.prog, message)


_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<given>.*)' \(choose from (?P<choices>.*)\)$")


def _closest(given: str, known: Sequence[str]) -> str | None:
    """The one of ``known`` a mistyped ``given`` most likely meant: the only one it begins, else the closest spelling."""
    begun = [k for k in known if k.startswith(given)] if given else []
    if len(begun) == 1:
        return begun[0]
    close = difflib.get_close_matches(given, known, n=1, cutoff=0.6)
    return close[0] if close else None


def _meant_choice(message: str) -> str:
    """`` — did you mean 'list'?`` for argparse's ``invalid choice: 'lst' (choose from ...)``, else nothing."""
    found = _INVALID_CHOICE.search(message)
    if found is None:
        return ""
    meant = _closest(found["given"], re.findall(r"'([^']*)'", found["choices"]))
    return f" — did you mean '{meant}'?" if meant else ""


def _command_options(parser: argparse.ArgumentParser, argv: Sequence[str]) -> tuple[argparse.ArgumentParser, list[tuple[argparse.ArgumentParser, str]]]:
    """The (sub)parser of the command ``argv`` names (``workbench cache clear ...``: the ``cache clear`` parser), and
    each option of ``argv`` with the (sub)parser it was given to (``--tracking-uri`` before the command: the top one)."""
    found, options, value_next = parser, [], False
    for token in argv:
        if token == "--":  # what follows is not workbench's (`workbench server -- <mlflow server options>`)
            break
        if value_next:
            value_next = False
            continue
        if re.match(r"--?[A-Za-z]", token):  # not a negative number: `--min -0.5`
            option = token.split("=", 1)[0]
            options.append((found, option))
            action = found._option_string_actions.get(option)
            value_next = action is not None and action.nargs is None and "=" not in token
            continue
        commands = next((a for a in found._actions if isinstance(a, argparse._SubParsersAction)), None)
        if commands is not None and token in commands.choices:
            found = commands.choices[token]
    return found, options


def _usage_line(parser: argparse.ArgumentParser, argv: Sequence[str], exc: _UsageError) -> str:
    """The usage error of ``argv``: a mistyped option first, as it is the cause of the error argparse reports (a required
    option missing) or the error itself; words left over are named with the command that did not take them."""
    command, options = _command_options(parser, argv)
    unknown = next((_unknown_option(given_to, option) for given_to, option in options if _unknown_option(given_to, option)), None)
    if unknown is not None:
        return unknown
    if exc.message.startswith("unrecognized arguments: "):  # `workbench list EXP extra` blamed 'workbench --help'
        return _usage(command.prog, exc.message)
    return str(exc)


def _unknown_option(command: argparse.ArgumentParser, option: str) -> str | None:
    """The usage error of an ``option`` that ``command`` does not take, with the one it likely meant (``workbench gate
    EXP --mn 0.3``), else None. argparse blamed the top-level command ("workbench: unrecognized arguments", see
    'workbench --help'), or a required option the typo was meant to be, and suggested nothing."""
    known = [o for o in command._option_string_actions if o.startswith("--")]
    if option in command._option_string_actions or any(a.nargs == argparse.REMAINDER for a in command._actions):
        return None
    if option.startswith("--") and any(k.startswith(option) for k in known):  # argparse takes a unique abbreviation
        return None
    meant = _closest(option, known)
    return _usage(command.prog, f"unknown option '{option}'" + (f" — did you mean '{meant}'?" if meant else ""))


class _OpensNoStore(argparse.Action):
    """``--tracking-uri`` given to a command that opens no store (``cache``: the project's .workbench/; ``schema``): it
    was ignored, so ``cache info --tracking-uri X`` printed this project's cache as if it were X's."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string: str | None = None) -> None:
        parser.error(f"{option_string} does not apply (it opens no MLflow store)")


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a finite number")
    return value


def _whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``low`` (and at most ``high``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if high is None and value < low:
            raise argparse.ArgumentTypeError(f"{value} is below {low}")
        if high is not None and not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside [{low}, {high}]")
        return value

    return parse


_positive_int = _whole_number(1)
_non_negative_int = _whole_number(0)


def _workers(text: str) -> int:
    """``--workers``: within the bounds of the experiment's ``execution.workers`` (read from the spec, not repeated)."""
    from annotated_types import Ge, Le

    from workbench.spec import ExecutionSpec

    bounds = ExecutionSpec.model_fields["workers"].metadata
    low = next(b.ge for b in bounds if isinstance(b, Ge))
    high = next(b.le for b in bounds if isinstance(b, Le))
    return _whole_number(low, high)(text)


def _not_blank(fix: str) -> Callable[[str], str]:
    """An argparse type: a value that is not blank (``fix``: what to do instead). ``--tracking-uri "$TEAM_URL"`` with the
    variable unset in a CI job read as no option at all: the sweep was logged to a store in the runner's folder, lost
    with it; ``export --repo "$DEPLOY_REPO"`` committed the bundle to the repository of the current folder."""

    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"is empty (an unset variable?) — {fix}")
        return text

    return parse


_given_uri = _not_blank("give the store's URI, or leave the option out")
_given_or_default = _not_blank("give a value, or leave the option out for its default")


def _pass_threshold(text: str) -> float:
    """An argparse type: a pass threshold in (0, 1] (at 0 every score would pass)."""
    value = _finite_float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value:g} is outside (0, 1]")
    return value
