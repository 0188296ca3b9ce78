from __future__ import annotations

import gc

import pytest

from inventag_pipeline.aws.garbage import COLLECTION_THRESHOLDS, fewer_gc_passes


@pytest.fixture(autouse=True)
def known_thresholds():
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_the_heap_is_frozen_and_passes_rarer_only_while_collecting():
    before = gc.get_freeze_count()
    with fewer_gc_passes():
        assert gc.get_threshold() == COLLECTION_THRESHOLDS == (10_000, 10, 10)
        assert gc.get_freeze_count() > before
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_overlapping_collections_restore_the_settings_when_the_last_one_ends():
    outer = fewer_gc_passes()
    inner = fewer_gc_passes()
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)
    assert gc.get_threshold() == COLLECTION_THRESHOLDS  # the inner one still runs
    inner.__exit__(None, None, None)
    assert gc.get_threshold() == (700, 10, 10)


def test_a_failing_collection_restores_the_settings_too():
    @fewer_gc_passes()
    def collect() -> None:
        raise RuntimeError("every scope failed")

    with pytest.raises(RuntimeError, match="every scope failed"):
        collect()
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_cycles_made_while_collecting_are_still_collected():
    class Node:
        pass

    with fewer_gc_passes():
        for _ in range(50_000):
            a, b = Node(), Node()
            a.other, b.other = b, a
        del a, b
        live = sum(1 for o in gc.get_objects() if isinstance(o, Node))
    # 100 000 were made; passes every 10 000 allocations kept at most a pass's worth alive.
    assert live <= 2 * COLLECTION_THRESHOLDS[0]


def test_a_heap_the_process_froze_itself_stays_frozen():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with fewer_gc_passes():
            assert gc.get_threshold() == COLLECTION_THRESHOLDS
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
