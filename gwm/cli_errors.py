"""Bad input a user typed ends in one line on stderr and exit code 2, never a traceback.

    with user_errors():                 # FileNotFoundError and ValueError (SceneConfigError, CaptureError, ...)
        result = reconstruct(dataset_dir, out_dir, config)

Library code raises with a message that names the problem and the fix; the stage CLIs print it here.
Anything else (a bug) still shows its traceback.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import typer

USER_ERRORS: tuple[type[BaseException], ...] = (FileNotFoundError, ValueError)
EXIT_BAD_INPUT = 2


def one_line(error: BaseException) -> str:
    """The error's message on one line (wrapped messages folded)."""
    return " ".join(str(error).split())


def fail(message: str) -> typer.Exit:
    """Print `error: message` (one line, stderr); raise the returned Exit."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


@contextmanager
def user_errors(*kinds: type[BaseException]) -> Iterator[None]:
    try:
        yield
    except (kinds or USER_ERRORS) as e:
        raise fail(one_line(e)) from None


@contextmanager
def warnings_as_lines(category: type[Warning] = UserWarning) -> Iterator[None]:
    """Show the warnings of category raised inside as `warning: message` lines on stderr (no file/line noise)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", category)
        try:
            yield
        finally:
            for w in caught:
                if issubclass(w.category, category):
                    typer.echo(f"warning: {' '.join(str(w.message).split())}", err=True)
                else:
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)


__all__ = ["EXIT_BAD_INPUT", "USER_ERRORS", "fail", "one_line", "user_errors", "warnings_as_lines"]
