"""Errors a user can cause: bad input (one line, exit 2), a cell too large, Ctrl-C (exit 130).

:class:`UsageError` is bad input from the command line, a config file or a
plugin declaration. :class:`DoesNotFit` is a cell that needs more memory than
the device (or the host) allows: it fails that cell with its one-line reason.
:func:`watch_interrupts` makes Ctrl-C reliable for the ``suite`` command: a
``KeyboardInterrupt`` raised where Python ignores exceptions (a garbage
collector callback such as JAX's, a ``__del__``) is delivered again instead of
being lost, and the real signals are counted, so that a plugin that raises
``KeyboardInterrupt`` itself can be told from the user's Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading


class UsageError(Exception):
    """Bad input from the command line, a config file or a plugin declaration.

    The message is one line that names the bad item and the valid choices; the
    CLI prints it without a traceback and exits with code 2.
    """


class DoesNotFit(MemoryError):
    """A cell needs more memory than its device or the host allows; the message says how much of each."""


def choices(names) -> str:
    """Sorted, comma-separated names for a 'choose from: ...' clause."""
    names = sorted(names)
    return ", ".join(names) if names else "(none registered)"


def one_line(exc: BaseException) -> str:
    """An exception as ``Type: message`` on one line, for tables and warnings."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def shown(value, limit: int = 200) -> str:
    """A user's value for a one-line message: its repr, cut to ``limit`` characters.

    An integer too long for Python to print (over 4300 digits) is described.
    """
    try:
        text = repr(value)
    except ValueError:
        if isinstance(value, int):
            return f"an integer of about {int(abs(value).bit_length() * 0.30103)} digits"
        return f"a {type(value).__name__} holding an integer too long to print"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def size_text(n: float) -> str:
    """A number of bytes for people: ``3.2 GiB``."""
    for unit, scale in (("EiB", 2**60), ("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20),
                        ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} bytes"


# --- Ctrl-C ---------------------------------------------------------------------------

REDELIVER_SECONDS = 0.02  # a Ctrl-C lost in a finalizer is raised again this much later


class _Watch:
    """The state of :func:`watch_interrupts`: real SIGINTs counted, held or passed on."""

    def __init__(self):
        self.received = 0  # real SIGINTs since the watch began
        self.held = 0  # depth of hold_interrupts(): a Ctrl-C waits until the outermost ends
        self.pending = False
        self.closed = False  # the command is ending: later signals are only counted
        self.timers: list[threading.Timer] = []

    def on_signal(self, signum, frame):
        self.received += 1
        if self.closed:
            return
        if self.held:
            self.pending = True
            return
        raise KeyboardInterrupt

    def on_unraisable(self, info, previous):
        # Python ignores (prints and drops) an exception raised in a garbage
        # collector callback or a finalizer; JAX's gc callback runs often, so a
        # Ctrl-C landed there about one time in three. Deliver it again.
        if info.exc_type is None or not issubclass(info.exc_type, KeyboardInterrupt):
            previous(info)
        elif not self.closed:
            timer = threading.Timer(REDELIVER_SECONDS, _redeliver, (self, threading.main_thread().ident))
            timer.daemon = True
            self.timers.append(timer)
            timer.start()


def _redeliver(watch: _Watch, thread_id: int) -> None:
    if not watch.closed:
        signal.pthread_kill(thread_id, signal.SIGINT)


_active: _Watch | None = None


@contextlib.contextmanager
def watch_interrupts(restore: bool = True):
    """Within the block, Ctrl-C raises ``KeyboardInterrupt`` that nothing in Python can lose.

    Only in the main thread, and only where SIGINT has Python's default
    handler (a process started with SIGINT ignored keeps ignoring it).
    ``restore=False`` leaves a handler that only counts, for a process about
    to exit: a second Ctrl-C while it exits prints no traceback. Yields the
    watch (``received``: real signals so far), or None when not watching.
    """
    global _active
    if (_active is not None or threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield _active
        return
    watch = _Watch()
    previous_hook = sys.unraisablehook
    signal.signal(signal.SIGINT, watch.on_signal)
    sys.unraisablehook = lambda info: watch.on_unraisable(info, previous_hook)
    _active = watch
    try:
        yield watch
    finally:
        watch.closed = True
        for timer in watch.timers:
            timer.cancel()
        _active = None
        sys.unraisablehook = previous_hook
        if restore:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def interrupts_received() -> int | None:
    """Real Ctrl-Cs since :func:`watch_interrupts` began, or None outside it (then every
    ``KeyboardInterrupt`` must be taken as real)."""
    return None if _active is None else _active.received


def close_interrupts() -> None:
    """The command is ending (its interrupted line printed): further Ctrl-Cs are only counted."""
    if _active is not None:
        _active.closed = True


@contextlib.contextmanager
def hold_interrupts():
    """A Ctrl-C inside the block is raised when the block ends, not inside it.

    For imports of compiled extensions (jaxlib), which crash or fail with a
    misleading ImportError when interrupted half-way.
    """
    watch = _active
    if watch is None:
        yield
        return
    watch.held += 1
    try:
        yield
    finally:
        watch.held -= 1
        if not watch.held and watch.pending and not watch.closed:
            watch.pending = False
            raise KeyboardInterrupt
