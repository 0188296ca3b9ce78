"""Run independent pieces of CPU-bound Python on several cores with `os.fork`.

Threads cannot share the interpreter's work and a process pool pays its imports and re-reads its
inputs; a forked child starts with everything the parent already holds (imported modules, the
snapshots' key columns) at the cost of copying page tables. Each child runs one piece and sends its
pickled result back through a pipe, then leaves with `os._exit`, never touching the parent's
buffers, files or atexit handlers.
"""

from __future__ import annotations

import os
import pickle
import sys
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
        results = [function(pieces[0])]
        while children:
            pid, fd = children.pop(0)
            results.append(_collect(pid, fd))
        return results
    finally:
        for pid, fd in children:  # only on an error in this process: do not leave children behind
            os.close(fd)
            os.waitpid(pid, 0)


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


def _collect(pid: int, read_fd: int) -> Any:
    with os.fdopen(read_fd, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not payload:
        raise ForkedPieceError(f"forked worker {pid} ended without a result (wait status {status})")
    kind, value = pickle.loads(payload)
    if kind == "error":
        raise ForkedPieceError(f"forked worker {pid} failed:\n{value}")
    return value
