"""Where the report and the site may write, and how: atomic files, and the files the suite may replace.

The report and the site never delete or overwrite a file the suite did not
write for that purpose. A file is replaced only when it is recognisably the
suite's own (an HTML report or site index it generated); every file is written
to a temporary file beside it (its name holds the process id) and renamed into
place, so a reader sees the old file or the new one, never a part.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from suite.errors import UsageError

# What every HTML file the suite writes starts with (template.html, index.html).
DOCTYPE = b"<!DOCTYPE html>"
GENERATOR = b'<meta name="generator" content="suite '
# Each kind's <title> prefix, told apart so a report never replaces a site's index.
REPORT_TITLE = b"<title>suite report: "
INDEX_TITLE = b"<title>suite: published runs</title>"
_HEAD = 16384  # bytes read to recognise a file: the head holds the doctype, generator and title


def umask() -> int:
    """The process's file-creation mask (read without changing it for long)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def is_suite_html(path: Path, title: bytes) -> bool:
    """Whether ``path`` is an HTML file the suite wrote, of the kind whose ``<title>`` starts with ``title``."""
    if path.suffix.lower() not in (".html", ".htm"):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD)
    except OSError:
        return False
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return head.startswith(DOCTYPE) and GENERATOR in head and title in head


def temp_name(path: Path, suffix: str = ".tmp") -> Path:
    """A fresh hidden name beside ``path`` holding this process's id (``.NAME.PID.RANDOM.tmp``)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Writes ``data`` to a new temporary file beside ``path`` and renames it onto ``path``.

    The temporary file is created exclusively (nothing is overwritten on the
    way) and removed if anything fails, an interrupt included.
    """
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def writable_folder(folder: Path, label: str) -> None:
    """Refuses (UsageError, starting with ``label``) unless ``folder`` is, or can be created as, a folder
    this process may write in."""
    probe = Path(folder)
    while not os.path.lexists(probe) and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"{label}: {str(probe)!r} is a file, not a folder; give a path in a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"{label}: no permission to write in {str(probe)!r}; give a path in a folder you can "
                         "write")


def within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or inside it, symbolic links resolved."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def os_error(exc: OSError, doing: str) -> UsageError:
    """A failed write as one line: what was being done, the path and the system's reason."""
    where = f" {exc.filename!r}" if exc.filename else ""
    return UsageError(f"{doing}:{where} {exc.strerror or exc}")
