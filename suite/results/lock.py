"""One run at a time in a run folder: ``RUN/.lock``, created atomically, holding the pid and host.

A run (or a resume) claims its folder before it reads or writes a cell and
removes the lock when it ends, however it ends. A second run finds the lock
and is refused in one line naming the holder's pid. A lock whose process no
longer runs on this host (killed, crashed, its pid since reused) is taken
over; one from another host is only refused, since its process cannot be
seen from here. Reading a run (``suite report``, :func:`suite.load`) takes
no lock.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

from suite.errors import UsageError

try:
    import fcntl
except ImportError:  # not POSIX: takeovers of a dead run's lock are not serialized
    fcntl = None

LOCK = ".lock"
# A lock that cannot be parsed is taken over once it is this old (seconds): a
# live claimant writes its lock whole before it is visible.
UNREADABLE_GRACE = 10.0


@contextlib.contextmanager
def claim(folder: Path, what: str = "run folder", *, name: str = LOCK,
          clashes: Callable[[str], str] | None = None) -> Iterator[str | None]:
    """Holds ``folder`` (created if needed) for this process while the block runs.

    ``what`` names the folder in messages (a ``run folder``, a ``site``). ``name``
    is the lock's file name: the parts of a run split with ``--part`` each hold
    their own. ``clashes(other)`` says why another lock file of the folder, held
    by a live process, forbids this claim ("" if it does not): checked once ours
    is held, so of two claimants that start together at least one is refused.

    Yields a one-line notice when a dead process's lock was taken over, else None.

    Raises:
      UsageError: another process holds the folder (one line naming it and the pid).
    """
    lock = _Lock(Path(folder), what, name)
    taken_over = lock.acquire()
    try:
        if clashes is not None:
            _refuse_clashes(lock, clashes)
        yield None if taken_over is None else (
            f"{what} {folder} was held by pid {taken_over['pid']} on {taken_over['host']}, which no longer "
            f"runs; taking it over" if "pid" in taken_over else
            f"{what} {folder} had a lock that cannot be read ({lock.path}), left by a process that died; "
            f"taking it over")
    finally:
        lock.release()


def part_lock(part: tuple[int, int] | None) -> tuple[str, Callable[[str], str]]:
    """The lock file name of a whole run (``part`` None) or of part ``(i, n)``, and what clashes with it.

    The parts of one split (``suite run --part i/n``) hold the folder together,
    each under ``.lock.part-i-of-n``; a whole run and a split, or splits into
    different counts, never hold it at once.
    """
    prefix = f"{LOCK}.part-"
    if part is None:
        return LOCK, lambda other: "a part of a split run (suite run --part)" if other.startswith(prefix) else ""

    def clashes(other: str) -> str:
        if other == LOCK:
            return "a run of every cell (not a --part)"
        n = other.rpartition("-of-")[2]
        return f"a split of the run into {n} parts, not {part[1]}" if other.startswith(prefix) and n != str(part[1]) else ""

    return f"{prefix}{part[0]}-of-{part[1]}", clashes


def _refuse_clashes(lock: "_Lock", clashes: Callable[[str], str]) -> None:
    """Refuses (releasing ``lock``) when another lock file of the folder clashes and its process runs."""
    for other in sorted(lock.folder.glob(f"{LOCK}*")):
        if other == lock.path or other.name.endswith(".tmp"):
            continue
        why = clashes(other.name)
        holder = read(other) if why else None
        if holder is not None and _alive(holder):
            lock.release()
            who = f"pid {holder['pid']} on {holder['host']}" if "pid" in holder else "a process starting"
            raise UsageError(f"{lock.what} {str(lock.folder)!r} is in use by {why} ({who}); wait for it to "
                             f"finish" + (f" (if it no longer runs, delete {other})" if "pid" in holder else ""))


class _Lock:
    def __init__(self, folder: Path, what: str = "run folder", name: str = LOCK):
        self.folder, self.path, self.what = folder, folder / name, what
        self.record: dict | None = None

    def acquire(self) -> dict | None:
        """Creates the lock, or takes over a dead one (returning its record); refuses a live one."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the {self.what} {str(self.folder)!r}: {exc.strerror or exc}") from None
        mine = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                "process_start": _process_start(os.getpid()), "token": uuid.uuid4().hex}
        for _ in range(50):
            if self._create(mine):
                self.record = mine
                return None
            holder = read(self.path)
            if holder is None:
                continue  # released meanwhile
            if _alive(holder):
                who = (f"pid {holder['pid']} on {holder['host']}, since {holder.get('started')}"
                       if "pid" in holder else f"its lock {self.path} is being written")
                elsewhere = "pid" in holder and holder["host"] != socket.gethostname()
                doer = "run" if self.what == "run folder" else "process"
                raise UsageError(f"{self.what} {str(self.folder)!r} is in use by another suite {doer} ({who}); "
                                 f"wait for it to finish, or choose another folder"
                                 + (f" (if it no longer runs there, delete {self.path})" if elsewhere else ""))
            if self._take_over(holder, mine):
                self.record = mine
                return holder
            time.sleep(0.02)
        raise UsageError(f"cannot claim the {self.what} {str(self.folder)!r}: its lock {self.path} keeps "
                         f"changing; is another suite process starting there?")

    def _create(self, record: dict) -> bool:
        """Creates the lock holding ``record`` if there is none, in one step; whether it did."""
        tmp = self.folder / f"{LOCK}.{os.getpid()}.{record['token'][:8]}.tmp"
        try:
            tmp.write_text(json.dumps(record))
            try:
                os.link(tmp, self.path)  # appears whole, or not at all
                return True
            except FileExistsError:
                return False
            except OSError:  # a file system without hard links: create, then write
                try:
                    fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                except FileExistsError:
                    return False
                with os.fdopen(fd, "w") as f:
                    f.write(json.dumps(record))
                return True
        except OSError as exc:
            raise UsageError(f"cannot write the lock {self.path} of the run folder: {exc.strerror or exc}") from None
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _take_over(self, holder: dict, record: dict) -> bool:
        """Replaces the lock of a dead process by ours, unless another claimant did first."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise UsageError(f"cannot read the lock {self.path}: {exc.strerror or exc}") from None
        try:
            if fcntl is not None:  # one taker at a time; the next one reads our record and backs off
                fcntl.flock(fd, fcntl.LOCK_EX)
            if read(self.path) != holder:
                return False
            tmp = self.folder / f"{LOCK}.{os.getpid()}.{record['token'][:8]}.tmp"
            try:
                tmp.write_text(json.dumps(record))
                os.replace(tmp, self.path)
            finally:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            return True
        finally:
            os.close(fd)

    def release(self) -> None:
        """Removes the lock if it is still ours; never raises (it must not hide what ended the run)."""
        if self.record is None:
            return
        with contextlib.suppress(OSError, UsageError):
            holder = read(self.path)
            if holder is not None and holder.get("token") == self.record["token"]:
                self.path.unlink()
        self.record = None


def read(path: Path) -> dict | None:
    """The lock's record; None if there is none; ``{"unreadable": mtime}`` if it cannot be parsed."""
    try:
        data = path.read_bytes()
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UsageError(f"cannot read the lock {path} of the run folder: {exc.strerror or exc}") from None
    try:
        record = json.loads(data.decode("utf-8"))
        if isinstance(record, dict) and isinstance(record.get("pid"), int) and isinstance(record.get("host"), str):
            return record
    except (ValueError, RecursionError):
        pass
    return {"unreadable": mtime}


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), to tell a reused pid."""
    stat = _proc_stat(pid)
    return stat[19] if stat and len(stat) > 19 else None


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    return text.rpartition(")")[2].split()  # after the command name, which may hold spaces


def _alive(holder: dict) -> bool:
    """Whether the process holding a lock may still run (one on another host: always)."""
    if "unreadable" in holder:
        return time.time() - holder["unreadable"] < UNREADABLE_GRACE
    if holder["host"] != socket.gethostname():
        return True
    pid = holder["pid"]
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process
    except OverflowError:
        return False
    stat = _proc_stat(pid)
    if stat is not None:
        if stat[0] in ("Z", "X"):  # exited, not yet reaped
            return False
        started = holder.get("process_start")
        if started is not None and len(stat) > 19 and stat[19] != started:
            return False  # the pid now belongs to another process
    return True
