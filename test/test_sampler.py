"""PK sampler invariants."""
from __future__ import annotations

from collections import Counter

import pytest

from reid_follow.train.sampler import PKSampler


def _pids() -> list[int]:
    # id i has i + 1 images (ids 0..9), so ids 0..2 have fewer than K = 4
    return [pid for pid in range(10) for _ in range(pid + 1)]


def test_batches_hold_p_ids_with_k_images() -> None:
    pids = _pids()
    sampler = PKSampler(pids, p=3, k=4, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 10 // 3
    seen = set()
    for batch in batches:
        counts = Counter(pids[i] for i in batch)
        assert len(batch) == 12 and len(counts) == 3 and set(counts.values()) == {4}
        for pid in counts:
            idx = [i for i in batch if pids[i] == pid]
            if pid + 1 >= 4:
                assert len(set(idx)) == 4          # enough images: no repeats
        seen |= set(counts)
    assert len(seen) == 9                          # one pass covers all ids but the dropped remainder


def test_order_depends_on_seed_and_epoch_only() -> None:
    pids = _pids()
    a, b = PKSampler(pids, 2, 2, seed=5), PKSampler(pids, 2, 2, seed=5)
    assert list(a) == list(b)
    a.set_epoch(1)
    assert list(a) != list(b)
    b.set_epoch(1)
    assert list(a) == list(b)
    assert list(PKSampler(pids, 2, 2, seed=6)) != list(PKSampler(pids, 2, 2, seed=5))


def test_batches_per_epoch_spans_several_passes() -> None:
    pids = _pids()
    sampler = PKSampler(pids, p=4, k=2, batches_per_epoch=7)
    batches = list(sampler)
    assert len(batches) == 7
    assert all(len({pids[i] for i in b}) == 4 for b in batches)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="only 10"):
        PKSampler(_pids(), p=11, k=2)
    with pytest.raises(ValueError, match="P >= 2"):
        PKSampler(_pids(), p=1, k=2)
