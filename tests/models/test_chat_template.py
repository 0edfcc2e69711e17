"""Chat templates: rendering and token ids equal to transformers' apply_chat_template for templates
in the style of the Llama 3, Qwen2 and Mistral families; template files of a model directory; errors.
"""

import json
import sys

import numpy as np
import pytest

from tests.models.chat_fixtures import (
    CONVERSATIONS,
    PLAIN,
    QWEN2,
    TEMPLATES,
    TOKENS,
    TOOLS,
    hf_tokenizer,
    make_tokenizer,
)
from zerograd.io import FileFormatError
from zerograd.models import chat
from zerograd.models.chat import ChatTemplate, apply_chat_template, load_tokenizer_config

pytest.importorskip("jinja2")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tok():
    return make_tokenizer()


def conversations_for(family):
    out = []
    for conv in CONVERSATIONS:
        if family == "mistral" and conv[-1]["role"] == "user" and len(conv) > 3:
            conv = conv[:-1]  # any alternating conversation; the last one ends on a user turn
        out.append(conv)
    out.append(CONVERSATIONS[0][:2])  # ends on the user's turn: the generation prompt case
    return out


@pytest.mark.parametrize("family", sorted(TEMPLATES))
@pytest.mark.parametrize("gen", [False, True])
def test_rendering_and_ids_equal_transformers(tok, family, gen):
    hf = hf_tokenizer(tok, TEMPLATES[family], family)
    ours = ChatTemplate(TEMPLATES[family], TOKENS[family])
    extra = {"date_string": "26 Jul 2024"} if family == "llama3" else {}
    for conv in conversations_for(family):
        expected = hf.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen, **extra)
        text = apply_chat_template(conv, ours, add_generation_prompt=gen, **extra)
        assert text == expected
        ids = apply_chat_template(
            conv, ours, add_generation_prompt=gen, tokenize=True, tokenizer=tok, **extra
        )
        hf_ids = hf.apply_chat_template(
            conv, tokenize=True, add_generation_prompt=gen, return_dict=False, **extra
        )
        assert ids.dtype == np.int64
        assert ids.tolist() == list(hf_ids)
    if family == "llama3":  # no date given: both use strftime_now (today)
        conv = CONVERSATIONS[1]
        assert apply_chat_template(conv, ours) == hf.apply_chat_template(conv, tokenize=False)


def test_tools_with_tojson_and_plain_whitespace_control(tok):
    hf = hf_tokenizer(tok, QWEN2, "qwen2")
    conv = CONVERSATIONS[0][1:3]
    expected = hf.apply_chat_template(conv, tools=TOOLS, tokenize=False, add_generation_prompt=True)
    got = apply_chat_template(conv, ChatTemplate(QWEN2), tools=TOOLS, add_generation_prompt=True)
    assert got == expected
    assert '"description": "Weather <today> & \'tomorrow\' in a city"' in got  # not HTML-escaped
    hf_plain = hf_tokenizer(tok, PLAIN, "mistral")
    for gen in (False, True):
        for conv in CONVERSATIONS:
            want = hf_plain.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen)
            assert apply_chat_template(conv, ChatTemplate(PLAIN, TOKENS["mistral"]), gen) == want


def test_raise_exception_in_template(tok):
    bad = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    hf = hf_tokenizer(tok, TEMPLATES["mistral"], "mistral")
    with pytest.raises(Exception, match="roles must alternate"):
        hf.apply_chat_template(bad, tokenize=False)
    with pytest.raises(
        ValueError,
        match=r"apply_chat_template: the chat template raised an error: Conversation roles must "
        r"alternate user/assistant",
    ):
        apply_chat_template(bad, TEMPLATES["mistral"])
    with pytest.raises(ValueError, match="Only user and assistant roles are supported"):
        apply_chat_template(bad[:1] + [{"role": "tool", "content": "x"}], TEMPLATES["mistral"])


def test_model_directory_files(tok, tmp_path):
    # a directory written by transformers itself (chat_template.jinja, AddedToken specials)
    hf = hf_tokenizer(tok, TEMPLATES["llama3"], "llama3")
    hf.save_pretrained(tmp_path / "saved")
    cfg = load_tokenizer_config(tmp_path / "saved")
    assert cfg.special_tokens["bos_token"] == "<|begin_of_text|>"
    assert cfg.chat_template == TEMPLATES["llama3"]
    back = transformers.AutoTokenizer.from_pretrained(tmp_path / "saved")
    conv = CONVERSATIONS[0]
    assert apply_chat_template(
        conv, tmp_path / "saved", add_generation_prompt=True, date_string="1 Jan 2025"
    ) == back.apply_chat_template(
        conv, tokenize=False, add_generation_prompt=True, date_string="1 Jan 2025"
    )
    # the older form: the template (and AddedToken dicts) in tokenizer_config.json
    old = tmp_path / "old"
    old.mkdir()
    tok.save(str(old / "tokenizer.json"))
    added = {"content": "<s>", "lstrip": False, "normalized": False, "rstrip": False,
             "single_word": False, "special": True, "__type": "AddedToken"}  # fmt: skip
    (old / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": added, "eos_token": "</s>",
        "chat_template": TEMPLATES["mistral"],
    }))  # fmt: skip
    cfg = load_tokenizer_config(old / "tokenizer_config.json")
    assert cfg.special_tokens == {"bos_token": "<s>", "eos_token": "</s>"}
    back = transformers.AutoTokenizer.from_pretrained(old)
    for conv in conversations_for("mistral"):
        assert apply_chat_template(conv, str(old)) == back.apply_chat_template(conv, tokenize=False)
    # a list of named templates: 'default', and 'tool_use' when tools are passed
    named = tmp_path / "named"
    named.mkdir()
    tok.save(str(named / "tokenizer.json"))
    (named / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|im_end|>",
        "chat_template": [{"name": "default", "template": TEMPLATES["mistral"]},
                          {"name": "tool_use", "template": QWEN2}],
    }))  # fmt: skip
    back = transformers.AutoTokenizer.from_pretrained(named)
    t = ChatTemplate.from_pretrained(named)
    conv = CONVERSATIONS[1]
    assert t.render(conv) == back.apply_chat_template(conv, tokenize=False)
    assert t.render(conv, tools=TOOLS) == back.apply_chat_template(
        conv, tools=TOOLS, tokenize=False
    )
    assert ChatTemplate.from_pretrained(named, name="tool_use").render(conv) == (
        back.apply_chat_template(conv, chat_template="tool_use", tokenize=False)
    )
    # chat_template.jinja wins over the config's entry, additional_chat_templates/ adds names
    (named / "chat_template.jinja").write_text(PLAIN)
    (named / "additional_chat_templates").mkdir()
    (named / "additional_chat_templates" / "tool_use.jinja").write_text(QWEN2)
    cfg = load_tokenizer_config(named)
    assert cfg.chat_template == {"default": PLAIN, "tool_use": QWEN2}
    back = transformers.AutoTokenizer.from_pretrained(named)
    assert ChatTemplate.from_pretrained(named).render(conv) == back.apply_chat_template(
        conv, tokenize=False
    )


# fmt: off
BAD_MESSAGES = [
    ([{"content": "hi"}], ValueError, r"apply_chat_template: message 0 needs a string 'role', received keys \['content'\]"),
    ([{"role": "user", "content": "a"}, {"role": "user"}], ValueError,
     r"apply_chat_template: message 1 \(role 'user'\) needs a 'content', received keys \['role'\]"),
    ([{"role": 3, "content": "a"}], ValueError, r"message 0 needs a string 'role'"),
    (["hello"], TypeError, r"apply_chat_template: message 0 must be a dict, received str"),
    ("hello", TypeError, r"apply_chat_template: messages must be a list of .* received str"),
    ([{"role": "user", "content": object()}], TypeError,
     r"apply_chat_template: message 0\['content'\] must hold only str, numbers"),
]
# fmt: on


@pytest.mark.parametrize("messages, error, match", BAD_MESSAGES)
def test_bad_messages(messages, error, match):
    with pytest.raises(error, match=match):
        apply_chat_template(messages, TEMPLATES["qwen2"])


def test_special_tokens_map_fills_what_the_config_lacks(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"bos_token": "<s>", "chat_template": "{{ bos_token }}{{ eos_token }}"})
    )
    (tmp_path / "special_tokens_map.json").write_text(
        json.dumps({"bos_token": "<other>", "eos_token": {"content": "</s>", "lstrip": False}})
    )
    cfg = load_tokenizer_config(tmp_path)
    assert cfg.special_tokens == {"bos_token": "<s>", "eos_token": "</s>"}
    assert apply_chat_template([{"role": "user", "content": "x"}], tmp_path) == "<s></s>"


def test_template_errors(tmp_path, tok):
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>"}))
    with pytest.raises(ValueError, match=r"ChatTemplate\.from_pretrained: .* has no chat template"):
        ChatTemplate.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="load_tokenizer_config: no directory or file"):
        load_tokenizer_config(tmp_path / "missing")
    (tmp_path / "tokenizer_config.json").write_text("{oops")
    with pytest.raises(FileFormatError, match=r"tokenizer_config\.json'.*not valid JSON"):
        load_tokenizer_config(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": 5}))
    with pytest.raises(FileFormatError, match=r"chat_template must be a string or a list of"):
        load_tokenizer_config(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"bos_token": 7}))
    with pytest.raises(FileFormatError, match=r"bos_token must be a string or an AddedToken dict"):
        load_tokenizer_config(tmp_path)
    with pytest.raises(ValueError, match=r"ChatTemplate: the template does not parse: .*line 1"):
        ChatTemplate("{% for m in messages %}").render([{"role": "user", "content": "x"}])
    with pytest.raises(ValueError, match=r"several named templates and none is 'default'"):
        ChatTemplate({"a": "x", "b": "y"})
    with pytest.raises(ValueError, match=r"no template named 'c'; the files have \['a', 'b'\]"):
        ChatTemplate({"a": "x", "b": "y"}, name="c")
    with pytest.raises(TypeError, match="ChatTemplate: template must be a Jinja string"):
        ChatTemplate(3)
    with pytest.raises(ValueError, match="apply_chat_template: no template given"):
        apply_chat_template([{"role": "user", "content": "x"}])
    with pytest.raises(ValueError, match="apply_chat_template: tokenize=True needs a tokenizer"):
        apply_chat_template([{"role": "user", "content": "x"}], PLAIN, tokenize=True)
    with pytest.raises(TypeError, match="apply_chat_template: tokenizer must be a zerograd"):
        apply_chat_template([{"role": "user", "content": "x"}], PLAIN, tokenize=True, tokenizer=1)


def test_sandbox_blocks_python_internals():
    msgs = [{"role": "user", "content": "x"}]
    with pytest.raises(ValueError, match="chat template raised an error: .*unsafe"):
        apply_chat_template(msgs, "{{ messages.__class__.__mro__ }}")
    with pytest.raises(ValueError, match="namespace attributes may not start with '_'"):
        apply_chat_template(msgs, "{% set ns = namespace(_x=1) %}")


def test_tokenizer_settings_are_restored(tok):
    from zerograd.data import Tokenizer

    inner = make_tokenizer()
    inner.enable_truncation(4)
    wrapped = Tokenizer(inner)
    inner.enable_truncation(4)
    ids = apply_chat_template(
        CONVERSATIONS[0], TEMPLATES["qwen2"], tokenize=True, tokenizer=wrapped
    )
    assert len(ids) > 4  # the whole conversation, not cut to the tokenizer's own limit
    assert inner.truncation["max_length"] == 4


def test_missing_jinja2_is_a_clear_import_error(monkeypatch):
    chat._compile.cache_clear()
    monkeypatch.setitem(sys.modules, "jinja2", None)
    with pytest.raises(ImportError, match=r"chat templates need jinja2 .*pip install"):
        apply_chat_template([{"role": "user", "content": "x"}], "{{ 'a' }}")
    monkeypatch.undo()
    chat._compile.cache_clear()
