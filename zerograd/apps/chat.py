"""``zerograd chat MODEL_DIR``: a command-line chat with a Llama-family model (a Hugging Face
directory): the chat template with the generation prompt, the reply streamed as it is generated,
stop tokens from generation_config.json and the tokenizer's eos_token, and the history kept.

User lines come from stdin until end of input or ``/exit`` (``/reset`` forgets the history);
``prompt`` answers one message and returns (for scripts).

Example:
    >>> session = ChatSession.from_pretrained('runs/sft', ChatConfig(model='runs/sft'))
    >>> session.reply('写一首关于月亮的诗')
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from zerograd.apps.sft import DTYPES, load_template, load_tokenizer
from zerograd.models.chat import ChatTemplate, encode_plain, load_tokenizer_config
from zerograd.models.generation import generate
from zerograd.models.generation_config import GenerationConfig, load_generation_config
from zerograd.models.llama import Llama
from zerograd.models.streaming import TextStreamer
from zerograd.ops import argcheck

EXIT, RESET = "/exit", "/reset"


@dataclass
class ChatConfig:
    """Options of ``zerograd chat``. ``temperature`` 0 decodes greedily, > 0 samples (so do
    ``top_k``/``top_p`` given alone); settings left None come from the directory's
    generation_config.json, and with none anywhere decoding is greedy."""

    model: str = ""
    system: str | None = None
    prompt: str | None = None
    template: str | None = None
    max_new_tokens: int = 256
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self):
        cmd = "chat"
        try:
            if not isinstance(self.model, str) or not self.model:
                raise ValueError(f"{cmd}: MODEL_DIR is required, received {self.model!r}")
            argcheck.integer(cmd, "--max-new-tokens", self.max_new_tokens, 1)
            argcheck.integer(cmd, "--seed", self.seed, 0)
            argcheck.number(cmd, "--temperature", self.temperature, 0.0, allow_none=True)
            argcheck.number(cmd, "--top-p", self.top_p, 0.0, 1.0, low_open=True, allow_none=True)
            argcheck.integer(cmd, "--top-k", self.top_k, 1, allow_none=True)
            argcheck.number(
                cmd,
                "--repetition-penalty",
                self.repetition_penalty,
                0.0,
                low_open=True,
                finite=True,
                allow_none=True,
            )
            argcheck.choice(cmd, "--dtype", self.dtype, DTYPES)
        except TypeError as e:
            raise ValueError(str(e)) from None
        if self.temperature == 0 and (self.top_k is not None or self.top_p is not None):
            raise ValueError(
                f"{cmd}: --temperature 0 decodes greedily, so --top-k/--top-p would be ignored; "
                "give a temperature > 0 to sample"
            )
        for name in ("system", "prompt", "template"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{cmd}: --{name} must be text, received {value!r}")


def stop_tokens(model_dir, tokenizer, model: Llama, gen: GenerationConfig) -> list[int]:
    """The ids that end a reply: generation_config.json's eos_token_id, the tokenizer config's
    eos_token, the model config's eos_token_id (in that order, without repeats)."""
    found = list(gen.eos_token_id or [])
    eos = load_tokenizer_config(model_dir).special_tokens.get("eos_token")
    if eos is not None and tokenizer.token_to_id(eos) is not None:
        found.append(tokenizer.token_to_id(eos))
    own = model.config.eos_token_id
    found += own if isinstance(own, list) else ([own] if own is not None else [])
    return list(dict.fromkeys(int(i) for i in found))


class ChatSession:
    """A conversation with a model: each ``reply`` renders the history plus the new message with
    the generation prompt, streams the reply to ``write`` and adds both to the history."""

    def __init__(
        self,
        model: Llama,
        tokenizer,
        template: ChatTemplate,
        config: ChatConfig,
        stops: list[int],
        generation_config: GenerationConfig | None = None,
    ):
        self.model, self.tokenizer, self.template, self.config = model, tokenizer, template, config
        self.stops, self.gen = stops, generation_config or GenerationConfig()
        self.messages: list[dict] = []
        self.turns = 0
        self.reset()

    @classmethod
    def from_pretrained(cls, path, config: ChatConfig) -> ChatSession:
        """A session with the model, tokenizer, template and stop tokens of a model directory."""
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"chat: no model directory at {str(path)!r}")
        tokenizer = load_tokenizer(path, "chat")
        template = load_template(path, config.template, "chat")
        model = Llama.from_pretrained(path, dtype=config.dtype)
        model.eval()
        gen = load_generation_config(path)
        return cls(
            model, tokenizer, template, config, stop_tokens(path, tokenizer, model, gen), gen
        )

    def reset(self) -> None:
        """Forget the conversation (the system message stays)."""
        system = self.config.system
        self.messages = [{"role": "system", "content": system}] if system else []

    def _prompt(self) -> list[int]:
        """The history rendered and tokenized; the oldest exchanges dropped while it does not leave
        room for a token of reply within the model's context."""
        limit = self.model.config.max_position_embeddings
        while True:
            text = self.template.render(self.messages, add_generation_prompt=True)
            ids = encode_plain(self.tokenizer, text).ids
            first = 1 if self.messages and self.messages[0]["role"] == "system" else 0
            if len(ids) < limit or len(self.messages) - first <= 1:
                break
            del self.messages[first : first + 2]  # the oldest user message and its reply
        if len(ids) >= limit:
            raise ValueError(
                f"chat: the message takes {len(ids)} tokens with the template, leaving no room "
                f"for a reply within the model's max_position_embeddings={limit}"
            )
        return ids

    def reply(self, text: str, write=None) -> str:
        """Answer ``text``; the reply's pieces go to ``write`` as they are generated."""
        self.messages.append({"role": "user", "content": text})
        try:
            ids = self._prompt()
        except ValueError:
            self.messages.pop()
            raise
        c = self.config
        room = self.model.config.max_position_embeddings - len(ids)
        streamer = TextStreamer(self.tokenizer, callback=write)
        if c.temperature is not None:
            sampling = c.temperature > 0
        else:  # top-k / top-p alone ask for sampling; nothing given: the generation config's
            sampling = True if c.top_k is not None or c.top_p is not None else None
        generate(
            self.model,
            [ids],
            max_new_tokens=min(c.max_new_tokens, room),
            do_sample=sampling,
            temperature=c.temperature if c.temperature else None,
            top_k=c.top_k,
            top_p=c.top_p,
            repetition_penalty=c.repetition_penalty,
            seed=c.seed + self.turns,  # reproducible, yet not the same draw every turn
            eos_token_id=self.stops or None,
            streamer=streamer,
            generation_config=self.gen,
        )
        self.turns += 1
        answer = streamer.text.strip()
        self.messages.append({"role": "assistant", "content": answer})
        return answer


def run(config: ChatConfig, stdin=None, stdout=None) -> list[str]:
    """``zerograd chat``: one reply to ``config.prompt``, or a conversation read line by line from
    ``stdin`` until its end or ``/exit``; replies are streamed to ``stdout``. Returns the replies."""
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout

    def write(piece: str) -> None:
        stdout.write(piece)
        stdout.flush()

    session = ChatSession.from_pretrained(config.model, config)
    if config.prompt is not None:
        replies = [session.reply(config.prompt, write)]
        write("\n")
        return replies
    interactive = hasattr(stdin, "isatty") and stdin.isatty()
    replies = []
    while True:
        if interactive:
            write("> ")
        line = stdin.readline()
        if not line or line.strip() == EXIT:
            break
        text = line.rstrip("\n")
        if text.strip() == RESET:
            session.reset()
            continue
        if not text.strip():
            continue
        replies.append(session.reply(text, write))
        write("\n")
    return replies
