"""Loader fuzzing: mutated .keras files, the safetensors variant and .weights.h5 files.

Whatever the mutation (truncation at any offset, flipped or overwritten bytes, spliced garbage,
JSON members with keys deleted or values of the wrong type), loading either succeeds or raises
``FileFormatError``; no example allocates more than ``PEAK_LIMIT`` bytes of tracked memory.
Examples are derandomized (the same on every run) and bounded by ``max_examples``.
"""

import json
import math
import resource
import tracemalloc
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zerograd.keras as zk
from tests.keras.bad_files import members, small_model, write_zip
from zerograd.io import FileFormatError

PEAK_LIMIT = 32 * 2**20  # bytes of Python/NumPy allocations one load may reach (files are ~15 KB)
RSS_GROWTH_LIMIT = 256 * 2**20  # what a whole fuzz test may add to the process's peak RSS
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# values of the wrong type or size put in place of a JSON value
WRONG = [
    None,
    True,
    -1,
    0,
    2**40,  # a size no file of this one's size may allocate (load_model's weight budget)
    2**62,  # beyond any array NumPy can describe
    1.5,
    math.nan,
    "",
    "Dense",
    [],
    [1, 2],
    {},
    {"class_name": "Dense"},
    {"class_name": "__lambda__", "config": {"code": "print(1)"}},
    {"class_name": "Nope", "config": {}},
]


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """{kind: (file name, bytes)} of small valid files, and a scratch directory."""
    d = tmp_path_factory.mktemp("fuzz")
    model = small_model()
    model.save(d / "m.keras")
    model.save(d / "m.zgmodel")
    model.save_weights(d / "m.weights.h5")
    model.save_weights(d / "m.safetensors")
    names = ("m.keras", "m.zgmodel", "m.weights.h5", "m.safetensors")
    return d, {name: (d / name).read_bytes() for name in names}


def _load(path):
    name = str(path)
    if name.endswith((".keras", ".zgmodel")):
        return zk.models.load_model(path)
    return small_model(compiled=False).load_weights(path)


class _Bounded:
    """Runs loads under tracemalloc; each must succeed or raise FileFormatError within bounds."""

    def __init__(self):
        self.rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.runs = 0

    def __enter__(self):
        tracemalloc.start()
        return self

    def __exit__(self, *exc):
        tracemalloc.stop()
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - self.rss0
        assert grown < RSS_GROWTH_LIMIT, f"peak RSS grew by {grown} bytes"

    def load(self, path, data: bytes) -> None:
        path.write_bytes(data)
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        try:
            _load(path)
        except FileFormatError as e:
            assert str(path) in str(e), str(e)
        peak = tracemalloc.get_traced_memory()[1] - before
        assert peak < PEAK_LIMIT, f"loading allocated {peak} bytes"
        self.runs += 1


KINDS = ["m.keras", "m.zgmodel", "m.weights.h5", "m.safetensors"]


@pytest.fixture(scope="module")
def bounded():
    with _Bounded() as b:
        yield b


@pytest.mark.parametrize("kind", KINDS)
@settings(FUZZ, max_examples=40)
@given(cut=st.integers(0, 2**31))
def test_truncated_anywhere(good, bounded, kind, cut):
    d, files = good
    data = files[kind]
    bounded.load(d / f"t_{kind}", data[: cut % len(data)])


@pytest.mark.parametrize("kind", KINDS)
@settings(FUZZ, max_examples=80)
@given(
    edits=st.lists(st.tuples(st.integers(0, 2**31), st.integers(0, 255)), min_size=1, max_size=8)
)
def test_bytes_overwritten(good, bounded, kind, edits):
    d, files = good
    data = bytearray(files[kind])
    for where, value in edits:
        data[where % len(data)] = value
    bounded.load(d / f"o_{kind}", bytes(data))


@pytest.mark.parametrize("kind", KINDS)
@settings(FUZZ, max_examples=40)
@given(
    where=st.integers(0, 2**31),
    drop=st.integers(0, 64),
    garbage=st.binary(max_size=64),
)
def test_garbage_spliced_in(good, bounded, kind, where, drop, garbage):
    d, files = good
    data = files[kind]
    i = where % len(data)
    bounded.load(d / f"s_{kind}", data[:i] + garbage + data[i + drop :])


@pytest.mark.parametrize("member", ["model.weights.h5", "model.weights.safetensors"])
@settings(FUZZ, max_examples=80)
@given(
    edits=st.lists(st.tuples(st.integers(0, 2**31), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.integers(0, 2**31)),
)
def test_weights_member_damaged_inside_a_valid_zip(good, bounded, member, edits, cut):
    # the zip stays valid, so the HDF5 / safetensors reader itself meets the damage
    d, files = good
    kind = "m.keras" if member.endswith(".h5") else "m.zgmodel"
    contents = members(d / kind)
    body = bytearray(contents[member])
    for where, value in edits:
        body[where % len(body)] = value
    contents[member] = bytes(body if cut is None else body[: cut % len(body)])
    path = d / f"w_{kind}"
    write_zip(path, contents)
    bounded.load(path, path.read_bytes())


def _paths(value, prefix=()):
    """Every path (a tuple of keys and indices) inside a JSON value, the root included."""
    yield prefix
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in items:
        yield from _paths(child, (*prefix, key))


def _mutate(value, path, action: str, replacement):
    if not path:
        return replacement
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if action == "delete":
        del parent[key]
    elif action == "wrap":
        parent[key] = [parent[key]]
    else:
        parent[key] = replacement
    return value


@pytest.mark.parametrize("kind", ["m.keras", "m.zgmodel"])
@settings(FUZZ, max_examples=100)
@given(
    member=st.sampled_from(["config.json", "config.json", "config.json", "metadata.json"]),
    pick=st.integers(0, 2**31),
    action=st.sampled_from(["delete", "replace", "replace", "wrap"]),
    replacement=st.sampled_from(WRONG),
    second=st.one_of(st.none(), st.integers(0, 2**31)),
)
def test_json_members_mutated(good, bounded, kind, member, pick, action, replacement, second):
    d, files = good
    contents = members(d / kind)
    value = json.loads(contents[member])
    for where in (pick, second):
        if where is None:
            continue
        paths = list(_paths(value))
        value = _mutate(
            value, paths[where % len(paths)], action, json.loads(json.dumps(replacement))
        )
    contents[member] = json.dumps(value).encode()
    path = d / f"j_{kind}"
    with zipfile.ZipFile(path, "w") as z:
        for name, body in contents.items():
            z.writestr(name, body, zipfile.ZIP_DEFLATED)
    bounded.load(path, path.read_bytes())
