"""Errors a user can cause, reported as one line with exit code 2."""


class UsageError(Exception):
    """Bad input from the command line, a config file or a plugin declaration.

    The message is one line that names the bad item and the valid choices; the
    CLI prints it without a traceback and exits with code 2.
    """


def choices(names) -> str:
    """Sorted, comma-separated names for a 'choose from: ...' clause."""
    names = sorted(names)
    return ", ".join(names) if names else "(none registered)"


def one_line(exc: BaseException) -> str:
    """An exception as ``Type: message`` on one line, for tables and warnings."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
