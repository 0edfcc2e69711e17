"""Bad, hostile and existing Keras model files: one test per case.

Every unreadable file raises ``zerograd.io.FileFormatError`` whose message names the file and
what is wrong; ``overwrite=False`` never replaces a file; unbuilt models say "not built".
"""

import os
import re
import tracemalloc
import zipfile

import numpy as np
import pytest

import zerograd.keras as zk
from tests.keras.bad_files import (
    functional_model,
    h5_bytes,
    h5_from_arrays,
    members,
    rezip,
    small_model,
    weights_h5,
)
from zerograd.io import FileFormatError


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A valid .keras file, the safetensors variant, a .weights.h5 and a functional .keras."""
    d = tmp_path_factory.mktemp("good")
    model = small_model()
    model.save(d / "m.keras")
    model.save(d / "m.zgmodel")
    model.save_weights(d / "m.weights.h5")
    functional_model().save(d / "f.keras")
    return d


def bad_file(call, path, problem: str):
    """``call()`` raises FileFormatError naming ``path`` and matching ``problem``."""
    with pytest.raises(FileFormatError) as info:
        call()
    text = str(info.value)
    assert info.value.path.startswith(str(path)), text
    assert os.path.basename(str(path)) in text
    assert re.search(problem, text), f"{problem!r} not in: {text}"
    return info.value


def load(path):
    return lambda: zk.models.load_model(path)


def load_weights_into(path, model=None):
    model = model or small_model(compiled=False)
    return lambda: model.load_weights(path)


# --- not a model file at all -------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.3, 0.5, 0.9, 0.999])
def test_truncated_keras_file(files, tmp_path, fraction):
    data = (files / "m.keras").read_bytes()
    cut = tmp_path / "cut.keras"
    cut.write_bytes(data[: int(len(data) * fraction)])
    bad_file(load(cut), cut, "not a valid .keras file|damaged|holds .* bytes|lies")


def test_text_file_is_not_a_keras_file(tmp_path):
    path = tmp_path / "notes.keras"
    path.write_text("these are not weights\n")
    bad_file(load(path), path, r"not a valid \.keras file \(a zip archive\)")


def test_hdf5_file_given_to_load_model_points_at_load_weights(files):
    path = files / "m.weights.h5"
    bad_file(load(path), path, "HDF5 file .*load_weights")


def test_directory_is_not_a_model_file(tmp_path):
    bad_file(load(tmp_path), tmp_path, "is a directory")


def test_zip_without_config_json(files, tmp_path):
    path = tmp_path / "noconfig.keras"
    rezip(files / "m.keras", path, {"config.json": None})
    bad_file(load(path), path, "without config.json")


# --- corrupt JSON and configs of the wrong shape -----------------------------------------------


def test_corrupt_config_json(files, tmp_path):
    path = tmp_path / "badjson.keras"
    rezip(files / "m.keras", path, {"config.json": b'{"class_name": "Sequential", "config": {'})
    bad_file(load(path), path, "config.json is not valid JSON")


def test_config_json_not_utf8(files, tmp_path):
    path = tmp_path / "latin.keras"
    rezip(files / "m.keras", path, {"config.json": b'{"class_name": "S\xe9q"}'})
    bad_file(load(path), path, "config.json is not valid JSON")


def test_config_is_a_list(files, tmp_path):
    path = tmp_path / "list.keras"
    rezip(files / "m.keras", path, {"config.json": b"[1, 2]"})
    bad_file(load(path), path, "config.json must hold a JSON object, found a JSON list: \\[1, 2\\]")


def test_deeply_nested_config(files, tmp_path):
    path = tmp_path / "deep.keras"
    rezip(files / "m.keras", path, {"config.json": b"[" * 100_000 + b"]" * 100_000})
    bad_file(load(path), path, "config.json is not valid JSON .*RecursionError")


def test_corrupt_metadata_json(files, tmp_path):
    path = tmp_path / "meta.keras"
    rezip(files / "m.keras", path, {"metadata.json": b"{keras_version: 3}"})
    bad_file(load(path), path, "metadata.json is not valid JSON")


def test_metadata_version_of_the_wrong_type(files, tmp_path):
    path = tmp_path / "meta2.keras"
    rezip(files / "m.keras", path, {"metadata.json": lambda m: {**m, "keras_version": [3, 1]}})
    bad_file(load(path), path, "keras_version must be a string, found \\[3, 1\\]")


def test_config_missing_its_inner_config(files, tmp_path):
    path = tmp_path / "noinner.keras"
    rezip(files / "m.keras", path, {"config.json": lambda c: {"class_name": c["class_name"]}})
    bad_file(load(path), path, r"the top level is missing \['config'\]")


def test_config_layers_not_a_list(files, tmp_path):
    def edit(c):
        c["config"]["layers"] = {"dense": 1}
        return c

    path = tmp_path / "layers.keras"
    rezip(files / "m.keras", path, {"config.json": edit})
    bad_file(load(path), path, "config.layers must be a JSON list, found {'dense': 1}")


def test_layer_entry_missing_class_name(files, tmp_path):
    def edit(c):
        del c["config"]["layers"][1]["class_name"]
        return c

    path = tmp_path / "noclass.keras"
    rezip(files / "m.keras", path, {"config.json": edit})
    bad_file(load(path), path, r"config.layers\[1\] is missing \['class_name'\]")


def test_unknown_layer_class_lists_the_closest_names(files, tmp_path):
    def edit(c):
        c["config"]["layers"][1]["class_name"] = "Dense2"
        return c

    path = tmp_path / "unknown.keras"
    rezip(files / "m.keras", path, {"config.json": edit})
    bad_file(load(path), path, r"unknown object 'Dense2'.*closest of the \d+ known names.*'Dense'")


def test_unknown_optimizer_lists_the_known_ones(files, tmp_path):
    def edit(c):
        c["compile_config"]["optimizer"]["class_name"] = "Adamm"
        return c

    path = tmp_path / "opt.keras"
    rezip(files / "m.keras", path, {"config.json": edit})
    bad_file(load(path), path, r"unknown object 'Adamm'.*known names are \[.*'Adam', 'AdamW'")


def test_layer_argument_of_the_wrong_type(files, tmp_path):
    def edit(c):
        c["config"]["layers"][1]["config"]["units"] = "two"
        return c

    path = tmp_path / "units.keras"
    rezip(files / "m.keras", path, {"config.json": edit})
    err = bad_file(load(path), path, "could not rebuild the model from config.json: .*units")
    assert err.__cause__ is not None  # the constructor's own error is kept


def test_unknown_activation_lists_the_known_ones(files, tmp_path):
    def edit(c):
        c["config"]["layers"][1]["config"]["activation"] = {
            "module": "keras.activations",
            "class_name": "function",
            "config": "rleu",
            "registered_name": None,
        }
        return c

    path = tmp_path / "act.keras"
    rezip(files / "m.keras", path, {"config.json": edit})
    bad_file(load(path), path, r"expected one of \[.*'relu'.*received 'rleu'")


def test_saved_lambda_is_refused_not_run(files, tmp_path):
    def edit(c):
        code = {"class_name": "__lambda__", "config": {"code": "print('pwned')"}}
        c["config"]["layers"][1] = {
            "module": "keras.layers",
            "class_name": "Lambda",
            "config": {"name": "lam", "function": code},
            "registered_name": None,
        }
        return c

    path = tmp_path / "lambda.keras"
    rezip(files / "m.keras", path, {"config.json": edit})
    bad_file(load(path), path, "never runs code")


def test_build_shape_of_the_wrong_type(files, tmp_path):
    def edit(c):
        c["config"]["build_input_shape"] = "3"
        return c

    path = tmp_path / "shape.keras"
    rezip(files / "m.keras", path, {"config.json": edit})
    bad_file(load(path), path, "config.build_input_shape must be a shape")


def test_input_shape_too_large_to_build_is_refused(files, tmp_path):
    # building runs the layers on zeros of the input shape: (None, 2**40) would be terabytes
    def edit(c):
        c["config"]["layers"][0]["config"]["batch_shape"] = [None, 2**40]
        return c

    path = tmp_path / "wide.keras"
    rezip(files / "m.keras", path, {"config.json": edit})
    bad_file(load(path), path, r"batch_shape \[None, 1099511627776\] declares more than 268435456")


def test_weights_far_beyond_what_the_file_holds_are_not_allocated(files, tmp_path):
    # Dense(2**20) on 256 inputs: 1 GiB of kernel declared by a 15 KB file
    def edit(c):
        c["config"]["layers"][0]["config"]["batch_shape"] = [None, 256]
        c["config"]["build_input_shape"] = [None, 256]
        c["config"]["layers"][1]["config"]["units"] = 2**20
        return c

    path = tmp_path / "huge_dense.keras"
    rezip(files / "m.keras", path, {"config.json": edit})
    tracemalloc.start()
    try:
        bad_file(
            load(path),
            path,
            r"Dense 'dense[_\d]*'.*shape \(256, 1048576\) takes the model past \d+ bytes",
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"peak {peak} bytes"


def test_functional_output_naming_a_missing_layer(files, tmp_path):
    def edit(c):
        c["config"]["output_layers"] = [["nowhere", 0, 0]]
        return c

    path = tmp_path / "ends.keras"
    rezip(files / "f.keras", path, {"config.json": edit})
    bad_file(load(path), path, "output_layers names layer 'nowhere'.*not among")


def test_functional_input_layers_of_the_wrong_shape(files, tmp_path):
    def edit(c):
        c["config"]["input_layers"] = [1, 2]
        return c

    path = tmp_path / "ins.keras"
    rezip(files / "f.keras", path, {"config.json": edit})
    bad_file(load(path), path, r"input_layers must be a \[layer name, node index, tensor index\]")


def test_legacy_format_missing_keys(files, tmp_path):
    path = tmp_path / "legacy.keras"
    legacy = {"format": "zerograd-keras-1", "class_name": "Sequential", "config": {"name": "s"}}
    rezip(files / "m.zgmodel", path, {"config.json": lambda c: legacy})
    bad_file(load(path), path, "zerograd's first model format: missing key 'layers'")


# --- weights that are not there, not HDF5, or do not fit -----------------------------------------


def test_weights_member_not_hdf5(files, tmp_path):
    path = tmp_path / "noth5.keras"
    rezip(files / "m.keras", path, {"model.weights.h5": b"not hdf5 at all"})
    bad_file(load(path), path, "not an HDF5 file")


def test_weights_member_truncated(files, tmp_path):
    body = members(files / "m.keras")["model.weights.h5"]
    path = tmp_path / "cuth5.keras"
    rezip(files / "m.keras", path, {"model.weights.h5": body[: len(body) // 2]})
    bad_file(load(path), path, "not a readable Keras weights file")


def test_weights_missing_a_variable(files, tmp_path):
    arrays = weights_h5(small_model())
    del arrays["layers/dense/vars/1"]
    path = tmp_path / "missing.keras"
    rezip(files / "m.keras", path, {"model.weights.h5": h5_from_arrays(arrays)})
    bad_file(load(path), path, r"missing from the file: \['layers/dense/vars/1'\]")


def test_weights_of_the_wrong_shape(files, tmp_path):
    arrays = weights_h5(small_model())
    arrays["layers/dense/vars/0"] = np.zeros((4, 2), np.float32)
    path = tmp_path / "shape.keras"
    rezip(files / "m.keras", path, {"model.weights.h5": h5_from_arrays(arrays)})
    bad_file(load(path), path, r"layers/dense/vars/0: expected \(3, 2\), file has \(4, 2\)")


def test_optimizer_variables_misnumbered(files, tmp_path):
    arrays = weights_h5(small_model())
    arrays["optimizer/vars/9"] = arrays.pop("optimizer/vars/2")
    path = tmp_path / "optnum.keras"
    rezip(files / "m.keras", path, {"model.weights.h5": h5_from_arrays(arrays)})
    bad_file(load(path), path, "optimizer's variables must be numbered")


def test_optimizer_slot_of_the_wrong_shape(files, tmp_path):
    arrays = weights_h5(small_model())
    arrays["optimizer/vars/2"] = np.zeros((7,), np.float32)
    path = tmp_path / "optshape.keras"
    rezip(files / "m.keras", path, {"model.weights.h5": h5_from_arrays(arrays)})
    bad_file(load(path), path, "optimizer variables of Adam do not fit")


def test_hdf5_dataset_header_that_lies_allocates_nothing(files, tmp_path):
    # a dataset declaring 4 GB of float32 but storing nothing: reading it would allocate the lie
    body = h5_bytes(lambda f: f.create_dataset("layers/dense/vars/0", shape=(2**30,), dtype="f4"))
    path = tmp_path / "lies.keras"
    rezip(files / "m.keras", path, {"model.weights.h5": body})
    tracemalloc.start()
    try:
        bad_file(load(path), path, r"declares shape \(1073741824,\).*header lies")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"peak {peak} bytes"


def test_hdf5_datasets_sharing_storage_are_refused(files, tmp_path):
    # seven empty datasets patched to point at the first one's 64 KiB: reading would amplify
    # the file (1,000 of them over 1 GB of data would allocate 1 TB)
    offsets = []

    def build(f):
        first = f.create_dataset("layers/dense/vars/0", data=np.ones(16384, np.float32))
        for i in range(1, 8):
            f.create_dataset(f"layers/dense/vars/{i}", shape=(16384,), dtype="f4")
        offsets.append(first.id.get_offset())

    body = h5_bytes(build)
    size = (65536).to_bytes(8, "little")  # undefined address, then the size, in each layout
    body = body.replace(b"\xff" * 8 + size, offsets[0].to_bytes(8, "little") + size)
    path = tmp_path / "shared.keras"
    rezip(files / "m.keras", path, {"model.weights.h5": body})
    bad_file(load(path), path, r"declare \d+ bytes stored in \d+, more than the \d+-byte file")


def test_hdf5_dataset_of_strings(files, tmp_path):
    body = h5_bytes(lambda f: f.create_dataset("layers/dense/vars/0", data=["a", "b"]))
    path = tmp_path / "strings.keras"
    rezip(files / "m.keras", path, {"model.weights.h5": body})
    bad_file(load(path), path, "not a numeric weight dtype")


def test_hdf5_object_name_not_utf8(files, tmp_path):
    body = h5_bytes(lambda f: f.create_dataset("layers/dense/vars/0", data=[1.0]))
    i = body.find(b"dense")
    path = tmp_path / "name.keras"
    rezip(files / "m.keras", path, {"model.weights.h5": body[:i] + b"\xff" + body[i + 1 :]})
    bad_file(load(path), path, "is not UTF-8")


def test_compressed_hdf5_weights_still_load(files, tmp_path):
    arrays = weights_h5(small_model(compiled=False))

    def build(f):
        for name, a in arrays.items():
            f.create_dataset(name, data=a, compression="gzip")

    path = tmp_path / "gzip.weights.h5"
    path.write_bytes(h5_bytes(build))
    model = small_model(compiled=False)
    model.load_weights(path)
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), arrays["layers/dense/vars/0"])


def test_hdf5_dataset_in_an_external_file(files, tmp_path):
    def build(f):
        f.create_dataset(
            "layers/dense/vars/0", shape=(6,), dtype="f4", external=[("/etc/hostname", 0, 24)]
        )

    path = tmp_path / "external.keras"
    rezip(files / "m.keras", path, {"model.weights.h5": h5_bytes(build)})
    bad_file(load(path), path, "refers to data in other files")


def test_safetensors_variant_with_garbage_weights(files, tmp_path):
    path = tmp_path / "garbage.zgmodel"
    rezip(files / "m.zgmodel", path, {"model.weights.safetensors": b"\x00" * 40})
    bad_file(load(path), path, "not valid safetensors")


def test_safetensors_header_that_lies(files, tmp_path):
    body = members(files / "m.zgmodel")["model.weights.safetensors"]
    lying = (2**40).to_bytes(8, "little") + body[8:]  # a 1 TiB header length
    path = tmp_path / "lies.zgmodel"
    rezip(files / "m.zgmodel", path, {"model.weights.safetensors": lying})
    bad_file(load(path), path, "not valid safetensors")


def test_safetensors_variant_weights_of_the_wrong_shape(files, tmp_path):
    from safetensors.numpy import load as st_load
    from safetensors.numpy import save as st_save

    arrays = st_load(members(files / "m.zgmodel")["model.weights.safetensors"])
    arrays["layers/dense/vars/1"] = np.zeros((5,), np.float32)
    path = tmp_path / "shape.zgmodel"
    rezip(files / "m.zgmodel", path, {"model.weights.safetensors": st_save(arrays)})
    bad_file(load(path), path, r"layers/dense/vars/1: expected \(2,\), file has \(5,\)")


# --- zip headers that lie and zip bombs ----------------------------------------------------------


def _patch_central(data: bytearray, name: bytes, offset: int, value: int, size: int = 4):
    entry = data.find(b"PK\x01\x02")
    while bytes(data[entry + 46 : entry + 46 + len(name)]) != name:
        entry = data.find(b"PK\x01\x02", entry + 4)
    data[entry + offset : entry + offset + size] = value.to_bytes(size, "little")


def test_declared_size_far_beyond_the_stored_size_is_refused(files, tmp_path):
    data = bytearray((files / "m.keras").read_bytes())
    _patch_central(data, b"config.json", 24, 2**31 - 1)  # uncompressed size: 2 GiB
    path = tmp_path / "huge.keras"
    path.write_bytes(bytes(data))
    bad_file(load(path), path, "config.json.*refusing it")


def test_stored_member_whose_sizes_disagree(files, tmp_path):
    data = bytearray((files / "m.keras").read_bytes())
    _patch_central(data, b"model.weights.h5", 24, 2**30)  # stored, yet 1 GiB uncompressed
    path = tmp_path / "stored.keras"
    path.write_bytes(bytes(data))
    bad_file(load(path), path, "stored uncompressed but declares 1073741824 bytes.*lies")


def test_member_larger_than_the_whole_file(files, tmp_path):
    data = bytearray((files / "m.keras").read_bytes())
    _patch_central(data, b"model.weights.h5", 20, 2**30)  # compressed size: 1 GiB
    path = tmp_path / "bigger.keras"
    path.write_bytes(bytes(data))
    bad_file(load(path), path, "more than the whole file")


def test_encrypted_member_is_refused(files, tmp_path):
    data = bytearray((files / "m.keras").read_bytes())
    _patch_central(data, b"config.json", 8, 1, size=2)  # general purpose flag: encrypted
    path = tmp_path / "encrypted.keras"
    path.write_bytes(bytes(data))
    bad_file(load(path), path, "encrypted")


def test_zip_bomb_is_refused_before_inflating(files, tmp_path):
    # 20 MiB of zeros deflate to ~20 KB: written in chunks, never held whole
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w") as z:
        for member, body in members(files / "m.keras").items():
            if member != "model.weights.h5":
                z.writestr(member, body, zipfile.ZIP_DEFLATED)
        info = zipfile.ZipInfo("model.weights.h5")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as f:
            for _ in range(20):
                f.write(bytes(2**20))
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    try:
        bad_file(load(path), path, r"ratio over 100x; refusing it before inflating")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20, f"peak {peak} bytes: the member was inflated"


def test_member_declaring_256x_its_stored_size_is_refused(files, tmp_path):
    # the case scaled down: 1 MiB stored that says it inflates to 256 MiB (4 MB -> 1 GiB)
    noise = np.random.default_rng(1).integers(0, 256, 2**20, dtype=np.uint8).tobytes()
    path = tmp_path / "liar.keras"
    with zipfile.ZipFile(path, "w") as z:
        for member, body in members(files / "m.keras").items():
            z.writestr(
                member, noise if member == "model.weights.h5" else body, zipfile.ZIP_DEFLATED
            )
    data = bytearray(path.read_bytes())
    _patch_central(data, b"model.weights.h5", 24, 256 * 2**20)
    path.write_bytes(bytes(data))
    bad_file(load(path), path, r"declares 268435456 bytes uncompressed from \d+ compressed")


def test_total_inflated_size_limit_comes_from_the_environment(files, tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    weights = rng.integers(0, 256, 3 * 2**20, dtype=np.uint8).tobytes()  # incompressible
    path = tmp_path / "big.keras"
    contents = {**members(files / "m.keras"), "model.weights.h5": weights}
    with zipfile.ZipFile(path, "w") as z:
        for name, body in contents.items():
            z.writestr(name, body, zipfile.ZIP_DEFLATED)
    monkeypatch.setenv("ZEROGRAD_KERAS_MAX_INFLATED", str(2**20))
    bad_file(load(path), path, r"limit 1048576 bytes; set ZEROGRAD_KERAS_MAX_INFLATED")
    monkeypatch.setenv("ZEROGRAD_KERAS_MAX_INFLATED", "lots")
    with pytest.raises(ValueError, match="ZEROGRAD_KERAS_MAX_INFLATED must be a positive"):
        zk.models.load_model(path)


def test_real_models_pass_the_limits(files):
    model = zk.models.load_model(files / "m.keras")
    again = zk.models.load_model(files / "m.zgmodel")
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(model.predict(x, verbose=0), again.predict(x, verbose=0))


# --- load_weights --------------------------------------------------------------------------------


def test_weights_h5_truncated(files, tmp_path):
    data = (files / "m.weights.h5").read_bytes()
    path = tmp_path / "cut.weights.h5"
    path.write_bytes(data[: len(data) // 3])
    bad_file(load_weights_into(path), path, "not a readable Keras weights file")


def test_weights_h5_of_the_wrong_shape(files, tmp_path):
    path = tmp_path / "wide.weights.h5"
    zk.Sequential([zk.Input((5,)), zk.layers.Dense(2)]).save_weights(path)
    bad_file(load_weights_into(path), path, r"expected \(3, 2\), file has \(5, 2\)")


def test_weights_of_another_architecture(files, tmp_path):
    path = tmp_path / "two.weights.h5"
    zk.Sequential([zk.Input((3,)), zk.layers.Dense(2), zk.layers.Dense(2)]).save_weights(path)
    bad_file(load_weights_into(path), path, r"in the file but not in the model: \['layers/dense_1")


def test_weights_file_of_neither_format(tmp_path):
    path = tmp_path / "model.weights.bin"
    path.write_bytes(b"\x01" * 100)
    bad_file(load_weights_into(path), path, "neither an HDF5 weights file nor safetensors")


def test_keras_file_without_weights_into_load_weights(files, tmp_path):
    path = tmp_path / "noweights.keras"
    rezip(files / "m.keras", path, {"model.weights.h5": None})
    bad_file(load_weights_into(path), path, "holds no weights")


def test_state_dict_names_that_do_not_fit(tmp_path):
    from zerograd.io import save_safetensors

    path = tmp_path / "state.safetensors"
    save_safetensors({"0.weight": np.zeros((9, 9), np.float32)}, path)
    bad_file(load_weights_into(path), path, "the weights do not fit the model")


# --- unbuilt models and overwrite=False ----------------------------------------------------------


def test_load_weights_into_an_unbuilt_model_says_not_built(files):
    model = zk.Sequential([zk.layers.Dense(2)])
    with pytest.raises(ValueError, match="model 'sequential.*' is not built") as info:
        model.load_weights(files / "m.weights.h5")
    assert not isinstance(info.value, FileFormatError)


def test_load_weights_into_an_unbuilt_subclassed_model_says_not_built(tmp_path):
    class Two(zk.Model):
        def __init__(self):
            super().__init__()
            self.dense = zk.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    built = Two()
    built(np.ones((1, 3), np.float32))
    for name in ("two.weights.h5", "two.safetensors"):
        built.save_weights(tmp_path / name)
        with pytest.raises(ValueError, match="model 'two.*' is not built, so it has no weights"):
            Two().load_weights(tmp_path / name)


def test_save_weights_of_an_unbuilt_model_says_not_built(tmp_path):
    model = zk.Sequential([zk.layers.Dense(2)])
    with pytest.raises(ValueError, match="is not built, so it has no weights to save"):
        model.save_weights(tmp_path / "u.weights.h5")
    assert not (tmp_path / "u.weights.h5").exists()


@pytest.mark.parametrize("name", ["m.keras", "m.zgmodel", "m.weights.h5", "m.safetensors"])
def test_overwrite_false_never_replaces_a_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"precious")
    model = small_model(compiled=False)
    save = model.save_weights if "weights" in name or name.endswith("safetensors") else model.save
    with pytest.raises(FileExistsError, match="overwrite=False"):
        save(path, overwrite=False)
    assert path.read_bytes() == b"precious"
    assert sorted(os.listdir(tmp_path)) == [name]  # no temporary file left behind


def test_overwrite_false_loses_a_race_while_computing_weights(tmp_path, monkeypatch):
    # the file appears after the first check, while the weights are computed
    from zerograd.keras import saving

    path = tmp_path / "m.weights.h5"
    real = saving._weights_bytes

    def racing(*args, **kwargs):
        path.write_bytes(b"written by someone else")
        return real(*args, **kwargs)

    monkeypatch.setattr(saving, "_weights_bytes", racing)
    with pytest.raises(FileExistsError, match="save_weights: .*overwrite=False"):
        small_model(compiled=False).save_weights(path, overwrite=False)
    assert path.read_bytes() == b"written by someone else"
    assert sorted(os.listdir(tmp_path)) == [path.name]


def test_overwrite_false_loses_a_race_while_writing_the_archive(tmp_path, monkeypatch):
    # the file appears while the temporary archive is being written: publishing must not replace it
    from zerograd.keras.saving import archive

    path = tmp_path / "m.keras"
    real = archive.metadata

    def racing():
        path.write_bytes(b"written by someone else")
        return real()

    monkeypatch.setattr(archive, "metadata", racing)
    with pytest.raises(FileExistsError, match="save_model: .*overwrite=False"):
        small_model(compiled=False).save(path, overwrite=False)
    assert path.read_bytes() == b"written by someone else"
    assert sorted(os.listdir(tmp_path)) == [path.name]


def test_overwrite_false_writes_a_new_file(tmp_path):
    path = tmp_path / "new.keras"
    small_model().save(path, overwrite=False)
    assert zk.models.load_model(path).count_params() == 8
