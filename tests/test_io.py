"""zerograd.io: safetensors and JSON files, atomic writes."""

import json

import numpy as np
import pytest

import zerograd as zg
from zerograd.io import atomic_path, load_json, load_safetensors, save_json, save_safetensors
from zerograd.io.weights import read_metadata


def test_safetensors_round_trip_keeps_names_dtypes_and_values(tmp_path):
    rng = np.random.default_rng(0)
    state = {
        "w": zg.tensor(rng.standard_normal((3, 4)).astype("float32")),
        "b64": rng.standard_normal(5),
        "ids": np.arange(6, dtype=np.int64).reshape(2, 3),
        "half": np.ones(2, dtype=np.float16),
    }
    path = tmp_path / "sub" / "w.safetensors"
    save_safetensors(state, path, metadata={"note": "hi"})
    back = load_safetensors(path)
    assert set(back) == set(state) and all(isinstance(t, zg.Tensor) for t in back.values())
    for k, v in state.items():
        ref = np.asarray(v)
        assert back[k].dtype == ref.dtype, k
        np.testing.assert_array_equal(back[k].numpy(), ref, err_msg=k)
    assert read_metadata(path) == {"note": "hi"}
    assert isinstance(load_safetensors(path, arrays=True)["w"], np.ndarray)


def test_safetensors_file_is_readable_by_torch(tmp_path):
    torch_st = pytest.importorskip("safetensors.torch")
    save_safetensors({"x": zg.arange(6).reshape((2, 3))}, tmp_path / "x.safetensors")
    assert torch_st.load_file(str(tmp_path / "x.safetensors"))["x"].tolist() == [
        [0, 1, 2],
        [3, 4, 5],
    ]


def test_failed_save_keeps_the_previous_file(tmp_path):
    path = tmp_path / "w.safetensors"
    save_safetensors({"a": np.ones(3, dtype="float32")}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="'bad' expected a numeric array"):
        save_safetensors({"a": np.zeros(3), "bad": np.array(["x"])}, path)
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"half a file")
            raise RuntimeError("disk full")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]  # no temp files left


def test_json_round_trip_and_errors(tmp_path):
    cfg = {"model_type": "bert", "hidden_size": 384, "name": "诗"}
    save_json(cfg, tmp_path / "config.json")
    assert load_json(tmp_path / "config.json") == cfg
    assert json.loads((tmp_path / "config.json").read_text(encoding="utf-8")) == cfg
    with pytest.raises(TypeError):
        save_json({"x": object()}, tmp_path / "config.json")
    assert load_json(tmp_path / "config.json") == cfg  # the failed save changed nothing
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json': is not valid JSON"):
        load_json(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON dict .* received list"):
        load_json(tmp_path / "list.json")
    with pytest.raises(FileNotFoundError, match="no file at"):
        load_json(tmp_path / "missing.json")


def test_bad_safetensors_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="load_safetensors: no file at"):
        load_safetensors(tmp_path / "none.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_safetensors(tmp_path / "junk.safetensors")
    with pytest.raises(TypeError, match="expected str names"):
        save_safetensors({1: np.zeros(2)}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="metadata must map str to str"):
        save_safetensors({"a": np.zeros(2)}, tmp_path / "x.safetensors", metadata={"n": 1})
