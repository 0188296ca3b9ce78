"""core.forked: pieces run in forked children come back in order; a child's failure is raised here."""

from __future__ import annotations

import os

import pytest

from inventag_pipeline.core.forked import ForkedPieceError, map_forked


def _square_with_pid(n: int) -> tuple[int, int]:
    return n * n, os.getpid()


def test_pieces_run_in_separate_processes_and_return_in_order():
    results = map_forked(_square_with_pid, [3, 4, 5], workers=3)
    assert [r for r, _ in results] == [9, 16, 25]
    pids = [pid for _, pid in results]
    assert pids[0] == os.getpid()
    assert len(set(pids)) == 3


def test_one_worker_never_forks():
    assert [pid for _, pid in map_forked(_square_with_pid, [1, 2], workers=1)] == [os.getpid()] * 2


def _fail_on_two(n: int) -> int:
    if n == 2:
        raise ValueError("piece two is bad")
    return n


def test_a_failing_child_raises_with_its_traceback():
    with pytest.raises(ForkedPieceError, match="piece two is bad"):
        map_forked(_fail_on_two, [1, 2], workers=2)


def test_more_pieces_than_workers_is_refused():
    with pytest.raises(ValueError, match="3 pieces for 2 workers"):
        map_forked(_square_with_pid, [1, 2, 3], workers=2)


_PARENT = os.getpid()


def _hang_in_a_child(n: int) -> int:
    """Blocks forever when forked, as a child would on a lock another thread held at fork time."""
    if os.getpid() != _PARENT:
        import threading

        threading.Event().wait()
    return n * 10


def test_a_silent_child_is_killed_and_its_piece_computed_here(monkeypatch):
    import inventag_pipeline.core.forked as forked

    monkeypatch.setattr(forked, "_MIN_PATIENCE_S", 0.5)
    assert map_forked(_hang_in_a_child, [1, 2], workers=2) == [10, 20]
