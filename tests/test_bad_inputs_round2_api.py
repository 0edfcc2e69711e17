"""Round 2 of the bad-input catalogue (issue 12), continued: the Module API, DataLoader and
collation, LoRA, the save side of zerograd.io, and the ``zerograd`` command. Each case used to
fail with a raw error (AttributeError, IndexError, a NumPy message) or was silently accepted."""

import json
import logging

import numpy as np
import pytest
import torch

import zerograd as zg
import zerograd.nn as nn
from zerograd import io as zio
from zerograd.data import DataLoader, Dataset, TensorDataset
from zerograd.data import preprocessing as P
from zerograd.peft import lora


def _clash():
    m = nn.Linear(2, 2)
    m.foo = 1
    m.register_buffer("foo", zg.ones(2))


def _tclash():
    m = torch.nn.Linear(2, 2)
    m.foo = 1
    m.register_buffer("foo", torch.ones(2))


def _lsd(state, **kw):
    return nn.Linear(2, 2).load_state_dict(state, **kw)


def _tlsd(state, **kw):
    return torch.nn.Linear(2, 2).load_state_dict(state, **kw)


# (id, zerograd call, error type, match, the same call in PyTorch if it rejects it too, else None)
# fmt: off
MODULES = [
    ("buffer-name-dot", lambda: nn.Module().register_buffer("a.b", zg.ones(2)), ValueError,
     r"Module.register_buffer: name must be a non-empty str without '\.', received 'a\.b'",
     lambda: torch.nn.Module().register_buffer("a.b", torch.ones(2))),
    ("buffer-name-empty", lambda: nn.Module().register_buffer("", zg.ones(2)), ValueError,
     r"Module.register_buffer: name must be a non-empty str",
     lambda: torch.nn.Module().register_buffer("", torch.ones(2))),
    ("buffer-name-int", lambda: nn.Module().register_buffer(3, zg.ones(2)), TypeError,
     r"Module.register_buffer: name must be a str, received int",
     lambda: torch.nn.Module().register_buffer(3, torch.ones(2))),
    ("buffer-not-a-tensor", lambda: nn.Module().register_buffer("a", 3), TypeError,
     r"Module.register_buffer: expected a Tensor or None for 'a', received int",
     lambda: torch.nn.Module().register_buffer("a", 3)),
    ("buffer-name-clash", _clash, ValueError,
     r"Linear.register_buffer: attribute 'foo' already exists \(not a buffer\)", _tclash),
    ("parameter-name-dot", lambda: nn.Module().register_parameter("a.b", nn.Parameter(zg.ones(2))),
     ValueError, r"Module.register_parameter: name must be a non-empty str without '\.'",
     lambda: torch.nn.Module().register_parameter("a.b", torch.nn.Parameter(torch.ones(2)))),
    ("parameter-not-a-parameter", lambda: nn.Module().register_parameter("a", zg.ones(2)),
     TypeError, r"Module.register_parameter: expected a Parameter or None for 'a', received "
     r"Tensor; wrap it in nn\.Parameter",
     lambda: torch.nn.Module().register_parameter("a", torch.ones(2))),
    ("parameter-name-clash", lambda: nn.Linear(2, 2).register_parameter("forward", None),
     ValueError, r"Linear.register_parameter: attribute 'forward' already exists",
     lambda: torch.nn.Linear(2, 2).register_parameter("forward", None)),
    ("load-state-dict-list", lambda: _lsd([1, 2]), TypeError,
     r"Linear.load_state_dict: expected a dict, received list", lambda: _tlsd([1, 2])),
    ("load-state-dict-str-value", lambda: _lsd({"weight": "abc", "bias": zg.ones(2)}), TypeError,
     r"Linear.load_state_dict: expected a Tensor or array for 'weight', received str",
     lambda: _tlsd({"weight": "abc", "bias": torch.ones(2)})),
    ("load-state-dict-strict-str", lambda: _lsd({}, strict="no"), TypeError,
     r"Linear.load_state_dict: strict must be True or False, received 'no'", None),
    ("apply-not-callable", lambda: nn.Linear(2, 2).apply(3), TypeError,
     r"Linear.apply: fn must be callable, received 3", lambda: torch.nn.Linear(2, 2).apply(3)),
    ("requires-grad-str", lambda: nn.Linear(2, 2).requires_grad_("no"), TypeError,
     r"Linear.requires_grad_: requires_grad must be True or False, received 'no'", None),
]


def _ds(n=4):
    return TensorDataset(np.ones((n, 2), "float32"))


class _Samples(Dataset):
    def __init__(self, samples):
        self.samples = samples

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


def _batches(samples):
    return list(DataLoader(_Samples(samples), batch_size=len(samples)))


DATA = [
    ("batch-size-float", lambda: DataLoader(_ds(), batch_size=2.5), TypeError,
     r"DataLoader: batch_size must be an integer, received 2\.5 \(float\)",
     lambda: torch.utils.data.DataLoader(torch.ones(4), batch_size=2.5)),
    ("batch-size-str", lambda: DataLoader(_ds(), batch_size="2"), TypeError,
     r"DataLoader: batch_size must be an integer, received '2' \(str\)",
     lambda: torch.utils.data.DataLoader(torch.ones(4), batch_size="2")),
    ("shuffle-str", lambda: DataLoader(_ds(), shuffle="yes"), TypeError,
     r"DataLoader: shuffle must be True or False, received 'yes'", None),
    ("drop-last-str", lambda: DataLoader(_ds(), drop_last="yes"), TypeError,
     r"DataLoader: drop_last must be True or False, received 'yes'", None),
    ("generator-str", lambda: DataLoader(_ds(), generator="abc"), TypeError,
     r"DataLoader: generator must be None, an integer seed or a numpy\.random\.Generator, "
     r"received 'abc'", None),
    ("collate-not-callable", lambda: DataLoader(_ds(), collate_fn=3), TypeError,
     r"DataLoader: collate_fn must be callable, received 3", None),
    ("dataset-an-int", lambda: DataLoader(3), TypeError,
     r"DataLoader: dataset must have __len__ and __getitem__ \(a map-style Dataset\), received "
     r"int", lambda: list(torch.utils.data.DataLoader(3))),
    ("collate-shapes", lambda: _batches([np.ones(2), np.ones(3)]), ValueError,
     r"default_collate: sample 1 of the batch has shape \(3,\), sample 0 has \(2,\)",
     lambda: list(torch.utils.data.DataLoader([torch.ones(2), torch.ones(3)], batch_size=2))),
    ("collate-field-count", lambda: _batches([(np.ones(2), 1), (np.ones(2),)]), ValueError,
     r"default_collate: sample 1 of the batch has 1 fields, sample 0 has 2",
     lambda: list(torch.utils.data.DataLoader([(torch.ones(2), 1), (torch.ones(2),)],
                                              batch_size=2))),
    ("collate-objects", lambda: _batches([object(), object()]), TypeError,
     r"default_collate: sample 0 of the batch is not numeric \(dtype object, object\)",
     lambda: list(torch.utils.data.DataLoader([object(), object()], batch_size=2))),
    ("collate-field-named", lambda: _batches([(np.ones(2), "a"), (np.ones(2), "b")]), TypeError,
     r"default_collate: sample 0 of the batch \(field 1\) is not numeric", None),
    ("dataset-getitem-missing", lambda: Dataset()[0], NotImplementedError,
     r"Dataset must implement __getitem__\(index\)", lambda: torch.utils.data.Dataset()[0]),
    ("dataset-len-missing", lambda: len(Dataset()), NotImplementedError,
     r"Dataset must implement __len__\(\)", lambda: len(torch.utils.data.Dataset())),
]


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        return self.out(self.fc(x))


def _twice():
    m = _Net()
    lora.apply_lora(m, r=2, target_modules=["fc"])
    lora.apply_lora(m, r=2, target_modules=["fc"])


PEFT = [
    ("lora-rank-0", lambda: lora.apply_lora(_Net(), r=0, target_modules=["fc"]), ValueError,
     r"apply_lora: r must be a positive integer, received 0", None),
    ("lora-rank-float", lambda: lora.apply_lora(_Net(), r=2.5, target_modules=["fc"]), TypeError,
     r"apply_lora: r must be an integer, received 2\.5 \(float\)", None),
    ("lora-alpha-0", lambda: lora.apply_lora(_Net(), r=2, alpha=0, target_modules=["fc"]),
     ValueError, r"apply_lora: alpha must be in \(0, inf\), received 0\.0", None),
    ("lora-alpha-negative", lambda: lora.apply_lora(_Net(), r=2, alpha=-1, target_modules=["fc"]),
     ValueError, r"apply_lora: alpha must be in \(0, inf\), received -1\.0", None),
    ("lora-dropout-1", lambda: lora.apply_lora(_Net(), r=2, dropout=1.0, target_modules=["fc"]),
     ValueError, r"apply_lora: dropout must be in \[0, 1\), received 1\.0", None),
    ("lora-no-match-lists-names", lambda: lora.apply_lora(_Net(), target_modules=["query"]),
     ValueError, r"no Linear layer matches target_modules=\['query'\]; the Linear layers are: "
     r"fc, out", None),
    ("lora-targets-int", lambda: lora.apply_lora(_Net(), target_modules=3), TypeError,
     r"apply_lora: target_modules must be a str or a list of str", None),
    ("lora-applied-twice", _twice, ValueError, r"layers already carry LoRA adapters \(fc\): "
     r"apply_lora was called before", None),
    ("lora-base-not-linear", lambda: lora.LoRALinear(nn.ReLU(), 2), TypeError,
     r"LoRALinear: base must be an nn\.Linear, received ReLU", None),
    ("lora-merge-without-adapters", lambda: lora.merge(_Net()), ValueError,
     r"merge: _Net has no LoRA layers \(call apply_lora\)", None),
    ("lora-unmerge-without-adapters", lambda: lora.unmerge(_Net()), ValueError,
     r"unmerge: _Net has no LoRA layers", None),
]
# fmt: on


def _table(rows):
    return [pytest.param(*row[1:], id=row[0]) for row in rows]


@pytest.mark.parametrize("call, error, match, torch_call", _table(MODULES + DATA + PEFT))
def test_bad_input_is_named(call, error, match, torch_call):
    with pytest.raises(error, match=match):
        call()
    if torch_call is not None:  # PyTorch rejects it too (its error types differ)
        with pytest.raises(Exception):  # noqa: B017, PT011
            torch_call()


def test_batch_size_none_yields_single_samples_as_torch():
    x = np.arange(8, dtype="float32").reshape(4, 2)
    y = np.arange(4)
    ours = list(DataLoader(TensorDataset(x, y), batch_size=None))
    theirs = list(
        torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=None
        )
    )
    assert len(ours) == len(theirs) == 4
    for (a, b), (ta, tb) in zip(ours, theirs):
        assert a.shape == tuple(ta.shape) and b.shape == tuple(tb.shape)
        np.testing.assert_array_equal(a.numpy(), ta.numpy())
        assert int(b.item()) == int(tb)
    samples = list(DataLoader(_Samples([(np.ones(2), 1.0)] * 3), batch_size=None))
    assert len(samples) == 3 and samples[0][0].shape == (2,)


def test_lora_star_after_apply_does_not_wrap_an_adapter():
    m = _Net()
    lora.apply_lora(m, r=2, target_modules=["fc"])
    lora.apply_lora(m, r=2, target_modules=["*"])
    assert type(m.fc.base) is nn.Linear  # not a LoRALinear inside a LoRALinear
    assert isinstance(m.out, lora.LoRALinear)


def test_lora_merge_twice_changes_nothing_and_warns(caplog):
    m = _Net()
    lora.apply_lora(m, r=2, target_modules=["fc"])
    m.fc.lora_B.data[...] = 1.0
    m.fc.merge()
    w = m.fc.base.weight.numpy().copy()
    with caplog.at_level(logging.WARNING, logger="zerograd.peft.lora"):
        m.fc.merge()
    np.testing.assert_array_equal(m.fc.base.weight.numpy(), w)
    assert "already merged" in caplog.text
    m.fc.unmerge()
    with caplog.at_level(logging.WARNING, logger="zerograd.peft.lora"):
        m.fc.unmerge()
    assert "is not merged" in caplog.text


# --- zerograd.io, the save side ------------------------------------------------------------------


def _arr():
    return np.ones(3, "float32")


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda p: zio.save_safetensors([_arr()], p / "a.st"), TypeError,
         r"save_safetensors: expected a dict of name -> Tensor, received list"),
        (lambda p: zio.save_safetensors({"a": _arr()}, p / "a.st", metadata=[1]), TypeError,
         r"save_safetensors: metadata must be a dict of str to str, received list"),
        (lambda p: zio.save_safetensors({"__metadata__": _arr()}, p / "a.st"), ValueError,
         r"save_safetensors: '__metadata__' cannot name a tensor"),
        (lambda p: zio.save_safetensors({"a": _arr()}, p), IsADirectoryError,
         r"atomic_path: '.*' is a directory; expected the path of a file to write"),
        (lambda p: zio.save_json({"a": 1}, p), IsADirectoryError, r"is a directory"),
        (lambda p: zio.save_json({"a": [1.0, float("nan")]}, p / "a.json"), ValueError,
         r"save_json: '.*a\.json': JSON cannot hold NaN or infinity, received \['a'\]\[1\] = nan"),
        (lambda p: zio.save_json({"a": float("inf")}, p / "a.json"), ValueError,
         r"JSON cannot hold NaN or infinity, received \['a'\] = inf"),
        (lambda p: zio.save_json({"a": object()}, p / "a.json"), TypeError,
         r"save_json: '.*a\.json': Object of type object is not JSON serializable"),
        (lambda p: zio.save_json({"a": 1}, p / "file" / "a.json"), NotADirectoryError,
         r"atomic_path: cannot write '.*a\.json': '.*file' is a file, not a directory"),
    ],
    ids=["st-not-a-dict", "st-metadata-list", "st-reserved-name", "st-into-a-directory",
         "json-into-a-directory", "json-nan", "json-inf", "json-object", "json-under-a-file"],
)  # fmt: skip
def test_save_side_errors(tmp_path, call, error, match):
    (tmp_path / "file").write_text("x")
    with pytest.raises(error, match=match):
        call(tmp_path)
    assert not (tmp_path / "a.json").exists() and not (tmp_path / "a.st").exists()


def test_save_json_still_writes_plain_values(tmp_path):
    zio.save_json({"a": [1, 2.5, None, True, "x"]}, tmp_path / "ok.json")
    assert json.loads((tmp_path / "ok.json").read_text()) == {"a": [1, 2.5, None, True, "x"]}


# --- the zerograd command ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "fashion-mnist", "--epochs", "-1"], "train: --epochs must be a positive integer, received -1"),
        (["train", "fashion-mnist", "--batch-size", "0"], "train: --batch-size must be a positive integer, received 0"),
        (["train", "fashion-mnist", "--lr", "nan"], "train: --lr must be a finite number in (0, inf), received nan"),
        (["train", "fashion-mnist", "--limit", "-5"], "train: --limit must be an integer >= 0, received -5"),
        (["train", "mnist"], "invalid choice: 'mnist'"),
        (["finetune", "--batch", "0"], "finetune: --batch must be a positive integer, received 0"),
        (["finetune", "--accum", "-2"], "finetune: --accum must be a positive integer, received -2"),
        (["finetune", "--lr-lora", "0"], "finetune: --lr-lora must be a finite number in (0, inf), received 0.0"),
    ],
)  # fmt: skip
def test_cli_rejects_bad_options_without_a_traceback(capsys, argv, message):
    from zerograd.cli import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_save_pretrained_into_a_file_names_it(tmp_path):
    from zerograd.models import GPT, GPTConfig

    target = tmp_path / "not_a_dir"
    target.write_text("x")
    model = GPT(GPTConfig(vocab_size=20, n_positions=8, n_embd=8, n_layer=1, n_head=2))
    with pytest.raises(NotADirectoryError, match=r"'.*not_a_dir' is a file, not a directory"):
        model.save_pretrained(target)
    assert target.read_text() == "x"


# --- zerograd.data preprocessing (scikit-learn is the oracle) ------------------------------------

_X = np.random.default_rng(0).standard_normal((10, 3))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: P.StandardScaler().transform(_X), P.NotFittedError,
         r"StandardScaler.transform: call fit \(or fit_transform\) first"),
        (lambda: P.MinMaxScaler().inverse_transform(_X), P.NotFittedError,
         r"MinMaxScaler.inverse_transform: call fit"),
        (lambda: P.StandardScaler().fit(_X).transform(np.ones((2, 4))), ValueError,
         r"StandardScaler.transform: expected rows of shape \(3,\) \(as in fit\), received an "
         r"array of shape \(2, 4\)"),
        (lambda: P.MinMaxScaler((1, 0)), ValueError,
         r"MinMaxScaler: feature_range must have min < max, received \(1, 0\)"),
        (lambda: P.MinMaxScaler("ab"), TypeError,
         r"MinMaxScaler: feature_range must be a pair of numbers"),
        (lambda: P.one_hot(np.array([0.5, 1.0])), ValueError,
         r"one_hot: labels must be whole numbers, received 0\.5"),
        (lambda: P.one_hot(np.array([0, 1]), -1), ValueError,
         r"one_hot: num_classes must be positive, received -1"),
        (lambda: P.one_hot(np.array([0, 1]), 2.5), TypeError,
         r"one_hot: num_classes must be an integer, received 2\.5"),
        (lambda: P.train_test_split(_X, test_size="a"), TypeError,
         r"train_test_split: test_size must be a fraction in \(0, 1\), a count or None, "
         r"received 'a'"),
        (lambda: P.train_test_split(_X, test_size=0.5, train_size=0.8), ValueError,
         r"train_test_split: test_size=0\.5, train_size=0\.8 leave 8 train and 5 test samples "
         r"out of 10"),
        (lambda: P.train_test_split(_X, stratify=np.arange(5)), ValueError,
         r"train_test_split: stratify has 5 labels, the arrays have 10 samples"),
        (lambda: P.train_test_split(_X, shuffle="no"), TypeError,
         r"train_test_split: shuffle must be True or False, received 'no'"),
    ],
    ids=["scaler-unfit", "minmax-unfit", "scaler-columns", "minmax-range-order",
         "minmax-range-type", "one-hot-fractions", "one-hot-negative-classes",
         "one-hot-float-classes", "split-size-str", "split-sizes-too-large",
         "split-stratify-length", "split-shuffle-str"],
)  # fmt: skip
def test_preprocessing_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(train_size=0.8),
        dict(test_size=0.3, train_size=0.5),
        dict(test_size=3),
        dict(train_size=4, test_size=2),
        dict(train_size=4, test_size=3, shuffle=False),
        dict(test_size=0.3, shuffle=False),
    ],
)
def test_split_sizes_match_sklearn(kwargs):
    from sklearn.model_selection import train_test_split as sk_split

    x = np.arange(10)
    ours, theirs = P.train_test_split(x, **kwargs), sk_split(x, **kwargs)
    assert [len(a) for a in ours] == [len(a) for a in theirs]
    if not kwargs.get("shuffle", True):
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


def test_truncated_idx_gz_is_a_file_format_error(tmp_path):
    import gzip

    from zerograd.keras.datasets import _idx

    good = tmp_path / "good.gz"
    with gzip.open(good, "wb") as f:
        f.write(bytes([0, 0, 8, 1, 0, 0, 0, 200]) + bytes(200))
    bad = tmp_path / "train-images-idx3-ubyte.gz"
    bad.write_bytes(good.read_bytes()[:20])
    with pytest.raises(
        zio.FileFormatError,
        match=r"read_idx: '.*train-images-idx3-ubyte\.gz': not a complete gzip file",
    ):
        _idx.read_idx(bad)
    (tmp_path / "plain.gz").write_bytes(b"garbage")
    with pytest.raises(zio.FileFormatError, match=r"plain\.gz': not a complete gzip file"):
        _idx.read_idx(tmp_path / "plain.gz")


def test_cli_train_on_a_corrupt_data_file_exits_2(tmp_path, monkeypatch, capsys):
    from zerograd.cli import main

    d = tmp_path / "fashion-mnist"
    d.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):  # fmt: skip
        (d / f"{name}.gz").write_bytes(b"\x1f\x8b truncated")
    monkeypatch.setenv("ZEROGRAD_DATA", str(tmp_path))
    assert main(["train", "fashion-mnist", "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "not a complete gzip file" in err and "ubyte.gz" in err and "Traceback" not in err
