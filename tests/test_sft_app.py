"""``zerograd sft`` and ``zerograd chat`` on a tiny random Llama saved by transformers: one LoRA
step's loss and gradients against transformers plus a reference LoRA written here in torch,
gradient checkpointing and accumulation giving the same gradients, the command end to end (the
loss falls, the merged directory loads in transformers with our logits), the chat's reply equal to
transformers' greedy generation, stdin mode, and clear errors for bad options."""

import io
import json

import numpy as np
import pytest

import zerograd as zg
from tests.models.chat_fixtures import CONVERSATIONS, QWEN2, hf_tokenizer, make_tokenizer
from zerograd.apps import sft
from zerograd.apps.chat import ChatConfig, ChatSession
from zerograd.apps.chat import run as run_chat
from zerograd.cli import main
from zerograd.models import Llama

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("jinja2")

TARGETS = sft.TARGETS.split(",")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny random Llama (GQA 4:2, untied head) with a byte-level BPE tokenizer, a ChatML
    template, generation_config.json, and data.jsonl of two conversations ending on a reply."""
    path = tmp_path_factory.mktemp("tiny-llama")
    tok = make_tokenizer()
    hf_tokenizer(tok, QWEN2, "qwen2").save_pretrained(path)
    cfg = transformers.LlamaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=None,
        eos_token_id=tok.token_to_id("<|im_end|>"),
        pad_token_id=tok.token_to_id("<pad>"),
        initializer_range=0.1,
    )
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(cfg).save_pretrained(path)
    with open(path / "data.jsonl", "w", encoding="utf-8") as f:
        for conv in (CONVERSATIONS[0], CONVERSATIONS[1], CONVERSATIONS[2][:4]):
            f.write(json.dumps({"messages": conv}, ensure_ascii=False) + "\n")
    return path


def config(d, **kw):
    base = dict(model=str(d), data=str(d / "data.jsonl"), out=str(d / "out"), lora_dropout=0.0)
    return sft.SFTConfig(**{**base, **kw})


def lora_params(model) -> dict:
    return {k: p for k, p in model.named_parameters() if ".lora_" in k}


def randomize_b(model, seed=1):
    """B starts at zero, which gives A no gradient: random values so both are checked."""
    rng = np.random.default_rng(seed)
    for k, p in lora_params(model).items():
        if k.endswith("lora_B"):
            p.data[...] = rng.normal(0, 0.2, p.shape)


class RefLoRA(torch.nn.Module):
    """The reference adapter: the frozen linear's output plus (x A^T B^T) * alpha / r."""

    def __init__(self, base, A, B, scale):
        super().__init__()
        self.base, self.scale = base, scale
        self.A = torch.nn.Parameter(torch.tensor(A))
        self.B = torch.nn.Parameter(torch.tensor(B))

    def forward(self, x):
        return self.base(x) + (x @ self.A.T @ self.B.T) * self.scale


def test_lora_step_matches_transformers_float64(model_dir):
    cfg = config(model_dir, lora_r=4, lora_alpha=12.0, dtype="float64")
    model, _, _, ds = sft.prepare(cfg)
    randomize_b(model)
    batch = sft.make_batch(ds, [0, 1, 2])  # three lengths: right padding inside the batch
    assert (batch["attention_mask"] == 0).any()
    loss = sft.accumulate(model, [batch])
    ours = lora_params(model)
    assert len(ours) == 2 * 2 * len(TARGETS)

    ref = transformers.LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float64)
    ref.requires_grad_(False)
    for name, module in list(ref.named_modules()):
        for child_name, child in list(module.named_children()):
            if child_name in TARGETS:
                p = f"{name[len('model.') :]}.{child_name}"
                A, B = ours[p + ".lora_A"].numpy(), ours[p + ".lora_B"].numpy()
                setattr(module, child_name, RefLoRA(child, A, B, 12.0 / 4))
    out = ref(
        input_ids=torch.tensor(batch["input_ids"]),
        attention_mask=torch.tensor(batch["attention_mask"]),
        labels=torch.tensor(batch["labels"]),
    )
    out.loss.backward()
    np.testing.assert_allclose(loss, out.loss.item(), rtol=1e-6, atol=1e-9)
    refs = {n[len("model.") :]: m for n, m in ref.named_modules() if isinstance(m, RefLoRA)}
    assert len(refs) == 2 * len(TARGETS)
    for k, p in ours.items():
        layer, which = k.rsplit(".", 1)
        g = getattr(refs[layer], which[-1]).grad.numpy()
        assert np.abs(g).max() > 0, k
        # the RoPE angles are float32 in both (as transformers computes them), where NumPy's and
        # torch's cos may differ by an ulp: about 1e-8 here, the rest agrees to float64
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-6, atol=1e-6, err_msg=k)


def grads(model) -> dict:
    return {k: p.grad.numpy().copy() for k, p in lora_params(model).items()}


def test_gradient_checkpointing_same_loss_and_grads(model_dir):
    results = []
    for ckpt in (False, True):
        cfg = config(model_dir, dtype="float64", lora_dropout=0.2, gradient_checkpointing=ckpt)
        model, _, _, ds = sft.prepare(cfg)
        randomize_b(model)
        zg.manual_seed(7)  # the same dropout masks in both runs (replayed inside the checkpoint)
        loss = sft.accumulate(model, [sft.make_batch(ds, [0, 1])])
        results.append((loss, grads(model)))
    assert "forward" in model.layers[0].__dict__  # the layers were wrapped
    (l0, g0), (l1, g1) = results
    np.testing.assert_allclose(l1, l0, rtol=1e-12)
    for k in g0:
        np.testing.assert_allclose(g1[k], g0[k], rtol=1e-10, atol=1e-14, err_msg=k)
    sft.disable_gradient_checkpointing(model)
    assert "forward" not in model.layers[0].__dict__


def test_accumulation_equals_larger_batch(model_dir):
    runs = {}
    for batch_size, accum in ((2, 1), (1, 2)):
        cfg = config(model_dir, dtype="float64", batch_size=batch_size, accum=accum, max_steps=1)
        model, _, _, ds = sft.prepare(cfg)
        randomize_b(model)
        before = {k: p.numpy().copy() for k, p in lora_params(model).items()}
        step = (
            [sft.make_batch(ds, [0, 1])]
            if accum == 1
            else [sft.make_batch(ds, [i]) for i in (0, 1)]
        )
        loss = sft.accumulate(model, step)
        g = grads(model)
        for p in lora_params(model).values():
            p.grad = None
        sft.train(model, ds, cfg)  # one optimizer step; the same two samples in both runs
        after = {k: p.numpy() for k, p in lora_params(model).items()}
        runs[accum] = (loss, g, before, after)
    (l1, g1, b1, a1), (l2, g2, b2, a2) = runs[1], runs[2]
    np.testing.assert_allclose(l2, l1, rtol=1e-12)
    for k in g1:
        np.testing.assert_array_equal(b2[k], b1[k], err_msg=k)  # the same seeded start
        np.testing.assert_allclose(g2[k], g1[k], rtol=1e-10, atol=1e-14, err_msg=k)
        np.testing.assert_allclose(a2[k], a1[k], rtol=1e-10, atol=1e-14, err_msg=k)
    assert any(not np.allclose(a1[k], b1[k]) for k in a1)  # the step changed the adapters


@pytest.fixture(scope="module")
def trained(model_dir):
    """The merged model of a short run in memory, and its output directory."""
    cfg = config(model_dir, out=str(model_dir / "merged"), max_steps=15, batch_size=3, lr=2e-2)
    model, result = sft.fine_tune(cfg)
    return model, result, model_dir / "merged"


def test_fine_tune_loss_falls_and_merged_dir_loads_in_transformers(model_dir, trained):
    model, result, out = trained
    losses = result["losses"]
    assert result["steps"] == 15 and losses[-1] < losses[0] - 0.5, losses
    assert not any(isinstance(m, zg.peft.LoRALinear) for m in model.modules())
    for name in ("config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"):
        assert (out / name).is_file(), name
    ids = np.random.default_rng(0).integers(0, model.config.vocab_size, (2, 12))
    ref = transformers.AutoModelForCausalLM.from_pretrained(out)
    with torch.no_grad():
        expected = ref(torch.tensor(ids)).logits.numpy()
        source = transformers.AutoModelForCausalLM.from_pretrained(model_dir)
        before = source(torch.tensor(ids)).logits.numpy()
    with zg.no_grad():
        got = model(ids).numpy()
        reloaded = Llama.from_pretrained(out)(ids).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(reloaded, expected, atol=1e-4, rtol=1e-4)
    assert np.abs(expected - before).max() > 1e-2  # the fine-tuning changed the weights
    saved = json.loads((out / "result.json").read_text())
    assert saved["losses"] == result["losses"]


def test_sft_command_end_to_end(model_dir, capsys):
    out = model_dir / "cli-out"
    argv = ["sft", "--model", str(model_dir), "--data", str(model_dir / "data.jsonl")]
    argv += ["--out", str(out), "--max-steps", "6", "--batch-size", "1", "--accum", "2"]
    argv += ["--packing", "--max-length", "24", "--gradient-checkpointing", "--log-every", "3"]
    assert main([*argv, "--lr", "2e-2", "--template", str(model_dir / "chat_template.jinja")]) == 0
    text = capsys.readouterr().out
    assert "step     3/6" in text and "step     6/6" in text and "merged model saved" in text
    result = json.loads((out / "result.json").read_text())
    assert result["steps"] == 6 and result["samples"] > 3  # packed rows of 24 tokens
    assert Llama.from_pretrained(out).config.vocab_size > 100


def hf_greedy(out, prompt_ids, n, eos):
    ref = transformers.AutoModelForCausalLM.from_pretrained(out)
    with torch.no_grad():
        ids = ref.generate(
            torch.tensor([prompt_ids]), max_new_tokens=n, do_sample=False, eos_token_id=eos
        )
    return ids[0, len(prompt_ids) :].tolist()


def test_chat_prompt_equals_transformers_greedy(trained, capsys):
    _, _, out = trained
    assert main(["chat", str(out), "--prompt", "What is the moon?", "--max-new-tokens", "12"]) == 0
    printed = capsys.readouterr().out
    hf = transformers.AutoTokenizer.from_pretrained(out)
    messages = [{"role": "user", "content": "What is the moon?"}]
    prompt = hf.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    prompt_ids = hf(prompt, add_special_tokens=False)["input_ids"]
    new = hf_greedy(out, prompt_ids, 12, hf.convert_tokens_to_ids("<|im_end|>"))
    expected = hf.decode(new, skip_special_tokens=True)
    assert expected.strip() and printed == expected + "\n"


def test_chat_stdin_keeps_history_until_exit(trained, capsys, monkeypatch):
    _, _, out = trained
    monkeypatch.setattr("sys.stdin", io.StringIO("What is the moon?\n\nAnd the sun?\n/exit\nno\n"))
    assert main(["chat", str(out), "--max-new-tokens", "6", "--temperature", "0.7"]) == 0
    assert capsys.readouterr().out.strip()
    cfg = ChatConfig(model=str(out), system="Answer briefly.", max_new_tokens=5)
    lines = "What is the moon?\n\nAnd the sun?\n/exit\nnot read\n"
    printed = io.StringIO()
    replies = run_chat(cfg, stdin=io.StringIO(lines), stdout=printed)
    assert len(replies) == 2  # the blank line skipped, nothing read after /exit
    assert printed.getvalue().count("\n") >= 2  # each reply ends its line
    session = ChatSession.from_pretrained(out, cfg)
    assert [session.reply("What is the moon?"), session.reply("And the sun?")] == replies
    roles = [m["role"] for m in session.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    assert session.messages[2]["content"] == replies[0]
    assert session.stops == [session.tokenizer.token_to_id("<|im_end|>")]
    reset = run_chat(
        cfg, stdin=io.StringIO("hi\n/reset\nWhat is the moon?\n"), stdout=io.StringIO()
    )
    assert reset[1] == replies[0]  # /reset forgot "hi": the same as a first message


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--lora-r", "0"], "sft: --lora-r must be a positive integer, received 0"),
        (["--lora-dropout", "1"], r"sft: --lora-dropout must be in \[0, 1\), received 1.0"),
        (["--accum", "0"], "sft: --accum must be a positive integer"),
        (["--max-length", "1"], "sft: --max-length must be an integer >= 2"),
        (["--warmup-ratio", "1.5"], "sft: --warmup-ratio must be in"),
        (["--lr", "-1"], "sft: --lr must be"),
        (["--target-modules", " , "], "sft: --target-modules must be a comma-separated list"),
    ],
)
def test_sft_bad_options_are_usage_errors(model_dir, capsys, extra, message):
    argv = ["sft", "--model", str(model_dir), "--data", str(model_dir / "data.jsonl")]
    with pytest.raises(SystemExit) as e:
        main(argv + extra)
    assert e.value.code == 2
    assert message.replace("\\", "") in capsys.readouterr().err or pytest.fail(message)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--top-p", "0"], r"chat: --top-p must be in (0, 1]"),
        (["--max-new-tokens", "0"], "chat: --max-new-tokens must be a positive integer"),
        (["--temperature", "0", "--top-k", "5"], "--temperature 0 decodes greedily"),
        (["--repetition-penalty", "0"], "chat: --repetition-penalty must be"),
    ],
)
def test_chat_bad_options_are_usage_errors(model_dir, capsys, extra, message):
    with pytest.raises(SystemExit) as e:
        main(["chat", str(model_dir), *extra])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_sft_and_chat_errors_name_the_problem(model_dir, tmp_path, capsys):
    data = str(model_dir / "data.jsonl")
    base = ["sft", "--model", str(model_dir), "--data", data, "--out", str(tmp_path / "o")]
    assert main([*base, "--target-modules", "q_proj,qq_proj"]) == 2
    err = capsys.readouterr().err
    assert "'qq_proj' matches no Linear layer" in err and "gate_proj" in err
    assert main(["sft", "--model", str(model_dir), "--data", data, "--out", str(model_dir)]) == 2
    assert "sft: --out must differ from --model" in capsys.readouterr().err
    assert main(["sft", "--model", str(tmp_path / "none"), "--data", data]) == 2
    assert "sft: --model: no directory at" in capsys.readouterr().err
    assert main([*base, "--template", str(tmp_path / "none.jinja")]) == 2
    assert "sft: --template: no file at" in capsys.readouterr().err
    users = tmp_path / "users.jsonl"
    users.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    assert main(["sft", "--model", str(model_dir), "--data", str(users)]) == 2
    assert "has no assistant tokens to learn from" in capsys.readouterr().err
    bare = tmp_path / "bare"  # a model directory without a chat template
    bare.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (bare / name).write_bytes((model_dir / name).read_bytes())
    assert main(["chat", str(bare), "--prompt", "hi"]) == 2
    assert "has no chat template" in capsys.readouterr().err
    assert main(["chat", str(tmp_path / "none"), "--prompt", "hi"]) == 2
    assert "chat: no model directory at" in capsys.readouterr().err
    with pytest.raises(ValueError, match="sft: --lora-alpha must be"):
        config(model_dir, lora_alpha=0)
    with pytest.raises(ValueError, match="sft: --dtype must be one of 'float32', 'float64'"):
        config(model_dir, dtype="float16")
