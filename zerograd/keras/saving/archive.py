"""Model files: the ``.keras`` zip (metadata.json, config.json, model.weights.h5) as Keras 3 writes
it, and zerograd's variant holding model.weights.safetensors instead of the h5 file.

Reading checks each zip member's declared size before inflating it, and never runs code.
"""

from __future__ import annotations

import datetime
import json
import os
import zipfile
import zlib

KERAS_FORMAT_VERSION = "3.15.1"  # the Keras release whose file layout this writes
MAX_JSON = 64 * 2**20  # a config larger than this is not a model config
MAX_MEMBER = 64 * 2**30
MAX_RATIO = 1000  # deflate cannot honestly expand more than ~1032x


def metadata() -> bytes:
    """metadata.json: the format version and the save date."""
    now = datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")
    return json.dumps({"keras_version": KERAS_FORMAT_VERSION, "date_saved": now}).encode()


def write_archive(path, config: dict, weights_name: str, weights: bytes) -> None:
    """The zip at ``path`` (written to a temporary file, then moved over the target)."""
    from zerograd.io.atomic import atomic_path

    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w") as z:
        z.writestr("metadata.json", metadata(), zipfile.ZIP_DEFLATED)
        z.writestr("config.json", json.dumps(config), zipfile.ZIP_DEFLATED)
        z.writestr(weights_name, weights, zipfile.ZIP_STORED)


def _read_member(z: zipfile.ZipFile, name: str, path: str, limit: int) -> bytes:
    info = z.getinfo(name)
    ratio_ok = info.compress_type == zipfile.ZIP_STORED or (
        info.file_size <= MAX_RATIO * max(info.compress_size, 1) + 2**20
    )
    if info.file_size > limit or not ratio_ok:
        raise ValueError(
            f"load_model: {path!r}: member {name!r} declares {info.file_size} bytes uncompressed "
            f"from {info.compress_size} compressed; refusing it (limit {limit} bytes, at most "
            f"{MAX_RATIO}x compression)"
        )
    with z.open(name) as f:
        data = f.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise ValueError(f"load_model: {path!r}: member {name!r} is not the size it declares")
    return data


def read_archive(path) -> tuple[dict, str, bytes]:
    """(config, weights member name, weights bytes) of a model zip; ValueError naming the file if
    it is not one."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_model: no file at {path!r}")
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "config.json" not in names:
                raise ValueError(
                    f"load_model: {path!r} is a zip without config.json, not a Keras model file"
                )
            config = json.loads(_read_member(z, "config.json", path, MAX_JSON))
            for member in ("model.weights.h5", "model.weights.safetensors"):
                if member in names:
                    return config, member, _read_member(z, member, path, MAX_MEMBER)
            if "model.weights.npz" in names:
                raise ValueError(
                    f"load_model: {path!r} holds npz weights, which zerograd does not read"
                )
            return config, "", b""
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, zlib.error) as e:
        raise ValueError(
            f"load_model: {path!r} is not a valid .keras file (a zip archive): {e}"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"load_model: {path!r} has a corrupt config.json: {e}") from None
    except (zipfile.error, OSError) as e:
        raise ValueError(f"load_model: {path!r} could not be read as a zip archive: {e}") from None
