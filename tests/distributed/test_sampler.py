"""DistributedSampler against torch.utils.data.distributed.DistributedSampler; with DataLoader."""

import numpy as np
import pytest
import torch.utils.data.distributed as tdist

from zerograd.data import DataLoader, DistributedSampler, TensorDataset


def shards(n, replicas, **kw):
    return [
        list(DistributedSampler(n, num_replicas=replicas, rank=r, **kw)) for r in range(replicas)
    ]


def torch_shards(n, replicas, **kw):
    data = list(range(n))
    return [
        list(tdist.DistributedSampler(data, num_replicas=replicas, rank=r, **kw))
        for r in range(replicas)
    ]


@pytest.mark.parametrize("n", [1, 2, 7, 10, 12])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_shards_match_torch(n, replicas, drop_last):
    # without shuffling the indices are exactly torch's (its padding and dropping rules)
    ours = shards(n, replicas, shuffle=False, drop_last=drop_last)
    assert ours == torch_shards(n, replicas, shuffle=False, drop_last=drop_last)
    # shuffled: the same sizes as torch's, and the same coverage of the dataset
    ours = shards(n, replicas, shuffle=True, seed=3, drop_last=drop_last)
    theirs = torch_shards(n, replicas, shuffle=True, seed=3, drop_last=drop_last)
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert len(DistributedSampler(n, replicas, 0, drop_last=drop_last)) == len(theirs[0])
    flat = np.concatenate([np.asarray(s, dtype=int) for s in ours])
    counts = np.bincount(flat, minlength=n)
    if drop_last:  # each sample at most once, the tail (< replicas samples) dropped
        assert counts.max(initial=0) <= 1 and counts.sum() == n - n % replicas
    else:  # every sample at least once; the padding repeats the fewest possible
        assert counts.min() >= 1 and counts.sum() == replicas * -(-n // replicas)


def test_every_sample_exactly_once_per_epoch_and_reshuffled():
    n, replicas = 24, 3
    seen = []
    for epoch in range(3):
        parts = []
        for r in range(replicas):
            s = DistributedSampler(n, replicas, r, seed=5)
            s.set_epoch(epoch)
            parts.append(list(s))
        assert sorted(np.concatenate(parts).tolist()) == list(range(n))  # disjoint, complete
        seen.append(parts[0])
    assert seen[0] != seen[1] != seen[2]
    again = DistributedSampler(n, replicas, 0, seed=5)
    again.set_epoch(1)
    assert list(again) == seen[1]  # the same permutation from seed + epoch on every rank


def test_dataloader_with_sampler_and_resume():
    x = np.arange(22, dtype=np.float32).reshape(11, 2)
    ds = TensorDataset(x, np.arange(11))
    sampler = DistributedSampler(ds, num_replicas=2, rank=1, seed=0)
    loader = DataLoader(ds, batch_size=2, sampler=sampler)
    assert len(loader) == 3
    sampler.set_epoch(4)
    batches = [yb.numpy().tolist() for _, yb in loader]
    assert sum(batches, []) == list(sampler)
    # a resume mid-epoch continues with the same sampled order
    it = iter(loader)
    first = next(it)[1].numpy().tolist()
    state = loader.state_dict()
    sampler.set_epoch(9)  # the interrupted epoch's order is kept in the state
    fresh = DataLoader(ds, batch_size=2, sampler=sampler)
    fresh.load_state_dict(state)
    rest = [yb.numpy().tolist() for _, yb in fresh]
    assert [first] + rest == batches
    with pytest.raises(ValueError, match="saved by a loader with a sampler, this one has none"):
        DataLoader(ds, batch_size=2).load_state_dict(state)


def test_bad_arguments():
    with pytest.raises(
        ValueError, match="DataLoader: sampler and shuffle=True are mutually exclusive"
    ):
        DataLoader(list(range(4)), sampler=[0, 1], shuffle=True)
    with pytest.raises(
        TypeError, match="DataLoader: sampler must be an iterable of indices with __len__"
    ):
        DataLoader(list(range(4)), sampler=iter([0, 1]))
    with pytest.raises(
        ValueError, match="the sampler gave index 7, outside the dataset of 4 samples"
    ):
        list(DataLoader(list(range(4)), sampler=[0, 7]))
    with pytest.raises(
        ValueError, match=r"DistributedSampler: rank must be in \[0, num_replicas=2\), received 2"
    ):
        DistributedSampler(10, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be a positive integer, received 0"):
        DistributedSampler(10, num_replicas=0, rank=0)
    with pytest.raises(
        TypeError, match="DistributedSampler: dataset_or_len must be a dataset with __len__"
    ):
        DistributedSampler(object(), 2, 0)
    with pytest.raises(TypeError, match="set_epoch: epoch must be an integer"):
        DistributedSampler(10, 2, 0).set_epoch(1.5)


def test_defaults_need_init(monkeypatch):
    from zerograd.distributed import runtime

    monkeypatch.setattr(runtime, "_state", dict(runtime._state, initialized=False))
    with pytest.raises(
        RuntimeError, match=r"DistributedSampler: .*call zerograd.distributed.init\(\) first"
    ):
        DistributedSampler(10)
    monkeypatch.setattr(runtime, "_state", dict(runtime._state, initialized=True, rank=1, size=3))
    s = DistributedSampler(10, shuffle=False)
    assert (s.num_replicas, s.rank, list(s)) == (3, 1, [1, 4, 7, 0])
