"""Epoch orders, shards and batch sources (in memory and streamed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from amrkit.data import array_frameset
from amrkit.train.data import epoch_order, load_split, shard_order, steps_per_epoch


@given(
    st.integers(0, 2**63 - 1),
    st.integers(0, 100),
    st.integers(1, 3000),
    st.one_of(st.none(), st.integers(1, 200)),
)
@settings(max_examples=60, deadline=None)
def test_epoch_order_is_a_pure_permutation(seed, epoch, n, block):
    a = epoch_order(seed, epoch, n, block=block)
    b = epoch_order(seed, epoch, n, block=block)
    assert torch.equal(a, b)  # a pure function of (seed, epoch): resumable mid-epoch
    assert torch.equal(torch.sort(a).values, torch.arange(n))


def test_epoch_order_changes_with_epoch_and_seed_and_ignores_global_rng():
    torch.manual_seed(0)
    a = epoch_order(1, 0, 1000)
    torch.manual_seed(123)
    assert torch.equal(a, epoch_order(1, 0, 1000))
    assert not torch.equal(a, epoch_order(1, 1, 1000))
    assert not torch.equal(a, epoch_order(2, 0, 1000))
    assert torch.equal(epoch_order(1, 0, 50, shuffle=False), torch.arange(50))


def test_block_order_keeps_blocks_contiguous_in_a_window():
    order = epoch_order(0, 0, 4096, block=16)
    # each window of 16 blocks holds exactly 16 whole blocks
    for lo in range(0, 4096, 256):
        blocks = torch.unique(order[lo : lo + 256] // 16)
        assert len(blocks) == 16


@given(st.integers(1, 500), st.integers(1, 8), st.integers(0, 10))
@settings(max_examples=60, deadline=None)
def test_shards_are_disjoint_equal_and_nearly_complete(n, world, epoch):
    order = epoch_order(3, epoch, n)
    shards = [shard_order(order, r, world) for r in range(world)]
    assert len({len(s) for s in shards}) == 1
    joined = torch.cat(shards)
    assert len(torch.unique(joined)) == len(joined) == n // world * world


def test_steps_per_epoch_drops_the_partial_batch_but_keeps_one():
    assert steps_per_epoch(1000, 256) == 3
    assert steps_per_epoch(100, 256) == 1


@pytest.fixture()
def frames():
    rng = np.random.default_rng(0)
    n, length = 700, 16
    iq = rng.normal(size=(n, 2, length)).astype(np.float32)
    iq[:, 0, 0] = np.arange(n)  # frame id, to check which frames a batch holds
    label = rng.integers(0, 3, n)
    split = rng.choice([0, 0, 0, 1, 2], n).astype(np.uint8)
    return array_frameset(iq, label, ("a", "b", "c"), split=split)


def test_in_memory_batches_follow_the_order(frames):
    tr = load_split(frames, "train", memory_mb=100)
    assert tr.in_memory and tr.x.dtype == torch.float32
    pos = frames.indices("train")
    order = epoch_order(0, 0, len(tr))
    got = list(tr.batches(order, 64, start=2))
    assert len(got) == (len(tr) + 63) // 64 - 2
    ids = torch.cat([x[:, 0, 0] for x, _ in got]).long().numpy()
    assert np.array_equal(ids, pos[order[128:].numpy()])
    labels = torch.cat([y for _, y in got]).numpy()
    assert np.array_equal(labels, frames.label[pos[order[128:].numpy()]])


@pytest.mark.parametrize("start", [0, 1, 5])
def test_streamed_batches_equal_in_memory_batches(frames, start):
    mem = load_split(frames, "train", memory_mb=100)
    stream = load_split(frames, "train", memory_mb=0, batch_size=16)  # forces streaming
    assert not stream.in_memory and stream.window % 16 == 0
    order = epoch_order(4, 2, len(mem), block=stream.block)
    a = list(mem.batches(order, 16, start=start, steps=20))
    b = list(stream.batches(order, 16, start=start, steps=20))
    assert len(a) == len(b) == 20 - start
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
