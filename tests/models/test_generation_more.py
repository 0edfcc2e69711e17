"""generate: repetition penalty and stop-token lists token-identical to transformers' GPT-2,
streaming, left-padded batches through a model that takes attention_mask, generation_config.json,
and bad arguments."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import nn
from zerograd.io import FileFormatError
from zerograd.models import GPT, generate
from zerograd.models.generation_config import GenerationConfig, load_generation_config
from zerograd.models.streaming import TextStreamer

transformers = pytest.importorskip("transformers")

VOCAB = 60


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    cfg = transformers.GPT2Config(
        vocab_size=VOCAB, n_positions=64, n_embd=16, n_layer=2, n_head=4, bos_token_id=0,
        eos_token_id=0,
    )  # fmt: skip
    torch.manual_seed(1)
    ref = transformers.GPT2LMHeadModel(cfg).eval()
    path = tmp_path_factory.mktemp("gpt2")
    ref.save_pretrained(path)
    return ref, GPT.from_pretrained(path), path


PROMPT = np.random.default_rng(3).integers(1, VOCAB, (2, 5))


def hf_generate(ref, ids, n, **kw):
    with torch.no_grad():
        out = ref.generate(
            torch.tensor(ids),
            attention_mask=torch.ones(ids.shape, dtype=torch.long),
            max_new_tokens=n,
            do_sample=False,
            **kw,
        )
    return out.numpy()


@pytest.mark.parametrize("penalty", [1.3, 2.0, 0.7])
@pytest.mark.parametrize("use_cache", [True, False])
def test_repetition_penalty_matches_transformers(pair, penalty, use_cache):
    ref, model, _ = pair
    ours = generate(model, PROMPT, 30, repetition_penalty=penalty, use_cache=use_cache)
    theirs = hf_generate(ref, PROMPT, 30, repetition_penalty=penalty, pad_token_id=0)
    np.testing.assert_array_equal(ours, theirs)
    plain = generate(model, PROMPT, 30)
    assert not np.array_equal(ours, plain)  # the penalty changed the text


def test_stop_token_list_matches_transformers(pair):
    ref, model, _ = pair
    free = generate(model, PROMPT, 20)[:, 5:]
    # one stop token taken from each row's free continuation (row 0 early, row 1 later)
    stops = [int(free[0, 3]), int(free[1, 9])]
    ours = generate(model, PROMPT, 20, eos_token_id=stops, pad_token_id=7)
    theirs = hf_generate(ref, PROMPT, 20, eos_token_id=stops, pad_token_id=7)
    np.testing.assert_array_equal(ours, theirs)
    assert ours.shape[1] < 25  # stopped before max_new_tokens: both rows hit a stop token
    row0 = ours[0, 5:].tolist()
    hit = min(i for i, t in enumerate(row0) if t in stops)
    assert set(row0[hit + 1 :]) <= {7}  # filled with pad after the stop
    # a single int still works, and without pad_token_id the filler is the (first) stop token
    one = generate(model, PROMPT, 20, eos_token_id=stops[0])
    np.testing.assert_array_equal(
        one, hf_generate(ref, PROMPT, 20, eos_token_id=stops[0], pad_token_id=stops[0])
    )


def test_streamer_receives_exactly_the_generated_tokens(pair):
    _, model, _ = pair
    got = []
    out = generate(model, PROMPT, 12, streamer=got.append)
    np.testing.assert_array_equal(np.stack(got, axis=1), out[:, 5:])

    class Recorder:
        def __init__(self):
            self.ids, self.ended = [], 0

        def put(self, ids):
            self.ids.append(ids.copy())

        def end(self):
            self.ended += 1

    rec = Recorder()
    stop = int(out[0, 8])
    out2 = generate(model, PROMPT[:1], 12, streamer=rec, eos_token_id=stop)
    assert rec.ended == 1
    np.testing.assert_array_equal(np.concatenate(rec.ids), out2[0, 5:])
    assert rec.ids[-1][0] == stop  # the stop token itself is streamed, then generation ends


class ToyLM(nn.Module):
    """A model that honours attention_mask: the logits at a token depend on the earlier unmasked
    tokens and on its position among them, so any mistake in the padding plumbing shows."""

    def __init__(self, vocab=17, limit=64):
        super().__init__()
        rng = np.random.default_rng(0)
        self.E, self.U = rng.normal(size=(2, vocab, vocab))
        self.P = rng.normal(size=(limit, vocab))
        self.E[:, 0] = -100.0  # token 0 (the pad) is never chosen, penalised or not
        self.config = SimpleNamespace(max_position_embeddings=limit)
        self.masks = []

    def forward(self, input_ids, attention_mask=None, past_key_values=None, use_cache=False):
        new = np.asarray(input_ids)
        ids = new if past_key_values is None else np.concatenate([past_key_values, new], axis=1)
        mask = np.ones_like(ids) if attention_mask is None else np.asarray(attention_mask)
        assert mask.shape == ids.shape, (mask.shape, ids.shape)  # covers past + new tokens
        self.masks.append(mask.copy())
        pos = np.cumsum(mask, axis=1) - 1  # (B, T) position among the real tokens
        T, t0 = ids.shape[1], ids.shape[1] - new.shape[1]
        out = []
        for t in range(t0, T):
            w = mask[:, : t + 1] * 0.6 ** (pos[:, t : t + 1] - pos[:, : t + 1])  # (B, t+1)
            h = (
                self.E[ids[:, t]]
                + self.P[pos[:, t]]
                + np.einsum("bs,bsv->bv", w, self.U[ids[:, : t + 1]])
            )
            out.append(h)
        logits = zg.tensor(np.stack(out, axis=1).astype(np.float32))
        return (logits, ids) if use_cache else logits


@pytest.mark.parametrize("use_cache", [True, False])
def test_left_padded_batch_equals_each_prompt_alone(use_cache):
    model = ToyLM()
    prompts = [[3, 5, 1, 8, 2, 9], [4, 7], [11, 2, 6, 6]]
    width, pad = max(map(len, prompts)), 0
    ids = np.array([[pad] * (width - len(p)) + p for p in prompts])
    mask = np.array([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    batch = generate(model, ids, 10, attention_mask=mask, use_cache=use_cache, pad_token_id=pad,
                     repetition_penalty=1.2)  # fmt: skip
    for row, p in zip(batch, prompts):
        alone = generate(ToyLM(), np.array([p]), 10, use_cache=use_cache, repetition_penalty=1.2)
        # the penalty also sees the row's pad tokens (as transformers); the toy never picks 0
        np.testing.assert_array_equal(row[width:], alone[0, len(p) :])
    # the mask grows by one 1 per new token, and the model always sees (B, T_total)
    assert [m.shape[1] for m in model.masks] == list(range(width, width + 10))
    assert (model.masks[-1][:, width:] == 1).all()
    # inferred from pad_token_id when no mask is given
    again = generate(
        ToyLM(), ids, 10, use_cache=use_cache, pad_token_id=pad, repetition_penalty=1.2
    )
    np.testing.assert_array_equal(again, batch)


def test_context_limit_from_max_position_embeddings():
    with pytest.raises(ValueError, match=r"exceeds the model's max_position_embeddings=8"):
        generate(ToyLM(limit=8), [[1, 2, 3]], 6)


def test_generation_config_file(tmp_path, pair):
    _, model, _ = pair
    (tmp_path / "generation_config.json").write_text(
        json.dumps(
            {
                "eos_token_id": [5, 9],
                "bos_token_id": 1,
                "pad_token_id": 0,
                "temperature": 0.7,
                "top_p": 0.9,
                "do_sample": False,
                "repetition_penalty": 1.5,
                "max_new_tokens": 12,
                "max_length": 99,
                "transformers_version": "4.44",
            }
        )  # fmt: skip
    )
    cfg = load_generation_config(tmp_path)
    assert cfg == GenerationConfig(12, False, 0.7, None, 0.9, 1.5, 1, [5, 9], 0)
    assert load_generation_config(tmp_path / "generation_config.json") == cfg
    assert GenerationConfig.from_pretrained(tmp_path) == cfg
    out = generate(model, PROMPT, generation_config=cfg)
    explicit = generate(model, PROMPT, 12, eos_token_id=[5, 9], pad_token_id=0,
                        repetition_penalty=1.5)  # fmt: skip
    np.testing.assert_array_equal(out, explicit)
    # an argument given wins over the file
    np.testing.assert_array_equal(
        generate(model, PROMPT, 3, generation_config=cfg, repetition_penalty=1.0),
        generate(model, PROMPT, 3, eos_token_id=[5, 9], pad_token_id=0),
    )
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": 2}))
    assert load_generation_config(tmp_path).eos_token_id == [2]
    empty = tmp_path / "none"
    empty.mkdir()
    assert load_generation_config(empty) == GenerationConfig()  # no file: every default


@pytest.mark.parametrize(
    "text, match",
    [
        ("{not json", r"generation_config\.json'.*not valid JSON"),
        ("[1, 2]", r"expected a JSON object, received list"),
        ('{"eos_token_id": "</s>"}', r"eos_token_id must be an integer or a non-empty list"),
        ('{"top_k": 2.5}', r"top_k must be an integer"),
        ('{"temperature": -1}', r"temperature must be in \[0, inf\)"),
    ],
)
def test_bad_generation_config_files(tmp_path, text, match):
    (tmp_path / "generation_config.json").write_text(text)
    with pytest.raises(FileFormatError, match=match):
        load_generation_config(tmp_path)


def test_missing_generation_config_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="load_generation_config: no directory or file"):
        load_generation_config(tmp_path / "nope")


PROMPT1 = np.array([[1, 2, 3]])
# fmt: off
BAD = [
    (dict(repetition_penalty=0.0), ValueError, r"generate: repetition_penalty must be a finite number in \(0, inf\), received 0\.0"),
    (dict(repetition_penalty="x"), TypeError, r"generate: repetition_penalty must be a finite number"),
    (dict(repetition_penalty=float("inf")), ValueError, r"repetition_penalty must be a finite number"),
    (dict(eos_token_id=[1, -2]), ValueError, r"generate: eos_token_id must hold integers >= 0, received \[1, -2\]"),
    (dict(eos_token_id=[]), TypeError, r"generate: eos_token_id must be an integer or a non-empty list of integers, received \[\]"),
    (dict(eos_token_id=[1.0]), TypeError, r"eos_token_id must be an integer or a non-empty list"),
    (dict(pad_token_id=-1), ValueError, r"generate: pad_token_id must be an integer >= 0 or None, received -1"),
    (dict(streamer=5), TypeError, r"generate: streamer must be callable or have put\(ids\)"),
    (dict(generation_config="cfg.json"), TypeError, r"generate: generation_config must be a GenerationConfig or a dict, received str"),
    (dict(max_new_tokens=None), ValueError, r"generate: max_new_tokens is required"),
    (dict(attention_mask=[[1, 1]]), ValueError, r"generate: expected attention_mask of the input_ids' shape \(1, 3\), received \(1, 2\)"),
    (dict(attention_mask=[[0, 2, 1]]), ValueError, r"attention_mask must hold only 0 and 1"),
    (dict(attention_mask=[[1, 1, 0]]), ValueError, r"generate: prompt 0 is padded on the right"),
    (dict(attention_mask=[[1, 0, 1]]), ValueError, r"padding \(0\) after real tokens"),
    (dict(attention_mask=[[0.0, 1.0, 1.0]]), TypeError, r"generate: expected integer attention_mask"),
]
# fmt: on


@pytest.mark.parametrize("change, error, match", BAD)
def test_bad_arguments(pair, change, error, match):
    _, model, _ = pair
    args = {"input_ids": PROMPT1, "max_new_tokens": 2, **change}
    with pytest.raises(error, match=match):
        generate(model, **args)


def test_padding_needs_a_model_that_takes_attention_mask(pair):
    _, model, _ = pair
    with pytest.raises(ValueError, match=r"GPT\.forward takes no attention_mask"):
        generate(model, [[0, 1, 2], [3, 4, 5]], 2, attention_mask=[[0, 1, 1], [1, 1, 1]])
    # an all-ones mask is fine (nothing to mask)
    assert generate(model, PROMPT1, 2, attention_mask=[[1, 1, 1]]).shape == (1, 5)


def test_text_streamer_releases_only_whole_characters():
    from zerograd.data import train_bpe

    tok = train_bpe(["abc"] * 3, vocab_size=257, min_frequency=100)  # bytes only
    text = "床前明月光, ok 疑是地上霜"
    ids = tok.encode(text)
    assert len(ids) > len(text)  # the characters take several tokens each
    pieces = []
    s = TextStreamer(tok, callback=pieces.append)
    returned = [s.put(np.array([i])) for i in ids]
    assert s.end() == ""
    assert "".join(pieces) == text == s.text == "".join(returned)
    assert all("\ufffd" not in p for p in pieces)
    assert pieces[:5] == list("床前明月光")  # each released once its three bytes are in
    # an unfinished character is flushed by end()
    s2 = TextStreamer(tok.inner)
    assert s2.put(ids[:1]) == ""
    assert s2.end() == "\ufffd"


def test_text_streamer_in_generate_and_its_errors(pair):
    _, model, _ = pair
    from zerograd.data import CharTokenizer

    tok = CharTokenizer([chr(65 + i) for i in range(VOCAB - 1)])
    s = TextStreamer(tok)
    out = generate(model, PROMPT[:1], 8, streamer=s)
    assert s.text == tok.decode(out[0, 5:])
    with pytest.raises(ValueError, match=r"TextStreamer\.put: streams one sequence.*batch of 2"):
        s.put(np.array([[1], [2]]))
    with pytest.raises(TypeError, match=r"TextStreamer\.put: expected integer token ids"):
        s.put(np.array([1.5]))
    with pytest.raises(TypeError, match="TextStreamer: tokenizer must have a decode method"):
        TextStreamer(object())
    with pytest.raises(TypeError, match="TextStreamer: callback must be callable"):
        TextStreamer(tok, callback="print")


def test_left_padded_llama_matches_transformers(tmp_path):
    """With the Llama model (when present): a left-padded batch, greedy with a repetition penalty
    and stop tokens, token-identical to transformers' generate."""
    llama = pytest.importorskip("zerograd.models.llama")
    cfg = transformers.LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip
    torch.manual_seed(0)
    ref = transformers.LlamaForCausalLM(cfg).eval()
    ref.save_pretrained(tmp_path)
    model = llama.Llama.from_pretrained(tmp_path)
    prompts = [[1, 5, 9, 13, 21, 8], [1, 40], [1, 7, 7, 30]]
    width = max(map(len, prompts))
    ids = np.array([[0] * (width - len(p)) + p for p in prompts])
    mask = (ids != 0).astype(np.int64)
    free = generate(model, ids, 16, attention_mask=mask, pad_token_id=0)
    stops = [2, int(free[1, width + 4])]
    kw = dict(repetition_penalty=1.3, eos_token_id=stops, pad_token_id=0)
    with torch.no_grad():
        theirs = ref.generate(
            torch.tensor(ids), attention_mask=torch.tensor(mask), max_new_tokens=16,
            do_sample=False, **kw,
        ).numpy()  # fmt: skip
    for use_cache in (True, False):
        ours = generate(model, ids, 16, attention_mask=mask, use_cache=use_cache, **kw)
        np.testing.assert_array_equal(ours, theirs)
