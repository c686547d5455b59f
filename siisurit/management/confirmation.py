"""Confirmation of destructive commands: a `--no-input` option and a question answered by typing 'yes'."""

from __future__ import annotations

from argparse import ArgumentParser


def add_no_input_argument(parser: ArgumentParser, *, help_text: str) -> None:
    """`--no-input`/`--noinput` (Django's spelling too), stored as `interactive=False`."""
    parser.add_argument("--no-input", "--noinput", action="store_false", dest="interactive", help=help_text)


def typed_yes(prompt: str) -> bool:
    """Whether the user typed 'yes'; without a terminal to answer from (cron, a pipe) the answer is no."""
    try:
        answer = input(prompt)
    except EOFError:
        return False
    return answer.strip().lower() == "yes"
