"""Bad configs and forward arguments of BERT and GPT, and bad arguments to ``generate``: each fails
when the config or model is made (or before any work in forward) with a TypeError/ValueError
naming the model, the argument, what was expected and what was received."""

import numpy as np
import pytest

import zerograd as zg
from zerograd.models.bert import BERT, BertConfig, BertForSequenceClassification
from zerograd.models.generation import generate
from zerograd.models.gpt import GPT, GPTConfig

TINY_BERT = dict(
    vocab_size=50,
    hidden_size=16,
    num_hidden_layers=1,
    num_attention_heads=4,
    intermediate_size=32,
    max_position_embeddings=20,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)
TINY_GPT = dict(vocab_size=20, n_positions=8, n_embd=8, n_layer=1, n_head=2)


@pytest.fixture(scope="module")
def bert():
    return BERT(BertConfig(**TINY_BERT)).eval()


@pytest.fixture(scope="module")
def gpt():
    return GPT(GPTConfig(**TINY_GPT)).eval()


# fmt: off
CONFIGS = [
    ("bert-heads-not-dividing", BertConfig, dict(num_attention_heads=5), ValueError,
     r"BertConfig: hidden_size \(16\) must be divisible by num_attention_heads \(5\)"),
    ("bert-heads-0", BertConfig, dict(num_attention_heads=0), ValueError,
     r"BertConfig: num_attention_heads must be a positive integer, received 0"),
    ("bert-hidden-float", BertConfig, dict(hidden_size=16.0), TypeError,
     r"BertConfig: hidden_size must be an integer, received 16\.0 \(float\)"),
    ("bert-layers-str", BertConfig, dict(num_hidden_layers="2"), TypeError,
     r"BertConfig: num_hidden_layers must be an integer, received '2' \(str\)"),
    ("bert-vocab-negative", BertConfig, dict(vocab_size=-5), ValueError,
     r"BertConfig: vocab_size must be a positive integer, received -5"),
    ("bert-positions-0", BertConfig, dict(max_position_embeddings=0), ValueError,
     r"BertConfig: max_position_embeddings must be a positive integer, received 0"),
    ("bert-dropout", BertConfig, dict(hidden_dropout_prob=1.5), ValueError,
     r"BertConfig: hidden_dropout_prob must be in \[0, 1\], received 1\.5"),
    ("bert-eps", BertConfig, dict(layer_norm_eps=-1e-12), ValueError,
     r"BertConfig: layer_norm_eps must be in \(0, inf\)"),
    ("bert-act", BertConfig, dict(hidden_act="swish"), ValueError,
     r"BertConfig: hidden_act must be one of 'gelu'.*received 'swish'"),
    ("bert-pad-id", BertConfig, dict(pad_token_id=50), ValueError,
     r"BertConfig: pad_token_id must be in \[0, 50\) \(vocab_size\), received 50"),
    ("bert-bool-size", BertConfig, dict(intermediate_size=True), TypeError,
     r"BertConfig: intermediate_size must be an integer, received True"),
    ("gpt-heads-not-dividing", GPTConfig, dict(n_head=3), ValueError,
     r"GPTConfig: n_embd \(8\) must be divisible by n_head \(3\)"),
    ("gpt-heads-0", GPTConfig, dict(n_head=0), ValueError,
     r"GPTConfig: n_head must be a positive integer, received 0"),
    ("gpt-layers-float", GPTConfig, dict(n_layer=1.5), TypeError,
     r"GPTConfig: n_layer must be an integer, received 1\.5 \(float\)"),
    ("gpt-positions-negative", GPTConfig, dict(n_positions=-1), ValueError,
     r"GPTConfig: n_positions must be a positive integer, received -1"),
    ("gpt-dropout-str", GPTConfig, dict(attn_pdrop="0.1"), TypeError,
     r"GPTConfig: attn_pdrop must be a number, received '0\.1' \(str\)"),
    ("gpt-eps-0", GPTConfig, dict(layer_norm_epsilon=0.0), ValueError,
     r"GPTConfig: layer_norm_epsilon must be in \(0, inf\), received 0\.0"),
]
# fmt: on


@pytest.mark.parametrize(
    "cls, change, error, match", [pytest.param(*r[1:], id=r[0]) for r in CONFIGS]
)
def test_bad_config_fails_when_made(cls, change, error, match):
    base = TINY_BERT if cls is BertConfig else TINY_GPT
    with pytest.raises(error, match=match):
        cls(**{**base, **change})


def test_config_changed_after_creation_fails_when_model_is_built():
    cfg = GPTConfig(**TINY_GPT)
    cfg.n_head = 3  # a dataclass field changed later: checked again by the model
    with pytest.raises(ValueError, match=r"GPTConfig: n_embd \(8\) must be divisible by n_head"):
        GPT(cfg)
    cfg = BertConfig(**TINY_BERT)
    cfg.num_attention_heads = 3
    with pytest.raises(ValueError, match=r"BertConfig: hidden_size \(16\) must be divisible"):
        BERT(cfg)
    with pytest.raises(TypeError, match=r"GPT: expected a GPTConfig, received dict"):
        GPT(dict(TINY_GPT))


def test_transformers_rejects_the_same_head_counts():
    transformers = pytest.importorskip("transformers")
    with pytest.raises(ValueError):
        transformers.BertModel(transformers.BertConfig(hidden_size=16, num_attention_heads=5))
    with pytest.raises(ValueError):
        transformers.GPT2Model(transformers.GPT2Config(n_embd=8, n_head=3, n_layer=1))


def test_bad_config_file_values_come_out_as_a_config_error():
    with pytest.raises(ValueError, match=r"GPTConfig: n_embd \(8\) must be divisible by n_head"):
        GPTConfig.from_dict({"model_type": "gpt2", **TINY_GPT, "n_head": 3})
    with pytest.raises(ValueError, match=r"BertConfig: num_labels must be a positive integer"):
        BertConfig.from_dict({"model_type": "bert", **TINY_BERT, "id2label": {}})


# fmt: off
BERT_INPUTS = [
    ("float-ids", lambda: np.array([[1.0, 2.7]]), {}, TypeError,
     r"BERT: expected integer input_ids, received dtype float64"),
    ("float-tensor-ids", lambda: zg.tensor([[1.0, 2.0]]), {}, TypeError,
     r"BERT: expected integer input_ids, received dtype float32"),
    ("zero-length", lambda: np.zeros((2, 0), np.int64), {}, ValueError,
     r"BERT: expected at least one token per sequence, received input_ids of shape \(2, 0\)"),
    ("empty-list", lambda: [[]], {}, ValueError,
     r"BERT: expected at least one token per sequence"),
    ("too-long", lambda: np.ones((1, 21), np.int64), {}, ValueError,
     r"BERT: sequence of 21 tokens is longer than max_position_embeddings=20"),
    ("id-too-large", lambda: np.array([[1, 50]]), {}, ValueError,
     r"BERT: input_ids: token indices must be in \[0, 50\) \(vocab_size\), received min 1 max "
     r"50"),
    ("id-negative", lambda: np.array([[-1, 3]]), {}, ValueError,
     r"BERT: input_ids: token indices must be in \[0, 50\).*received min -1"),
    ("3-d-ids", lambda: np.ones((1, 2, 3), np.int64), {}, ValueError,
     r"BERT: expected input_ids of shape \(B, T\), received \(1, 2, 3\)"),
    ("float-token-types", lambda: np.ones((1, 3), np.int64),
     dict(token_type_ids=np.ones((1, 3))), TypeError,
     r"BERT: expected integer token_type_ids, received dtype float64"),
    ("token-type-range", lambda: np.ones((1, 3), np.int64),
     dict(token_type_ids=np.full((1, 3), 2)), ValueError,
     r"BERT: token_type_ids must be in \[0, 2\) \(type_vocab_size\), received min 2 max 2"),
]
# fmt: on


@pytest.mark.parametrize(
    "ids, kwargs, error, match", [pytest.param(*r[1:], id=r[0]) for r in BERT_INPUTS]
)
def test_bad_bert_inputs(bert, ids, kwargs, error, match):
    with pytest.raises(error, match=match):
        bert(ids(), **kwargs)


def test_bert_classifier_labels_and_num_labels():
    cfg = BertConfig(**TINY_BERT, num_labels=3)
    with pytest.raises(
        ValueError, match=r"BertForSequenceClassification: num_labels must be a positive integer"
    ):
        BertForSequenceClassification(cfg, num_labels=-2)
    model = BertForSequenceClassification(cfg).eval()
    ids = np.ones((2, 4), np.int64)
    with pytest.raises(
        TypeError, match=r"BertForSequenceClassification: expected integer labels, received dtype "
    ):
        model(ids, labels=np.array([0.0, 1.6]))  # would be truncated to [0, 1] silently
    with pytest.raises(ValueError, match=r"cross_entropy: class indices must be in \[0, 3\)"):
        model(ids, labels=np.array([0, 3]))
    loss, logits = model(ids, labels=np.array([0, 2]))  # the valid case still runs
    assert logits.shape == (2, 3) and np.isfinite(loss.item())


# fmt: off
GPT_INPUTS = [
    ("float-ids", lambda: np.array([[1.0, 2.5]]), {}, TypeError,
     r"GPT: expected integer input_ids, received dtype float64"),
    ("zero-length", lambda: np.zeros((1, 0), np.int64), {}, ValueError,
     r"GPT: expected at least one token per sequence, received input_ids of shape \(1, 0\)"),
    ("1-d-ids", lambda: np.array([1, 2]), {}, ValueError,
     r"GPT: expected input_ids of shape \(B, T\), received \(2,\)"),
    ("too-long", lambda: np.ones((1, 9), np.int64), {}, ValueError,
     r"GPT: 9 tokens exceed the model's n_positions=8"),
    ("id-too-large", lambda: np.array([[3, 20]]), {}, ValueError,
     r"GPT: input_ids: token indices must be in \[0, 20\) \(vocab_size\), received min 3 max 20"),
    ("float-targets", lambda: np.array([[1, 2]]), dict(targets=np.array([[2.0, 3.0]])),
     TypeError, r"GPT: expected integer targets, received dtype float64"),
    ("targets-shape", lambda: np.array([[1, 2]]), dict(targets=np.array([[2, 3, 4]])),
     ValueError, r"GPT: expected targets of the input_ids' shape \(1, 2\), received \(1, 3\)"),
]
# fmt: on


@pytest.mark.parametrize(
    "ids, kwargs, error, match", [pytest.param(*r[1:], id=r[0]) for r in GPT_INPUTS]
)
def test_bad_gpt_inputs(gpt, ids, kwargs, error, match):
    with pytest.raises(error, match=match):
        gpt(ids(), **kwargs)


PROMPT = np.array([[1, 2, 3]])
# fmt: off
GENERATE = [
    ("empty-prompt", dict(input_ids=np.zeros((1, 0), np.int64)), ValueError,
     r"generate: expected a non-empty prompt \(at least one token\), received input_ids of "
     r"shape \(1, 0\)"),
    ("empty-list-prompt", dict(input_ids=[]), ValueError, r"generate: expected a non-empty prompt"),
    ("3-d-prompt", dict(input_ids=np.ones((1, 2, 3), np.int64)), ValueError,
     r"generate: expected input_ids of shape \(T,\) or \(B, T\), received shape \(1, 2, 3\)"),
    ("float-prompt", dict(input_ids=np.array([1.5, 2.0])), TypeError,
     r"generate: expected integer input_ids, received dtype float64"),
    ("max-new-tokens-negative", dict(max_new_tokens=-1), ValueError,
     r"generate: max_new_tokens must be an integer >= 0, received -1"),
    ("max-new-tokens-float", dict(max_new_tokens=2.0), TypeError,
     r"generate: max_new_tokens must be an integer, received 2\.0 \(float\)"),
    ("too-many-new-tokens", dict(max_new_tokens=6), ValueError,
     r"generate: a prompt of 3 tokens plus max_new_tokens=6 exceeds the model's n_positions=8"),
    ("temperature-0-sampling", dict(do_sample=True, temperature=0.0), ValueError,
     r"generate: temperature must be in \(0, inf\), received 0\.0"),
    ("temperature-negative-sampling", dict(do_sample=True, temperature=-1), ValueError,
     r"generate: temperature must be in \(0, inf\), received -1\.0"),
    ("temperature-str", dict(temperature="hot"), TypeError,
     r"generate: temperature must be a number, received 'hot' \(str\)"),
    ("top-p-0", dict(do_sample=True, top_p=0.0), ValueError,
     r"generate: top_p must be in \(0, 1\], received 0\.0"),
    ("top-p-above-1", dict(do_sample=True, top_p=1.5), ValueError,
     r"generate: top_p must be in \(0, 1\], received 1\.5"),
    ("top-k-negative", dict(do_sample=True, top_k=-1), ValueError,
     r"generate: top_k must be an integer >= 0, received -1"),
    ("top-k-float", dict(do_sample=True, top_k=2.5), TypeError,
     r"generate: top_k must be an integer, received 2\.5 \(float\)"),
    ("do-sample-str", dict(do_sample="yes"), TypeError,
     r"generate: do_sample must be True or False, received 'yes'"),
    ("seed-float", dict(do_sample=True, seed=1.5), TypeError,
     r"generate: seed must be an integer, received 1\.5"),
    ("eos-negative", dict(eos_token_id=-1), ValueError,
     r"generate: eos_token_id must be an integer >= 0, received -1"),
    ("prompt-id-out-of-vocab", dict(input_ids=np.array([[1, 25]])), ValueError,
     r"GPT: input_ids: token indices must be in \[0, 20\)"),
]
# fmt: on


@pytest.mark.parametrize("change, error, match", [pytest.param(*r[1:], id=r[0]) for r in GENERATE])
def test_bad_generate_arguments(gpt, change, error, match):
    args = {"input_ids": PROMPT, "max_new_tokens": 2, **change}
    with pytest.raises(error, match=match):
        generate(gpt, **args)


def test_generate_valid_edges(gpt):
    assert generate(gpt, PROMPT, 0).shape == (1, 3)  # no new tokens: the prompt back
    assert generate(gpt, [1, 2], 2).shape == (1, 4)  # a 1-D prompt is one sequence
    out = generate(gpt, PROMPT, 5, do_sample=True, top_p=1.0, top_k=0, seed=0)
    assert out.shape == (1, 8)  # exactly n_positions tokens
    assert generate(gpt, PROMPT, 1, temperature=0.0).shape == (1, 4)  # greedy ignores temperature
