"""Run independent pieces of CPU-bound Python on several cores with `os.fork`.

Threads cannot share the interpreter's work and a process pool pays its imports and re-reads its
inputs; a forked child starts with everything the parent already holds (imported modules, the
snapshots' key columns) at the cost of copying page tables. Each child runs one piece and sends its
pickled result back through a pipe, then leaves with `os._exit`, never touching the parent's
buffers, files or atexit handlers.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Piece = TypeVar("Piece")
Result = TypeVar("Result")


class ForkedPieceError(RuntimeError):
    """A piece failed in a forked child; the message carries the child's traceback."""


def can_fork() -> bool:
    return hasattr(os, "fork") and sys.platform != "win32"


def map_forked(function: Callable[[Piece], Result], pieces: Sequence[Piece], workers: int) -> list[Result]:
    """`[function(p) for p in pieces]`, with up to `workers` pieces running at once in forked children.

    The first piece runs in this process, so one worker (or no fork support) means no child at all.
    Results come back in the order of `pieces`; a child's exception is raised here.
    """
    if workers <= 1 or len(pieces) <= 1 or not can_fork():
        return [function(p) for p in pieces]
    if len(pieces) > workers:
        raise ValueError(f"{len(pieces)} pieces for {workers} workers: give each worker one piece")
    children: list[tuple[int, int]] = []
    try:
        for piece in pieces[1:]:
            children.append(_spawn(function, piece))
        started = time.monotonic()
        results = [function(pieces[0])]
        # A child forked while another thread held a lock (a module half imported, say) can block
        # forever. Pieces are of similar size, so a child still silent long after this process
        # finished its own is given up on and its piece computed here: slower, never stuck.
        patience = max(_MIN_PATIENCE_S, _PATIENCE_FACTOR * (time.monotonic() - started))
        for piece, (pid, fd) in zip(pieces[1:], list(children), strict=True):
            children.remove((pid, fd))
            try:
                results.append(_collect(pid, fd, patience))
            except _ChildSilent:
                results.append(function(piece))
        return results
    finally:
        for pid, fd in children:  # only on an error in this process: do not leave children behind
            _kill(pid, fd)


def _spawn(function: Callable[[Any], Any], piece: Any) -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_fd)
        code = 0
        try:
            payload = pickle.dumps(("ok", function(piece)), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:  # report everything, including KeyboardInterrupt, to the parent
            payload = pickle.dumps(("error", traceback.format_exc()))
            code = 1
        try:
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(payload)
        finally:
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd


class _ChildSilent(Exception):
    """A forked child sent nothing within the patience allowed; it has been killed."""


_MIN_PATIENCE_S = 30.0
_PATIENCE_FACTOR = 5.0


def _kill(pid: int, read_fd: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.close(read_fd)
    os.waitpid(pid, 0)


def _collect(pid: int, read_fd: int, patience: float) -> Any:
    chunks: list[bytes] = []
    deadline = time.monotonic() + patience
    while True:
        wait = deadline - time.monotonic() if not chunks else None  # once it answers, let it finish
        ready, _, _ = select.select([read_fd], [], [], None if wait is None else max(0.0, wait))
        if not ready:
            _kill(pid, read_fd)
            raise _ChildSilent(pid)
        chunk = os.read(read_fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    payload = b"".join(chunks)
    _, status = os.waitpid(pid, 0)
    if not payload:
        raise ForkedPieceError(f"forked worker {pid} ended without a result (wait status {status})")
    kind, value = pickle.loads(payload)
    if kind == "error":
        raise ForkedPieceError(f"forked worker {pid} failed:\n{value}")
    return value
