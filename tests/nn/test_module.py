"""Module: registration, traversal, state_dict, loading (strict errors), modes, freezing, repr."""

import numpy as np
import pytest
import torch

import zerograd as zg
import zerograd.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8)
        self.blocks = nn.ModuleList([nn.Linear(8, 8), nn.Linear(8, 8)])
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(8, 2))
        self.scale = nn.Parameter(zg.ones(1))

    def forward(self, x):
        x = self.bn(self.fc1(x))
        for b in self.blocks:
            x = b(x).tanh()
        return self.head(x) * self.scale


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 8)
        self.bn = torch.nn.BatchNorm1d(8)
        self.blocks = torch.nn.ModuleList([torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)])
        self.head = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(8, 2))
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, x):
        x = self.bn(self.fc1(x))
        for b in self.blocks:
            x = b(x).tanh()
        return self.head(x) * self.scale


def test_parameter_names_and_state_dict_keys_match_torch():
    z, t = Net(), TorchNet()
    assert [n for n, _ in z.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert list(z.state_dict()) == list(t.state_dict())
    assert [n for n, _ in z.named_buffers()] == [n for n, _ in t.named_buffers()]


def test_torch_state_dict_loads_one_to_one():
    z, t = Net(), TorchNet()
    z.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    z.eval()
    t.eval()
    np.testing.assert_allclose(
        z(zg.tensor(x)).numpy(), t(torch.from_numpy(x)).detach().numpy(), atol=1e-5
    )


def test_load_state_dict_lists_every_offending_key():
    z = Net()
    sd = {k: v.numpy() for k, v in z.state_dict().items()}
    del sd["fc1.bias"], sd["bn.running_var"]
    sd["extra.weight"] = np.zeros(3)
    sd["head.1.weight"] = np.zeros((3, 3))
    with pytest.raises(ValueError) as e:
        z.load_state_dict(sd)
    msg = str(e.value)
    for key in (
        "fc1.bias",
        "bn.running_var",
        "extra.weight",
        "head.1.weight: expected shape (2, 8), received (3, 3)",
    ):
        assert key in msg
    del sd["head.1.weight"]
    result = Net().load_state_dict({k: v for k, v in sd.items()}, strict=False)
    assert set(result.missing_keys) == {"fc1.bias", "bn.running_var", "head.1.weight"}
    assert result.unexpected_keys == ["extra.weight"]


def test_children_modules_train_eval():
    z = Net()
    assert [type(m).__name__ for m in z.children()] == [
        "Linear",
        "BatchNorm1d",
        "ModuleList",
        "Sequential",
    ]
    assert len(list(z.modules())) == 9
    z.eval()
    assert all(not m.training for m in z.modules())
    z.train()
    assert all(m.training for m in z.modules())


def test_freezing_with_requires_grad_():
    z = Net()
    z.fc1.requires_grad_(False)
    z(zg.randn(3, 4)).sum().backward()
    assert z.fc1.weight.grad is None and z.blocks[0].weight.grad is not None
    z.zero_grad()
    assert all(p.grad is None for p in z.parameters())


def test_apply_and_init():
    z = Net()
    z.apply(lambda m: nn.init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    assert not z.fc1.weight.numpy().any() and not z.head[1].weight.numpy().any()


def test_shared_parameters_listed_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2


def test_repr_tree():
    text = repr(nn.Sequential(nn.Linear(2, 3), nn.ReLU()))
    assert (
        text
        == "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): ReLU()\n)"
    )


def test_lazy_linear_learns_input_size():
    lin = nn.Linear(None, 5)
    assert lin.weight.is_uninitialized
    assert lin(zg.ones(2, 7)).shape == (2, 5)
    assert lin.weight.shape == (5, 7)


def test_assigning_a_tensor_to_a_parameter_slot_is_refused():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'weight'"):
        lin.weight = zg.ones(2, 2)


def test_module_to_dtype():
    z = Net().double()
    assert all(p.dtype == np.float64 for p in z.parameters())
    assert z(zg.randn(3, 4, dtype="float64")).dtype == np.float64


def test_module_dict():
    d = nn.ModuleDict({"a": nn.Linear(2, 2)})
    d["b"] = nn.Linear(2, 1)
    assert list(d.keys()) == ["a", "b"] and len(list(d.parameters())) == 4


def test_initialisers_statistics_and_fans():
    zg.manual_seed(0)
    w = zg.zeros(300, 200)
    nn.init.xavier_uniform_(w)
    a = np.sqrt(6 / 500)
    assert np.abs(w.numpy()).max() <= a and abs(w.numpy().std() - a / np.sqrt(3)) < 0.003
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(w.numpy().std() - np.sqrt(2 / 200)) < 0.003
    nn.init.trunc_normal_(w, std=1.0, a=-0.5, b=0.5)
    assert np.abs(w.numpy()).max() <= 0.5
    q = zg.zeros(6, 4)
    nn.init.orthogonal_(q)
    np.testing.assert_allclose(q.numpy().T @ q.numpy(), np.eye(4), atol=1e-5)
    c = zg.zeros(8, 3, 3, 3)
    assert nn.init.calculate_fan_in_and_fan_out(c) == (27, 72)
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    nn.init.constant_(c, 0.5)
    assert (c.numpy() == 0.5).all()
