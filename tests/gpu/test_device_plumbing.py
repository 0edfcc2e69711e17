"""Whole programs on the device: tensors moving between devices, clear errors when they mix,
optimizers keeping their state beside the parameters, pretrained models loaded onto the device,
generation with its cache there, Keras ``fit`` on a device model; the CPU kernels never reached
with device arrays. Each result is compared with the same program on the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import backend, nn, optim, tuning
from zerograd.models import BERT, GPT, Llama, from_pretrained


def test_to_device_and_back_keeps_values_and_gradients():
    x = zg.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)
    y = (x.to("cuda") * 3).exp().sum()
    assert y.device == "cuda:0"
    y.backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.exp(3 * x.numpy()), rtol=1e-5)
    assert zg.tensor([1.0], device="cuda").cpu().device == "cpu"


@pytest.mark.parametrize(
    "make",
    [
        lambda a, b: a + b,
        lambda a, b: a @ b,
        lambda a, b: zg.where(a > 0, a, b),
        lambda a, b: zg.concat([a, b]),
        lambda a, b: nn.functional.linear(a, b),
    ],
    ids=["add", "matmul", "where", "concatenate", "linear"],
)
def test_mixing_devices_names_both(make):
    a = zg.ones((3, 3))
    b = zg.ones((3, 3), device="cuda")
    with pytest.raises(backend.DeviceMismatchError, match=r"cpu and cuda:0"):
        make(a, b)
    with pytest.raises(RuntimeError, match=r"one device"):  # as PyTorch's error type too
        make(b, a)


def test_device_index_out_of_range_and_unknown_names():
    with pytest.raises((RuntimeError, ValueError), match="cuda:7"):
        zg.ones(2, device="cuda:7")
    with pytest.raises(ValueError, match="'tpu'"):
        zg.ones(2, device="tpu")


def test_indexing_a_device_tensor_with_host_indices_and_the_reverse():
    x = zg.arange(12.0).reshape(3, 4).to("cuda")
    y = x[np.array([2, 0]), zg.tensor([1, 3])]
    assert y.device == "cuda:0" and y.tolist() == [9.0, 3.0]
    with pytest.raises(ValueError, match="index is on cuda:0 and the tensor on cpu"):
        zg.arange(4.0)[zg.tensor([1], device="cuda")]


OPTIMIZERS = {
    "SGD": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "Adam": lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
    "AdamW": lambda p: optim.AdamW(p, lr=0.01),
    "RMSprop": lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "Adagrad": lambda p: optim.Adagrad(p, lr=0.1),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_state_stays_on_the_device_and_steps_equal_the_cpu(name):
    def run(device):
        zg.manual_seed(0)
        model = nn.Sequential(nn.Linear(300, 64), nn.GELU(), nn.LayerNorm(64), nn.Linear(64, 3))
        model.to(device, dtype="float64")  # float64: the CPU and device kernels round alike
        opt = OPTIMIZERS[name](model.parameters())
        x = zg.tensor(np.random.default_rng(0).standard_normal((16, 300)), device=device)
        t = zg.tensor(np.arange(16) % 3, device=device)
        for _ in range(3):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), t).backward()
            opt.step()
        return model, opt

    cpu, _ = run("cpu")
    dev, opt = run("cuda")
    for (name_, p), q in zip(dev.named_parameters(), cpu.parameters()):
        assert p.device == "cuda:0", name_
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-9, atol=1e-12, err_msg=name_)
    for state in opt.state.values():
        for key, v in state.items():
            if isinstance(v, zg.Tensor) and v.ndim:
                assert v.device == "cuda:0", f"optimizer state {key} on {v.device}"


def test_cpu_kernels_are_never_reached_with_device_arrays(monkeypatch):
    """With every size threshold at zero the CPU would take a numba kernel for each op below;
    on the device the same calls must take the array path (a kernel handed a device array
    fails)."""
    monkeypatch.setattr(tuning, "KERNEL_MIN_SIZE", 0)
    monkeypatch.setattr(tuning, "FLASH_ATTENTION_MIN_KEYS", 1)
    zg.manual_seed(0)
    cnn = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten()
    ).to("cuda")
    cnn(zg.randn(2, 3, 8, 8, device="cuda")).sum().backward()
    lstm = nn.LSTM(4, 8, batch_first=True).to("cuda")
    lstm(zg.randn(2, 5, 4, device="cuda"))[0].sum().backward()
    q = zg.randn(1, 2, 6, 8, device="cuda", requires_grad=True)
    nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True).sum().backward()
    x = zg.randn(4, 16, device="cuda", requires_grad=True)
    for f in (nn.functional.gelu, nn.functional.silu, lambda v: nn.functional.softmax(v, -1)):
        f(x).sum().backward()
    nn.functional.rms_norm(x, (16,)).sum().backward()
    assert q.grad.device == "cuda:0" and x.grad.device == "cuda:0"


TINY = dict(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2)


def _save(tmp_path, ref):
    ref.save_pretrained(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Tiny random Hugging Face checkpoints (transformers writes them; the GPU machine may lack
    it, and then these tests skip)."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    llama = transformers.LlamaForCausalLM(
        transformers.LlamaConfig(**TINY, num_attention_heads=4, num_key_value_heads=2)
    )
    gpt = transformers.GPT2LMHeadModel(
        transformers.GPT2Config(vocab_size=97, n_embd=32, n_layer=2, n_head=2, n_positions=64)
    )
    bert = transformers.BertModel(transformers.BertConfig(**TINY, num_attention_heads=2))
    return {
        name: _save(tmp_path_factory.mktemp(name), ref)
        for name, ref in (("llama", llama), ("gpt", gpt), ("bert", bert))
    }


@pytest.mark.parametrize("name,cls", [("llama", Llama), ("gpt", GPT), ("bert", BERT)])
def test_from_pretrained_onto_the_device_equals_the_cpu(checkpoints, name, cls):
    ids = np.random.default_rng(0).integers(0, 97, (2, 9))
    cpu = cls.from_pretrained(checkpoints[name])
    dev = cls.from_pretrained(checkpoints[name], device="cuda")
    auto = from_pretrained(checkpoints[name], device="cuda")
    assert all(p.device == "cuda:0" for p in dev.parameters())
    assert type(auto) is cls and all(p.device == "cuda:0" for p in auto.parameters())
    cpu.eval(), dev.eval()
    a, b = cpu(ids), dev(zg.tensor(ids, device="cuda"))
    a, b = (a[0], b[0]) if isinstance(a, tuple) else (a, b)
    assert b.device == "cuda:0"
    np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,cls", [("llama", Llama), ("gpt", GPT)])
def test_generation_on_the_device_gives_the_cpu_tokens(checkpoints, name, cls):
    prompt = np.random.default_rng(1).integers(0, 97, (2, 5))
    cpu = cls.from_pretrained(checkpoints[name])
    dev = cls.from_pretrained(checkpoints[name], device="cuda")
    want = cpu.generate(prompt, max_new_tokens=12)
    for use_cache in (True, False):
        got = dev.generate(zg.tensor(prompt, device="cuda"), 12, use_cache=use_cache)
        np.testing.assert_array_equal(got, want)


def test_llama_cache_lives_on_the_device(checkpoints):
    dev = Llama.from_pretrained(checkpoints["llama"], device="cuda").eval()
    _, past = dev(zg.tensor([[1, 2, 3]], device="cuda"), use_cache=True)
    arrays = [a for layer in past for a in layer]
    assert arrays and all(backend.is_device_array(getattr(a, "data", a)) for a in arrays)
    assert arrays[0].shape[1] == 2  # the key/value heads, not the query heads


def test_from_pretrained_checks_the_device_before_reading(tmp_path):
    with pytest.raises(ValueError, match=r"Llama.from_pretrained: unknown device.*'gpu0'"):
        Llama.from_pretrained(tmp_path / "missing", device="gpu0")


def test_keras_fit_on_the_device_equals_the_cpu():
    from zerograd import keras

    x = np.random.default_rng(0).standard_normal((64, 10)).astype("float32")
    y = (x[:, :3].sum(1) > 0).astype("int64")

    def run(device):
        with keras.device(device):
            keras.utils.set_random_seed(0)
            model = keras.Sequential(
                [
                    keras.Input((10,)),
                    keras.layers.Dense(16, activation="gelu"),
                    keras.layers.LayerNormalization(),
                    keras.layers.Dense(2, activation="softmax"),
                ]
            )
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            h = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
            return model, h.history, model.predict(x, verbose=0)

    _, cpu_hist, cpu_pred = run("cpu")
    model, hist, pred = run("gpu")
    assert all(w.device == "cuda:0" for w in model.weights)
    assert isinstance(pred, np.ndarray)
    np.testing.assert_allclose(hist["loss"], cpu_hist["loss"], rtol=1e-4)
    np.testing.assert_allclose(pred, cpu_pred, rtol=1e-4, atol=1e-6)


def test_keras_device_names():
    from zerograd import keras

    with keras.device("gpu:0") as name:
        assert name == "cuda:0"
        assert keras.ops.convert_to_tensor([1.0]).device == "cuda:0"
    with pytest.raises(ValueError, match="keras.device"):
        with keras.device("tpu"):
            pass


def test_state_dict_of_a_device_model_saves_and_loads(tmp_path):
    model = nn.Linear(4, 3).to("cuda")
    zg.io.save_safetensors(model.state_dict(), tmp_path / "m.safetensors")
    other = nn.Linear(4, 3).to("cuda")
    other.load_state_dict(zg.io.load_safetensors(tmp_path / "m.safetensors"))
    assert other.weight.device == "cuda:0"
    np.testing.assert_array_equal(other.weight.numpy(), model.weight.numpy())


def test_optimizer_state_follows_a_model_moved_after_steps():
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.1)
    model(zg.ones((1, 3))).sum().backward()
    opt.step()
    model.to("cuda")
    opt.zero_grad()
    model(zg.ones((1, 3), device="cuda")).sum().backward()
    opt.step()
    state = opt.state[model.weight]
    assert backend.device_of(state["exp_avg"]) == "cuda:0" and state["step"] == 2


def test_lora_fine_tuning_on_the_device(checkpoints):
    from zerograd import peft

    model = Llama.from_pretrained(checkpoints["llama"], device="cuda")
    peft.apply_lora(model, r=4, alpha=8, target_modules=["q_proj", "v_proj"])
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and all(p.device == "cuda:0" for p in trainable)
    opt = optim.AdamW(trainable, lr=1e-2)
    ids = zg.tensor(np.random.default_rng(0).integers(0, 97, (2, 8)), device="cuda")
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = model(ids, labels=ids)[0]
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_cuda_module_reports_the_device():
    assert zg.cuda.is_available() and zg.cuda.device_count() >= 1
    assert isinstance(zg.cuda.get_device_name(), str) and zg.cuda.get_device_name()
    x = zg.ones(1000, device="cuda")
    zg.cuda.synchronize()
    assert zg.cuda.memory_reserved() >= zg.cuda.memory_allocated() >= 0
    del x
    zg.cuda.empty_cache()


def test_keras_layers_called_on_arrays_use_the_current_device():
    from zerograd import keras

    with keras.device("gpu"):
        layer = keras.layers.Dense(2)
        y = layer(np.ones((1, 3), "float32"))
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
        z = model(np.ones((2, 3), "float32"))
    assert y.device == z.device == "cuda:0" and layer.kernel.device == "cuda:0"
    with keras.device("cpu"):
        assert keras.layers.Dense(2)(np.ones((1, 3), "float32")).device == "cpu"


def test_loss_targets_move_from_the_host_but_not_from_another_device():
    logits = zg.randn(4, 3, device="cuda", requires_grad=True)
    loss = nn.functional.cross_entropy(logits, np.array([0, 1, 2, 1]))  # a host array: moved
    assert loss.device == "cuda:0"
    with pytest.raises(backend.DeviceMismatchError, match="the target is on cpu and the input"):
        nn.functional.cross_entropy(logits, zg.tensor([0, 1, 2, 1]))
    with pytest.raises(backend.DeviceMismatchError, match="the target is on cuda:0 and the input"):
        nn.functional.cross_entropy(zg.randn(4, 3), zg.tensor([0, 1, 2, 1], device="cuda").data)
