"""Chat templates: the Jinja ``chat_template`` of a Hugging Face tokenizer, rendered as transformers
renders it (a sandboxed environment with ``trim_blocks``/``lstrip_blocks``, ``raise_exception``,
``strftime_now``, a ``tojson`` that does not escape HTML, the special tokens as variables).

Templates are read from a model directory: ``chat_template.jinja`` and
``additional_chat_templates/*.jinja`` (what newer transformers write) take priority over the
``chat_template`` entry of ``tokenizer_config.json`` (a string, or a list of ``{"name", "template"}``).

Example:
    >>> tmpl = ChatTemplate.from_pretrained('model_dir')
    >>> tmpl.render([{'role': 'user', 'content': 'Hi'}], add_generation_prompt=True)
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from functools import lru_cache

import numpy as np

from zerograd.models.tokenizer_config import (  # noqa: F401 - re-exported
    SPECIAL_TOKENS,
    TokenizerConfig,
    load_tokenizer_config,
    token_text,
)

_REASONING = ("reasoning_content", "thinking", "reasoning")  # names a message's reasoning goes by


def _jinja():
    try:
        import jinja2
        import jinja2.ext
        import jinja2.sandbox
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "chat templates need jinja2 (the template language of tokenizer_config.json): "
            "pip install 'zerograd[extras]' or pip install jinja2"
        ) from None
    version = tuple(int(p) for p in jinja2.__version__.split(".")[:3] if p.isdigit())
    if version < (3, 1, 6):  # older versions have known sandbox escapes (templates are untrusted)
        raise ImportError(
            f"chat templates need jinja2 >= 3.1.6, this is {jinja2.__version__}: "
            "pip install -U jinja2"
        )
    return jinja2


@lru_cache(maxsize=32)
def _compile(source: str):
    """The template compiled in a sandbox configured as transformers configures its own."""
    jinja2 = _jinja()

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        # Jinja's own tojson escapes <, >, & and ' for HTML; chat templates want the plain JSON
        return json.dumps(
            x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
        )

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    class Namespace(jinja2.utils.Namespace):
        """``namespace()`` that refuses attributes starting with '_' (no way to CPython internals)."""

        def __init__(*args, **kwargs):
            self, rest = args[0], args[1:]
            attrs = dict(*rest, **kwargs)
            for key in attrs:
                Namespace._check(key)
            jinja2.utils.Namespace.__init__(self, attrs)

        def __setitem__(self, key, value):
            Namespace._check(key)
            jinja2.utils.Namespace.__setitem__(self, key, value)

        @staticmethod
        def _check(key):
            if isinstance(key, str) and key.startswith("_"):
                raise jinja2.exceptions.SecurityError(
                    f"chat template: namespace attributes may not start with '_', received {key!r}"
                )

    class DictMaker:
        """``dict(...)`` for templates, without the type object itself."""

        def __call__(self, *args, **kwargs):
            return dict(*args, **kwargs)

        def fromkeys(self, *args, **kwargs):
            return dict.fromkeys(*args, **kwargs)

    class Generation(jinja2.ext.Extension):
        """``{% generation %}...{% endgeneration %}`` (assistant-mask markers): renders its body."""

        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            call = self.call_method("_body")
            return jinja2.nodes.CallBlock(call, [], [], body).set_lineno(lineno)

        def _body(self, caller):
            return caller()

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[Generation, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals.update(
        raise_exception=raise_exception,
        strftime_now=strftime_now,
        dict=DictMaker(),
        namespace=Namespace,
    )
    try:
        return env.from_string(source)
    except jinja2.exceptions.TemplateSyntaxError as e:
        raise ValueError(
            f"ChatTemplate: the template does not parse: {e} (line {e.lineno})"
        ) from None


def _plain(value, where: str):
    """``value`` rebuilt from plain JSON types (what a sandboxed template may safely see)."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, dict):
        return {_plain(k, where): _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise TypeError(
        f"apply_chat_template: {where} must hold only str, numbers, bool, None, lists and dicts, "
        f"received {type(value).__name__}"
    )


def check_messages(messages, owner: str = "apply_chat_template") -> list[dict]:
    """Messages validated (a list of dicts, each with a string 'role' and a 'content', or an
    assistant's 'tool_calls') and copied as plain data; keys whose value is None are dropped."""
    if isinstance(messages, (str, dict)) or not isinstance(messages, (list, tuple)):
        raise TypeError(
            f"{owner}: messages must be a list of {{'role': ..., 'content': ...}} dicts, "
            f"received {type(messages).__name__}"
        )
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise TypeError(f"{owner}: message {i} must be a dict, received {type(m).__name__}")
        m = {k: v for k, v in m.items() if v is not None}
        if not isinstance(m.get("role"), str):
            raise ValueError(
                f"{owner}: message {i} needs a string 'role', received keys {sorted(m)}"
            )
        if "content" not in m and "tool_calls" not in m:
            raise ValueError(
                f"{owner}: message {i} (role {m['role']!r}) needs a 'content', received keys "
                f"{sorted(m)}"
            )
        m = _plain(m, f"message {i}")
        reasoning = next((m[k] for k in _REASONING if m.get(k) is not None), None)
        if reasoning is not None:  # as transformers: templates read either name
            m = {"thinking": reasoning, **m, "reasoning_content": reasoning}
        out.append(m)
    return out


class ChatTemplate:
    """A compiled chat template plus the special tokens it sees as variables.

    Args:
        template: the Jinja source, or a dict of named sources (``'default'`` used unless
            ``name`` says otherwise, ``'tool_use'`` when tools are passed and it exists).
        special_tokens: {'bos_token': '<s>', ...}; each becomes a template variable.
        name: which of several named templates to use.

    Example:
        >>> t = ChatTemplate("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\\n{% endfor %}")
        >>> t.render([{'role': 'user', 'content': 'hi'}])
        'user: hi\\n'
    """

    def __init__(self, template, special_tokens: dict | None = None, name: str | None = None):
        self.templates = template
        if isinstance(template, dict):
            if not template or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in template.items()
            ):
                raise TypeError(
                    "ChatTemplate: a dict of templates must map names to template strings, "
                    f"received {template!r:.80}"
                )
            if name is not None and name not in template:
                raise ValueError(
                    f"ChatTemplate: no template named {name!r}; the files have {sorted(template)}"
                )
        elif not isinstance(template, str):
            raise TypeError(
                "ChatTemplate: template must be a Jinja string or a dict of named templates, "
                f"received {type(template).__name__}"
            )
        elif name is not None:
            raise ValueError(f"ChatTemplate: name={name!r} needs a dict of named templates")
        self.name = name
        self.special_tokens = dict(special_tokens or {})
        for key, value in self.special_tokens.items():
            self.special_tokens[key] = token_text("ChatTemplate", key, value)
        self.source(tools=None)  # a dict without a usable default fails here, not at render

    @classmethod
    def from_pretrained(cls, path, name: str | None = None) -> ChatTemplate:
        """The template of a model directory (see ``load_tokenizer_config``).

        Raises:
            ValueError: the files hold no chat template.
        """
        cfg = load_tokenizer_config(path)
        if cfg.chat_template is None:
            raise ValueError(
                f"ChatTemplate.from_pretrained: {cfg.path!r} has no chat template (no "
                "chat_template.jinja and no 'chat_template' in tokenizer_config.json)"
            )
        return cls(cfg.chat_template, cfg.special_tokens, name)

    def source(self, tools=None) -> str:
        """The Jinja source used (chosen among named templates as transformers chooses)."""
        t = self.templates
        if isinstance(t, str):
            return t
        if self.name is not None:
            return t[self.name]
        if tools is not None and "tool_use" in t:
            return t["tool_use"]
        if "default" in t:
            return t["default"]
        raise ValueError(
            "ChatTemplate: several named templates and none is 'default'; pass name= one of "
            f"{sorted(t)}"
        )

    def render(
        self,
        messages,
        add_generation_prompt: bool = False,
        tools=None,
        documents=None,
        **extra,
    ) -> str:
        """The conversation as text (special tokens included as text; tokenize it without adding
        more). ``extra`` variables reach the template and override the special tokens."""
        if not isinstance(add_generation_prompt, (bool, np.bool_)):
            raise TypeError(
                "apply_chat_template: add_generation_prompt must be True or False, received "
                f"{add_generation_prompt!r}"
            )
        messages = check_messages(messages)
        compiled = _compile(self.source(tools))
        variables = {**self.special_tokens, **_plain(extra, "a template variable")}
        jinja2 = _jinja()
        try:
            return compiled.render(
                messages=messages,
                tools=_plain(tools, "tools"),
                documents=_plain(documents, "documents"),
                add_generation_prompt=bool(add_generation_prompt),
                **variables,
            )
        except jinja2.exceptions.TemplateError as e:
            raise ValueError(
                f"apply_chat_template: the chat template raised an error: {e}"
            ) from None

    def __repr__(self) -> str:
        names = sorted(self.templates) if isinstance(self.templates, dict) else None
        return f"ChatTemplate(names={names}, special_tokens={sorted(self.special_tokens)})"


def as_template(template) -> ChatTemplate:
    """A ChatTemplate from a ChatTemplate, a model directory (a path), or a Jinja string/dict."""
    if isinstance(template, ChatTemplate):
        return template
    if isinstance(template, os.PathLike) or (
        isinstance(template, str) and "{" not in template and os.path.isdir(template)
    ):
        return ChatTemplate.from_pretrained(template)
    if template is None:
        raise ValueError(
            "apply_chat_template: no template given; pass template= a ChatTemplate, a model "
            "directory or a Jinja string"
        )
    return ChatTemplate(template)


def apply_chat_template(
    messages,
    template=None,
    add_generation_prompt: bool = False,
    tokenize: bool = False,
    tokenizer=None,
    tools=None,
    documents=None,
    **extra,
):
    """Render ``messages`` with a chat template; with ``tokenize`` return the token ids.

    Args:
        messages: [{'role': 'system'|'user'|'assistant'|..., 'content': str}, ...].
        template: a ChatTemplate, a model directory, or a Jinja template string.
        add_generation_prompt: end with the header that starts the assistant's reply.
        tokenize: return int64 token ids (as transformers: no special tokens added beyond those
            the template writes) instead of the text.
        tokenizer: a ``zerograd.data.Tokenizer`` or ``tokenizers.Tokenizer`` (for ``tokenize``).
        tools, documents, extra: further template variables.

    Example:
        >>> apply_chat_template([{'role': 'user', 'content': 'Hi'}], 'model_dir',
        ...                     add_generation_prompt=True)
    """
    if not isinstance(tokenize, (bool, np.bool_)):
        raise TypeError(
            f"apply_chat_template: tokenize must be True or False, received {tokenize!r}"
        )
    if tokenize and tokenizer is None:
        raise ValueError("apply_chat_template: tokenize=True needs a tokenizer")
    text = as_template(template).render(
        messages, add_generation_prompt, tools=tools, documents=documents, **extra
    )
    if not tokenize:
        return text
    return np.array(encode_plain(tokenizer, text).ids, dtype=np.int64)


def _inner(tokenizer):
    inner = getattr(tokenizer, "inner", tokenizer)  # zerograd's wrapper keeps the package's object
    if not hasattr(inner, "encode") or not hasattr(inner, "no_truncation"):
        raise TypeError(
            "apply_chat_template: tokenizer must be a zerograd.data.Tokenizer or a "
            f"tokenizers.Tokenizer, received {type(tokenizer).__name__}"
        )
    return inner


def encode_plain(tokenizer, text: str):
    """The ``tokenizers`` Encoding of ``text``: no special tokens added, no truncation or padding
    (the tokenizer's own settings are restored afterwards)."""
    inner = _inner(tokenizer)
    trunc, pad = inner.truncation, inner.padding
    if trunc:
        inner.no_truncation()
    if pad:
        inner.no_padding()
    try:
        return inner.encode(text, add_special_tokens=False)
    finally:
        if trunc:
            inner.enable_truncation(**trunc)
        if pad:
            inner.enable_padding(**pad)
