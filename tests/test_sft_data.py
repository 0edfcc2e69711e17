"""SFT data: labels exactly on the assistant's tokens (checked against transformers'
``return_assistant_tokens_mask`` on templates with ``{% generation %}`` markers), padding, packing
that keeps every supervised token once, truncation, and errors naming the file and line."""

import json
import logging

import numpy as np
import pytest

from tests.models.chat_fixtures import (
    CONVERSATIONS,
    TEMPLATES,
    TOKENS,
    hf_tokenizer,
    make_tokenizer,
)
from zerograd.data import DataLoader
from zerograd.data.sft import IGNORE, SFTDataset, read_conversations, tokenize_conversation
from zerograd.io import FileFormatError
from zerograd.models.chat import ChatTemplate

pytest.importorskip("jinja2")
transformers = pytest.importorskip("transformers")

LLAMA_DATE = {"date_string": "26 Jul 2024"}


@pytest.fixture(scope="module")
def tok():
    return make_tokenizer()


def alternating(conv):
    """The conversation cut to end on an assistant turn (what SFT data holds)."""
    last = max(i for i, m in enumerate(conv) if m["role"] == "assistant")
    return conv[: last + 1]


def write_jsonl(path, conversations):
    path.write_text(
        "".join(json.dumps({"messages": c}, ensure_ascii=False) + "\n" for c in conversations)
    )
    return path


@pytest.mark.parametrize("family", sorted(TEMPLATES))
def test_labels_are_exactly_the_assistant_tokens(tok, family, tmp_path):
    hf = hf_tokenizer(tok, TEMPLATES[family], family)
    tmpl = ChatTemplate(TEMPLATES[family], TOKENS[family])
    extra = LLAMA_DATE if family == "llama3" else {}
    convs = [alternating(c) for c in CONVERSATIONS]
    ds = SFTDataset(write_jsonl(tmp_path / "d.jsonl", convs), tok, tmpl, template_kwargs=extra)
    assert len(ds) == len(convs)
    for conv, (ids, labels, mask) in zip(convs, (ds[i] for i in range(len(ds)))):
        out = hf.apply_chat_template(
            conv, tokenize=True, return_dict=True, return_assistant_tokens_mask=True, **extra
        )
        assert ids.tolist() == out["input_ids"]
        want = np.array(out["assistant_masks"], bool)
        assert want.sum() > 0
        np.testing.assert_array_equal(labels != IGNORE, want)
        np.testing.assert_array_equal(labels[want], ids[want])
        assert (mask == 1).all()
        # the supervised text is the replies, each with its end-of-turn token
        text = tok.decode(labels[want].tolist(), skip_special_tokens=False)
        eot = {"llama3": "<|eot_id|>", "qwen2": "<|im_end|>\n", "mistral": "</s>"}[family]
        replies = [m["content"] for m in conv if m["role"] == "assistant"]
        if family == "mistral":
            assert text == "".join(" " + r + eot for r in replies)
        else:
            assert text == "".join(r + eot for r in replies)


def test_padding_collate_and_dataloader(tok):
    convs = [alternating(c) for c in CONVERSATIONS]
    ds = SFTDataset(convs, tok, ChatTemplate(TEMPLATES["qwen2"]), pad_token_id=8)
    lengths = [len(ds[i][0]) for i in range(len(ds))]
    batch = next(iter(DataLoader(ds, batch_size=3, collate_fn=ds.collate)))
    ids, labels, mask = (batch[k].numpy() for k in ("input_ids", "labels", "attention_mask"))
    assert ids.shape == labels.shape == mask.shape == (3, max(lengths))
    assert ids.dtype == labels.dtype == mask.dtype == np.int64
    for i, n in enumerate(lengths):
        assert mask[i].tolist() == [1] * n + [0] * (max(lengths) - n)
        assert (ids[i, n:] == 8).all() and (labels[i, n:] == IGNORE).all()
        np.testing.assert_array_equal(labels[i, :n], ds[i][1])
    wide = SFTDataset(convs, tok, ChatTemplate(TEMPLATES["qwen2"]), max_length=120)
    batch = wide.collate([wide[0], wide[1]], padding="max_length")
    assert batch["input_ids"].shape == (2, 120)
    assert batch["attention_mask"].numpy().sum(1).tolist() == lengths[:2]
    with pytest.raises(
        ValueError, match="SFTDataset.collate: padding='max_length' needs max_length"
    ):
        ds.collate([ds[0]], padding="max_length")


@pytest.mark.parametrize("length", [7, 16, 50, 400])
def test_packing_keeps_every_supervised_token_once(tok, length):
    convs = [alternating(c) for c in CONVERSATIONS] * 2
    tmpl = ChatTemplate(TEMPLATES["mistral"], TOKENS["mistral"])
    plain = SFTDataset(convs, tok, tmpl)
    packed = SFTDataset(convs, tok, tmpl, max_length=length, packing=True)
    stream_ids = np.concatenate([plain[i][0] for i in range(len(plain))])
    want = np.concatenate([plain[i][1][1:] for i in range(len(plain))])  # each supervised label
    want = want[want != IGNORE]
    rows = [packed[i] for i in range(len(packed))]
    assert all(len(r[0]) == length for r in rows)
    got = np.concatenate([r[1][1:] for r in rows])  # position 0 of a row is never predicted
    np.testing.assert_array_equal(got[got != IGNORE], want)
    # the rows hold the stream in order, overlapping by one token; the last is padded
    real = [r[0][r[2] == 1] for r in rows]
    rebuilt = np.concatenate([real[0]] + [r[1:] for r in real[1:]])
    np.testing.assert_array_equal(rebuilt, stream_ids)
    assert all((r[2] == 1).all() for r in rows[:-1])
    # a conversation's first token (bos here) takes no loss: it follows another conversation
    for ids, labels, _ in rows:
        assert (labels[ids == tok.token_to_id("<s>")] == IGNORE).all()
    batch = next(iter(DataLoader(packed, batch_size=2)))  # equal rows: the default collate works
    assert batch[0].shape == (min(2, len(packed)), length)


def test_truncation(tok, caplog):
    convs = [alternating(c) for c in CONVERSATIONS]
    tmpl = ChatTemplate(TEMPLATES["qwen2"])
    lengths = [len(tokenize_conversation(tmpl, tok, c)[0]) for c in convs]
    cut = sorted(lengths)[1]
    with pytest.raises(
        ValueError,
        match=rf"SFTDataset: conversation \d has \d+ tokens, more than max_length={cut}; pass truncation=True",
    ):
        SFTDataset(convs, tok, tmpl, max_length=cut)
    ds = SFTDataset(convs, tok, tmpl, max_length=cut, truncation=True)
    assert all(len(ds[i][0]) <= cut for i in range(len(ds)))
    # a limit that leaves some conversation without any reply token drops it, with a warning
    first_reply = min(
        int(np.argmax(tokenize_conversation(tmpl, tok, c)[1] != IGNORE)) for c in convs
    )
    short = first_reply + 1
    with caplog.at_level(logging.WARNING):
        ds = SFTDataset(convs, tok, tmpl, max_length=short, truncation=True)
    assert ds.dropped == len(convs) - len(ds) > 0
    assert "were dropped" in caplog.text


# fmt: off
BAD_LINES = [
    ('{"messages": [{"role": "user", "content": "a"}]}\n\n{not json}\n', r"d\.jsonl': line 3: not valid JSON"),
    ('{"messages": []}\n', r"line 1: expected \{\"messages\": \[...\]\} with at least one message"),
    ('[1, 2]\n', r"line 1: expected .* received list"),
    ('{"msgs": []}\n', r"line 1: expected .* received \['msgs'\]"),
    ('{"messages": [{"content": "a"}]}\n', r"line 1: message 0 needs a string 'role'"),
    ('{"messages": [{"role": "user"}]}\n', r"line 1: message 0 \(role 'user'\) needs a 'content'"),
    ('\n\n', r"no conversations \(the file is empty\)"),
]
# fmt: on


@pytest.mark.parametrize("text, match", BAD_LINES)
def test_bad_jsonl_names_the_file_and_line(tmp_path, text, match):
    path = tmp_path / "d.jsonl"
    path.write_text(text)
    with pytest.raises(FileFormatError, match=match):
        read_conversations(path)


def test_dataset_errors(tok, tmp_path):
    tmpl = ChatTemplate(TEMPLATES["mistral"], TOKENS["mistral"])
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"messages": [{"role": "user", "content": "a"}]}\n' + b"\xff\xfe\n")
    with pytest.raises(FileFormatError, match=r"line 2: not UTF-8 text"):
        read_conversations(path)
    with pytest.raises(FileNotFoundError, match="read_conversations: no file at"):
        read_conversations(tmp_path / "none.jsonl")
    only_user = [{"role": "user", "content": "hi"}]
    write_jsonl(path, [alternating(CONVERSATIONS[1]), only_user])
    with pytest.raises(
        ValueError, match=r"SFTDataset: '.*d\.jsonl' line 2 has no assistant tokens"
    ):
        SFTDataset(path, tok, tmpl)
    # the template raising names the line
    write_jsonl(path, [alternating(CONVERSATIONS[1]), [only_user[0], only_user[0]]])
    with pytest.raises(
        ValueError,
        match=r"line 2: the chat template raised an error: Conversation roles must alternate",
    ):
        SFTDataset(path, tok, tmpl)
    # a template that renders a turn differently once more follow cannot be split by prefixes
    shifty = (
        "{% for m in messages %}{% if loop.last %}[{{ m.role }}]{% else %}({{ m.role }}){% endif %}"
        "{{ m.content }}{% endfor %}"
    )
    with pytest.raises(
        ValueError, match=r"conversation 0: message 1: the chat template does not render"
    ):
        SFTDataset([CONVERSATIONS[1]], tok, ChatTemplate(shifty))
    with pytest.raises(ValueError, match=r"SFTDataset: packing=True needs max_length"):
        SFTDataset([CONVERSATIONS[1]], tok, tmpl, packing=True)
    with pytest.raises(ValueError, match=r"SFTDataset: max_length must be an integer >= 2"):
        SFTDataset([CONVERSATIONS[1]], tok, tmpl, packing=True, max_length=1)
    with pytest.raises(TypeError, match=r"SFTDataset: truncation must be True or False"):
        SFTDataset([CONVERSATIONS[1]], tok, tmpl, truncation="yes")
    with pytest.raises(
        TypeError, match=r"SFTDataset: data must be a JSONL path or a non-empty list"
    ):
        SFTDataset([], tok, tmpl)
    with pytest.raises(
        ValueError, match=r"SFTDataset: conversation 1: message 0 needs a string 'role'"
    ):
        SFTDataset([CONVERSATIONS[1], [{"content": "x"}]], tok, tmpl)


def test_tokenizer_and_template_from_a_model_directory(tok, tmp_path):
    hf = hf_tokenizer(tok, TEMPLATES["qwen2"], "qwen2")
    hf.save_pretrained(tmp_path)
    conv = alternating(CONVERSATIONS[0])
    a = SFTDataset([conv], tmp_path, tmp_path)  # tokenizer.json and the template from the dir
    b = SFTDataset([conv], tok, ChatTemplate(TEMPLATES["qwen2"]))
    for x, y in zip(a[0], b[0]):
        np.testing.assert_array_equal(x, y)
    assert a.pad_token_id == tok.token_to_id("<pad>")  # tokenizer_config.json's pad_token
    assert b.pad_token_id == 0  # a bare tokenizer, a template without tokens: 0
