"""Llama, Qwen2 and Mistral: parity with transformers (randomly initialised tiny models saved to a
temporary directory, no download): logits, greedy generation with and without the KV cache, left
padding, the loss and its gradients, save/load both ways, shards, half-precision checkpoints, and
clear errors for what is not supported."""

import json

import numpy as np
import pytest
import torch

import zerograd.models
from zerograd.io import FileFormatError, load_safetensors, save_safetensors
from zerograd.models import Llama, LlamaConfig
from zerograd.models.generation import generate

transformers = pytest.importorskip("transformers")

SIZES = dict(
    vocab_size=120,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=128,
    bos_token_id=None,
    eos_token_id=None,
    initializer_range=0.1,  # larger than the usual 0.02: positions and masks matter more
)
LLAMA3 = {
    "rope_type": "llama3",
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8,
}
CASES = {
    "llama_gqa": ("Llama", {}),
    "llama3_rope": ("Llama", {"rope_scaling": LLAMA3, "rope_theta": 500000.0}),
    "linear_rope": ("Llama", {"rope_scaling": {"rope_type": "linear", "factor": 4.0}}),
    # dynamic NTK scaling only acts beyond max_position_embeddings: the 24 tokens exceed 16
    "dynamic_rope": (
        "Llama",
        {"rope_scaling": {"rope_type": "dynamic", "factor": 2.0}, "max_position_embeddings": 16},
    ),
    "llama_tied_biases": (
        "Llama",
        {"tie_word_embeddings": True, "attention_bias": True, "mlp_bias": True, "head_dim": 16},
    ),
    "qwen2_tied": ("Qwen2", {"tie_word_embeddings": True}),
    "qwen2_window": (
        "Qwen2",
        {"use_sliding_window": True, "sliding_window": 5, "max_window_layers": 1},
    ),
    "mistral_window": ("Mistral", {"sliding_window": 5}),
}
IDS = np.random.default_rng(0).integers(0, 120, (2, 24))


def make_ref(family: str, seed: int = 0, **overrides):
    kw = {**SIZES, **overrides}
    cfg = getattr(transformers, f"{family}Config")(**kw)
    torch.manual_seed(seed)
    return getattr(transformers, f"{family}ForCausalLM")(cfg).eval()


def ref_logits(ref, ids, **kw) -> np.ndarray:
    with torch.no_grad():
        return ref(torch.tensor(ids), **kw).logits.float().numpy()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """{case: (transformers model, directory it saved to)}, built once."""
    out = {}
    for name, (family, kw) in CASES.items():
        ref = make_ref(family, **kw)
        path = tmp_path_factory.mktemp(name)
        ref.save_pretrained(path)
        out[name] = (ref, path)
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_logits_match_transformers(saved, case):
    ref, path = saved[case]
    model = Llama.from_pretrained(path).eval()
    np.testing.assert_allclose(model(IDS).numpy(), ref_logits(ref, IDS), atol=1e-4, rtol=0)


@pytest.mark.parametrize("case", ["llama3_rope", "dynamic_rope"])
def test_far_positions_match_transformers(saved, case):
    """position_ids past the first cos/sin table (256 rows) grow it; dynamic scaling follows."""
    ref, path = saved[case]
    model = Llama.from_pretrained(path).eval()
    pos = np.arange(600, 624)[None].repeat(2, 0)
    expected = ref_logits(ref, IDS, position_ids=torch.tensor(pos))
    np.testing.assert_allclose(model(IDS, position_ids=pos).numpy(), expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("case", ["qwen2_window", "mistral_window"])
def test_sliding_window_changes_the_logits(saved, case):
    """The windows above are smaller than the sequence: removing them must matter."""
    ref, path = saved[case]
    model = Llama.from_pretrained(path).eval()
    assert any(b.window == 5 for b in model.layers)
    for b in model.layers:
        b.window = None
    assert np.abs(model(IDS).numpy() - ref_logits(ref, IDS)).max() > 1e-3


def test_config_reads_model_families(saved):
    assert LlamaConfig.from_dict(json.loads((saved["llama3_rope"][1] / "config.json").read_text()))
    c = Llama.from_pretrained(saved["qwen2_window"][1]).config
    assert (c.model_type, c.qkv_bias, c.layer_windows()) == ("qwen2", True, [None, 5])
    c = Llama.from_pretrained(saved["llama3_rope"][1]).config
    assert (c.rope_theta, c.rope_scaling["rope_type"], c.num_key_value_heads) == (5e5, "llama3", 2)
    assert isinstance(zerograd.models.from_pretrained(saved["mistral_window"][1]), Llama)


def test_config_reads_transformers_4_files_and_round_trips():
    sizes = {k: v for k, v in SIZES.items() if k != "initializer_range"}
    old = {**sizes, "model_type": "llama", "rope_theta": 1e6}
    old["rope_scaling"] = {"type": "linear", "factor": 2.0}
    c = LlamaConfig.from_dict(old)
    assert (c.rope_theta, c.rope_scaling["type"]) == (1e6, "linear")
    assert LlamaConfig.from_dict(c.to_dict()) == c
    assert c.to_dict()["rope_parameters"] == {
        "rope_type": "linear",
        "rope_theta": 1e6,
        "factor": 2.0,
    }
    mistral = LlamaConfig.from_dict({**sizes, "model_type": "mistral"})
    assert mistral.layer_windows() == [4096, 4096]  # transformers' default when the key is absent
    qwen = LlamaConfig.from_dict({**sizes, "model_type": "qwen2", "sliding_window": 8})
    assert qwen.layer_windows() == [None, None]  # use_sliding_window is off


@pytest.mark.parametrize("case", ["llama_gqa", "mistral_window"])
@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_generation_matches_transformers(saved, case, use_cache):
    ref, path = saved[case]
    model = Llama.from_pretrained(path).eval()
    prompt = IDS[:, :8]
    with torch.no_grad():
        expected = ref.generate(
            torch.tensor(prompt), max_new_tokens=64, do_sample=False, use_cache=use_cache
        ).numpy()
    got = generate(model, prompt, 64, use_cache=use_cache)
    assert got.shape == (2, 72)
    np.testing.assert_array_equal(got, expected)


def test_cache_holds_key_value_heads_and_matches_full_forward(saved):
    ref, path = saved["mistral_window"]
    model = Llama.from_pretrained(path).eval()
    full = model(IDS).numpy()
    logits, past = model(IDS[:, :10], use_cache=True)
    assert past[0][0].shape == (2, 2, 10, 8)  # (B, num_key_value_heads, T, head_dim)
    steps = [logits.numpy()]
    for t in range(10, 24):
        logits, past = model(IDS[:, t : t + 1], past_key_values=past, use_cache=True)
        steps.append(logits.numpy())
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5, rtol=0)


def test_left_padded_batch_equals_single_prompts(saved):
    ref, path = saved["qwen2_tied"]
    model = Llama.from_pretrained(path).eval()
    a, b = IDS[0, :5], IDS[1, :9]
    batch = np.zeros((2, 9), np.int64)
    mask = np.zeros((2, 9), np.int64)
    batch[0, 4:], mask[0, 4:] = a, 1
    batch[1], mask[1] = b, 1
    logits, past = model(batch, attention_mask=mask, use_cache=True)
    logits = logits.numpy()
    assert np.isfinite(logits).all()  # padding queries that see nothing stay finite
    np.testing.assert_allclose(logits[0, 4:], model(a[None]).numpy()[0], atol=1e-5, rtol=0)
    np.testing.assert_allclose(logits[1], model(b[None]).numpy()[0], atol=1e-5, rtol=0)
    # transformers given the same mask and the positions counted as ours
    pos = np.maximum(np.cumsum(mask, axis=1) - 1, 0)
    theirs = ref_logits(
        ref, batch, attention_mask=torch.tensor(mask), position_ids=torch.tensor(pos)
    )
    np.testing.assert_allclose(logits[mask == 1], theirs[mask == 1], atol=1e-4, rtol=0)
    # one cached step: the mask grows by the new token
    nxt = np.array([[7], [9]])
    step = model(
        nxt,
        attention_mask=np.concatenate([mask, np.ones((2, 1), np.int64)], 1),
        past_key_values=past,
    ).numpy()
    alone = model(np.concatenate([a, [7]])[None]).numpy()[0, -1]
    np.testing.assert_allclose(step[0, -1], alone, atol=1e-5, rtol=0)


def test_loss_with_labels_matches_transformers(saved):
    ref, path = saved["llama_gqa"]
    model = Llama.from_pretrained(path).eval()
    labels = IDS.copy()
    labels[0, :6] = -100  # e.g. a prompt that is not trained on
    loss, logits = model(IDS, labels=labels)
    with torch.no_grad():
        expected = ref(torch.tensor(IDS), labels=torch.tensor(labels)).loss.item()
    assert loss.item() == pytest.approx(expected, abs=1e-5)
    assert logits.shape == (2, 24, 120)


def test_gradients_match_transformers_in_float64(saved):
    ref, path = saved["qwen2_window"]
    ref = ref.double().train()
    model = Llama.from_pretrained(path, dtype="float64").train()
    assert model.lm_head.weight.dtype == np.float64
    labels = IDS.copy()
    labels[1, :3] = -100
    loss, _ = model(IDS, labels=labels)
    loss.backward()
    # transformers' own loss widens the logits to float32 only: the same loss, kept in float64
    logits = ref(torch.tensor(IDS)).logits
    expected = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, 120), torch.tensor(labels[:, 1:]).reshape(-1)
    )
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), abs=1e-8)
    theirs = dict(ref.named_parameters())
    for ours, (hf, _) in model.key_map().items():
        g = dict(model.named_parameters())[ours].grad.numpy()
        np.testing.assert_allclose(g, theirs[hf].grad.numpy(), atol=1e-6, rtol=1e-6, err_msg=ours)
    ref.zero_grad()


@pytest.mark.parametrize("case", ["llama3_rope", "qwen2_tied", "mistral_window"])
def test_save_pretrained_loads_in_transformers(saved, case, tmp_path):
    _, path = saved[case]
    model = Llama.from_pretrained(path).eval()
    model.save_pretrained(tmp_path)
    back = transformers.AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert (
        type(back).__name__
        == json.loads((tmp_path / "config.json").read_text())["architectures"][0]
    )
    np.testing.assert_allclose(ref_logits(back, IDS), model(IDS).numpy(), atol=1e-5, rtol=0)


def test_sharded_checkpoint_loads(tmp_path):
    ref = make_ref("Llama", seed=1)
    ref.save_pretrained(tmp_path, max_shard_size="20KB")
    assert (tmp_path / "model.safetensors.index.json").exists()
    assert len(list(tmp_path.glob("model-*.safetensors"))) > 1
    model = Llama.from_pretrained(tmp_path).eval()
    np.testing.assert_allclose(model(IDS).numpy(), ref_logits(ref, IDS), atol=1e-4, rtol=0)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_checkpoints_load(tmp_path, dtype):
    ref = make_ref("Qwen2", seed=2)
    ref.to(dtype).save_pretrained(tmp_path)
    # the same rounded weights, computed in float32
    widened = transformers.AutoModelForCausalLM.from_pretrained(tmp_path, dtype=dtype).float()
    model = Llama.from_pretrained(tmp_path).eval()
    assert model.embed_tokens.weight.dtype == np.float32
    np.testing.assert_allclose(model(IDS).numpy(), ref_logits(widened, IDS), atol=1e-4, rtol=0)
    half = Llama.from_pretrained(tmp_path, dtype="float16").eval()
    assert half.norm.weight.dtype == np.float16
    np.testing.assert_allclose(
        half(IDS[:, :6]).numpy().astype(np.float32), model(IDS[:, :6]).numpy(), atol=0.05
    )


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, error, match",
    [
        ({"rope_scaling": {"rope_type": "yarn", "factor": 2.0}}, ValueError, "'yarn'"),
        ({"hidden_act": "gelu"}, ValueError, "hidden_act 'gelu' is not supported"),
        ({"num_key_value_heads": 3}, ValueError, r"num_attention_heads \(4\) .* \(3\)"),
        ({"rope_scaling": {"rope_type": "linear"}}, ValueError, "needs 'factor'"),
        ({"sliding_window": 4}, ValueError, "sliding_window is read for"),
        ({"model_type": "gemma"}, ValueError, "model_type must be one of"),
        ({"rope_scaling": "linear"}, TypeError, "rope_scaling must be a dict"),
    ],
)
def test_bad_configs_name_the_option(kw, error, match):
    with pytest.raises(error, match=match):
        LlamaConfig(**{**SIZES, **kw})


def test_bad_files_name_the_problem(saved, tmp_path):
    _, path = saved["llama_gqa"]
    (tmp_path / "config.json").write_text((path / "config.json").read_text())
    weights = load_safetensors(path / "model.safetensors", arrays=True)
    del weights["model.layers.1.mlp.up_proj.weight"]
    save_safetensors(weights, tmp_path / "model.safetensors")
    with pytest.raises(FileFormatError, match=r"missing keys: layers\.1\.mlp\.up_proj\.weight"):
        Llama.from_pretrained(tmp_path)

    cfg = json.loads((path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "intermediate_size": 48}))
    with pytest.raises(FileFormatError, match=r"expected shape \(48, 32\).*intermediate_size=48"):
        Llama.from_pretrained(tmp_path)

    cfg["rope_parameters"] = {"rope_type": "longrope", "rope_theta": 1e4}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(FileFormatError, match="config.json.*'longrope' is not supported"):
        Llama.from_pretrained(tmp_path)

    with pytest.raises(ValueError, match="dtype must be one of float32, float64, float16"):
        Llama.from_pretrained(path, dtype="int8")


def test_bad_shard_index_names_the_shard(tmp_path):
    ref = make_ref("Llama", seed=1)
    ref.save_pretrained(tmp_path, max_shard_size="20KB")
    shard = sorted(tmp_path.glob("model-*.safetensors"))[0]
    shard.unlink()
    with pytest.raises(FileFormatError, match=f"lists shard '{shard.name}', which is missing"):
        Llama.from_pretrained(tmp_path)


def test_bad_forward_arguments(saved):
    model = Llama.from_pretrained(saved["llama_gqa"][1])
    with pytest.raises(
        ValueError, match=r"attention_mask of shape .* \(2, 24\), received \(2, 5\)"
    ):
        model(IDS, attention_mask=np.ones((2, 5), np.int64))
    with pytest.raises(ValueError, match=r"token indices must be in \[0, 120\)"):
        model(IDS + 200)
    with pytest.raises(ValueError, match="past_key_values must hold one"):
        model(IDS, past_key_values=[(np.zeros((2, 2, 3, 8)),) * 2])
    with pytest.raises(ValueError, match="labels of the input_ids' shape"):
        model(IDS, labels=IDS[:, :3])
