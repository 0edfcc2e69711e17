"""Chat templates written for the tests in the Jinja dialect of the Llama 3, Qwen2 (ChatML) and
Mistral ([INST]) families, conversations, and a tiny byte-level BPE tokenizer that knows their
special tokens. The assistant replies carry ``{% generation %}`` markers so that transformers'
``return_assistant_tokens_mask`` gives an independent oracle for the SFT label masks."""

import pytest

LLAMA3 = """{{- bos_token }}
{%- if not date_string is defined %}
    {%- set date_string = strftime_now("%d %b %Y") %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_text = messages[0]['content'] | trim %}
    {%- set turns = messages[1:] %}
{%- else %}
    {%- set system_text = "" %}
    {%- set turns = messages %}
{%- endif %}
{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}
{{- 'Today: ' + date_string + '\\n\\n' }}
{{- system_text + '<|eot_id|>' }}
{%- for message in turns %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}
    {%- if message['role'] == 'assistant' %}
        {%- generation %}
        {{- message['content'] | trim + '<|eot_id|>' }}
        {%- endgeneration %}
    {%- else %}
        {{- message['content'] | trim + '<|eot_id|>' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

QWEN2 = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are a careful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are a careful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if message.role == 'system' and loop.first %}
        {%- continue %}
    {%- endif %}
    {%- if message.role == 'assistant' %}
        {{- '<|im_start|>assistant\\n' }}
        {%- generation %}
        {{- message.content + '<|im_end|>\\n' }}
        {%- endgeneration %}
    {%- else %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

MISTRAL = """{%- if messages[0]['role'] == 'system' %}
    {%- set preamble = messages[0]['content'] + '\\n\\n' %}
    {%- set turns = messages[1:] %}
{%- else %}
    {%- set preamble = '' %}
    {%- set turns = messages %}
{%- endif %}
{{- bos_token }}
{%- for message in turns %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.first %}
            {{- '[INST] ' + preamble + message['content'] + ' [/INST]' }}
        {%- else %}
            {{- '[INST] ' + message['content'] + ' [/INST]' }}
        {%- endif %}
    {%- elif message['role'] == 'assistant' %}
        {%- generation %}
        {{- ' ' + message['content'] + eos_token }}
        {%- endgeneration %}
    {%- else %}
        {{- raise_exception('Only user and assistant roles are supported!') }}
    {%- endif %}
{%- endfor %}
"""

# no whitespace control in the tags: trim_blocks and lstrip_blocks decide the output; a namespace
PLAIN = """{% set ns = namespace(turns=0) %}
{% for m in messages %}
    {% set ns.turns = ns.turns + 1 %}
    <{{ m.role }}> {{ m.content }}
    {% if m.role == 'assistant' %}
{{ eos_token }}
    {% endif %}
{% endfor %}
{% if add_generation_prompt %}
    <assistant>
{% endif %}
turns={{ ns.turns }}
"""

TEMPLATES = {"llama3": LLAMA3, "qwen2": QWEN2, "mistral": MISTRAL}
SPECIAL = [
    "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
    "<|im_start|>", "<|im_end|>", "<s>", "</s>", "<pad>",
]  # fmt: skip
TOKENS = {
    "llama3": dict(bos_token="<|begin_of_text|>", eos_token="<|eot_id|>"),
    "qwen2": dict(eos_token="<|im_end|>", pad_token="<pad>"),
    "mistral": dict(bos_token="<s>", eos_token="</s>"),
}

CONVERSATIONS = [
    [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is the moon?"},
        {"role": "assistant", "content": "A rock that orbits the earth."},
        {"role": "user", "content": "And the sun?"},
        {"role": "assistant", "content": "A star, 8 light minutes away."},
    ],
    [
        {"role": "user", "content": "床前明月光 — next line?"},
        {"role": "assistant", "content": "疑是地上霜。"},
    ],
    [
        {"role": "user", "content": '  spaced <tags> & "quotes"  '},
        {"role": "assistant", "content": "ok: {'a': 1}\n\nsecond paragraph"},
        {"role": "user", "content": "thanks"},
        {"role": "assistant", "content": "any time"},
        {"role": "user", "content": "bye"},
    ],
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "Weather <today> & 'tomorrow' in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]

CORPUS = [
    "the moon is a rock that orbits the earth and the sun is a star",
    "answer briefly and carefully, you are a careful assistant",
    "床前明月光 疑是地上霜 举头望明月 低头思故乡",
    "spaced tags quotes second paragraph thanks any time bye weather today tomorrow city",
] * 20


def make_tokenizer():
    """A byte-level BPE tokenizer (the `tokenizers` package) with the families' special tokens."""
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=500,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    return tok


def hf_tokenizer(tok, template, family):
    transformers = pytest.importorskip("transformers")
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, chat_template=template, **TOKENS[family]
    )
