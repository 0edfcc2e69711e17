"""Loader fuzzing: valid small files of every format, mutated, then loaded.

Formats: a safetensors file, config.json, from_pretrained directories of a tiny GPT and a tiny
BERT classifier, a LoRA adapter file, a tokenizer.json and a CharTokenizer file. Mutations:
truncation at any offset, overwritten bytes, spliced or deleted bytes, JSON values replaced by
values of other types and sizes, keys deleted, and safetensors headers whose dtypes, shapes and
offsets lie (re-written with a consistent header length, so the header itself is checked).

The only error allowed is FileFormatError (or the load succeeds), and no load allocates more
than MEMORY_BOUND (tracemalloc peak). Examples are derandomized: the same ones run every time.
Set ZG_FUZZ_EXAMPLES for a longer, randomized search.
"""

import json
import os
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zerograd import peft
from zerograd.data.tokenizers import CharTokenizer, Tokenizer, train_bpe
from zerograd.io import (
    FileFormatError,
    load_json,
    load_safetensors,
    read_metadata,
    save_safetensors,
)
from zerograd.models import (
    BERT,
    GPT,
    BertConfig,
    BertForSequenceClassification,
    GPTConfig,
    from_pretrained,
)

MEMORY_BOUND = 16 << 20  # bytes; the files are a few KB, a lying size would need far more
# per fuzz test (6 of them, and 100 for the CharTokenizer: 1,300 in all); ZG_FUZZ_EXAMPLES=5000 runs a deeper, randomized search locally
DEEP = int(os.environ.get("ZG_FUZZ_EXAMPLES", "0"))
EXAMPLES = DEEP or 200


def fuzz(n=EXAMPLES):
    return settings(
        max_examples=DEEP or n,
        deadline=None,
        derandomize=not DEEP,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- mutations -----------------------------------------------------------------------------------
INTERESTING_INTS = [0, 1, -1, 2, 3, 7, 16, 255, 2**31, 2**32 + 3, 2**53, 2**63, 2**64 + 1, -(2**63)]
ints = st.one_of(st.sampled_from(INTERESTING_INTS), st.integers(-(2**70), 2**70))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    ints,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["F32", "I64", "BF16", "bert", "gpt2", "gelu", "BertModel", ""]),
)
json_values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=6,
)


@st.composite
def byte_mutation(draw, data: bytes, hot: int | None = None):
    """Truncate, overwrite, splice or delete; offsets anywhere, or in the first ``hot`` bytes."""
    n = len(data)
    where = st.integers(0, n - 1)
    if hot:
        where = st.one_of(st.integers(0, min(hot, n - 1)), where)
    kind = draw(st.sampled_from(["truncate", "overwrite", "splice", "delete"]))
    k = draw(where)
    if kind == "truncate":
        return data[:k]
    if kind == "overwrite":
        junk = draw(st.binary(min_size=1, max_size=16))
        return data[:k] + junk + data[k + len(junk) :]
    if kind == "splice":
        return data[:k] + draw(st.binary(min_size=1, max_size=64)) + data[k:]
    return data[:k] + data[k + draw(st.integers(1, 64)) :]


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:50]):
            yield from _paths(v, (*prefix, i))


@st.composite
def json_mutation(draw, obj):
    """A copy of ``obj`` with one value replaced, deleted, wrapped in a list or re-typed."""
    obj = json.loads(json.dumps(obj))
    path = draw(st.sampled_from(list(_paths(obj))))
    kind = draw(st.sampled_from(["replace", "replace", "delete", "wrap", "to_str"]))
    if not path:
        return draw(json_values) if kind == "replace" else [obj]
    parent = obj
    for p in path[:-1]:
        parent = parent[p]
    last = path[-1]
    if kind == "delete":
        del parent[last]
    elif kind == "wrap":
        parent[last] = [parent[last]]
    elif kind == "to_str":
        parent[last] = json.dumps(parent[last])
    else:
        parent[last] = draw(json_values)
    return obj


def json_file(obj_strategy_or_obj, raw: bytes):
    """Mutated JSON text of ``raw`` (a parsed-and-mutated document, or mutated bytes)."""
    return st.one_of(
        json_mutation(obj_strategy_or_obj).map(lambda o: json.dumps(o).encode()),
        byte_mutation(raw),
    )


def split_safetensors(raw: bytes):
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def join_safetensors(header, data: bytes) -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


@st.composite
def header_mutation(draw, raw: bytes):
    """A safetensors file whose header lies: dtype, shape or offsets of one tensor changed, an
    entry added or removed, or the data shortened or lengthened (header length kept right)."""
    header, data = split_safetensors(raw)
    names = [k for k in header if k != "__metadata__"]
    name = draw(st.sampled_from(names))
    entry = header[name]
    kind = draw(st.sampled_from(["dtype", "shape", "offsets", "entry", "add", "remove", "data"]))
    if kind == "dtype":
        entry["dtype"] = draw(st.sampled_from(["F16", "F64", "I8", "BOOL", "BF16", "F8_E4M3", "X"]))
    elif kind == "shape":
        entry["shape"] = draw(st.lists(ints, max_size=4) | json_values)
    elif kind == "offsets":
        entry["data_offsets"] = draw(st.lists(ints, min_size=0, max_size=3) | json_values)
    elif kind == "entry":
        header[name] = draw(json_mutation(entry))
    elif kind == "add":
        header[draw(st.text(max_size=6))] = {
            "dtype": "F32",
            "shape": draw(st.lists(st.integers(0, 2**40), max_size=3)),
            "data_offsets": [len(data), len(data) + draw(st.integers(0, 2**40))],
        }
    elif kind == "remove":
        del header[name]
    else:
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=32))
    return join_safetensors(header, data)


def safetensors_file(raw: bytes):
    hot = 8 + int.from_bytes(raw[:8], "little")
    return st.one_of(header_mutation(raw), byte_mutation(raw, hot=hot))


def check(load, *files):
    """``load()`` succeeds or raises FileFormatError naming one of ``files``, within the memory
    bound."""
    tracemalloc.start()
    try:
        load()
    except FileFormatError as e:
        assert e.problem and e.path in {str(f) for f in files}, (e.path, files)
        assert e.path in str(e), str(e)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"peak {peak} bytes"


# --- the valid files ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("valid")
    save_safetensors(
        {
            "a": np.arange(12, dtype=np.float32).reshape(3, 4),
            "b": np.array([1, -2], np.int64),
            "c": np.zeros((0, 2), np.float16),
            "d": np.array([True, False, True]),
        },
        root / "w.safetensors",
        metadata={"format": "pt"},
    )
    gpt = GPT(GPTConfig(vocab_size=30, n_positions=8, n_embd=8, n_layer=1, n_head=2))
    gpt.save_pretrained(root / "gpt")
    bert_cfg = BertConfig(
        vocab_size=30,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=8,
        type_vocab_size=2,
        num_labels=3,
    )
    BertForSequenceClassification(bert_cfg).save_pretrained(root / "bert")
    peft.apply_lora(gpt, r=2, target_modules=["c_attn"])
    peft.save_lora(gpt, root / "adapters.safetensors")
    train_bpe(["a tiny text to train on, tiny text"] * 5, vocab_size=262).save(
        root / "tokenizer.json"
    )
    CharTokenizer.fit("hello").save(root / "chars.json")
    out = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    return Files(out, tmp_path_factory.mktemp("work"))


class Files(tuple):
    """(valid file bytes by name, work directory), with a short repr for failure reports."""

    def __new__(cls, raw, work):
        return super().__new__(cls, (raw, work))

    def __repr__(self):
        return f"Files({sorted(self[0])}, {self[1]})"


def write(work, name, data: bytes):
    (work / name).parent.mkdir(parents=True, exist_ok=True)
    (work / name).write_bytes(data)
    return work / name


# --- the tests ---------------------------------------------------------------------------------
def test_templates_load(files):
    """Every unmutated file loads: the fuzzing starts from valid files."""
    raw, work = files
    for name, data in raw.items():
        write(work, name, data)
    load_safetensors(work / "w.safetensors")
    GPT.from_pretrained(work / "gpt")
    BertForSequenceClassification.from_pretrained(work / "bert")
    Tokenizer.from_file(work / "tokenizer.json")
    CharTokenizer.load(work / "chars.json")


@fuzz()
@given(data=st.data())
def test_fuzz_safetensors(files, data):
    raw, work = files
    f = write(work, "w.safetensors", data.draw(safetensors_file(raw["w.safetensors"])))
    check(lambda: load_safetensors(f), f)
    check(lambda: read_metadata(f), f)


@fuzz()
@given(data=st.data())
def test_fuzz_config_json(files, data):
    raw, work = files
    text = raw["gpt/config.json"]
    f = write(work, "config.json", data.draw(json_file(json.loads(text), text)))
    check(lambda: load_json(f), f)


def _directory(files, data, name):
    raw, work = files
    which = data.draw(st.sampled_from(["config.json", "model.safetensors"]))
    for other in ("config.json", "model.safetensors"):
        write(work, f"{name}/{other}", raw[f"{name}/{other}"])
    text = raw[f"{name}/{which}"]
    if which == "config.json":
        mutated = data.draw(json_file(json.loads(text), text))
    else:
        mutated = data.draw(safetensors_file(text))
    write(work, f"{name}/{which}", mutated)
    return work / name


@fuzz()
@given(data=st.data())
def test_fuzz_gpt_directory(files, data):
    path = _directory(files, data, "gpt")
    named = path / "config.json", path / "model.safetensors"
    check(lambda: GPT.from_pretrained(path), *named)
    check(lambda: from_pretrained(path), *named)


@fuzz()
@given(data=st.data())
def test_fuzz_bert_directory(files, data):
    path = _directory(files, data, "bert")
    named = path / "config.json", path / "model.safetensors"
    check(lambda: BertForSequenceClassification.from_pretrained(path), *named)
    check(lambda: BERT.from_pretrained(path), *named)


@fuzz()
@given(data=st.data())
def test_fuzz_lora_adapter(files, data):
    raw, work = files
    f = write(
        work, "adapters.safetensors", data.draw(safetensors_file(raw["adapters.safetensors"]))
    )
    model = GPT(GPTConfig(vocab_size=30, n_positions=8, n_embd=8, n_layer=1, n_head=2))
    peft.apply_lora(model, r=2, target_modules=["c_attn"])
    check(lambda: peft.load_lora(model, f), f)


@fuzz()
@given(data=st.data())
def test_fuzz_tokenizer_json(files, data):
    raw, work = files
    text = raw["tokenizer.json"]
    f = write(work, "tokenizer.json", data.draw(json_file(json.loads(text), text)))
    check(lambda: Tokenizer.from_file(f), f)


@fuzz(100)
@given(data=st.data())
def test_fuzz_char_tokenizer(files, data):
    raw, work = files
    text = raw["chars.json"]
    f = write(work, "chars.json", data.draw(json_file(json.loads(text), text)))
    check(lambda: CharTokenizer.load(f), f)
