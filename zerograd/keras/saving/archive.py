"""Model files: the ``.keras`` zip (metadata.json, config.json, model.weights.h5) as Keras 3 writes
it, and zerograd's variant holding model.weights.safetensors instead of the h5 file.

Reading never runs code, and refuses a zip bomb before inflating anything, from the sizes the zip
declares (then reads with those sizes as a hard cap, so a lying header cannot get more):

- a stored (uncompressed) member must declare equal stored and uncompressed sizes that fit in the
  archive: its bytes are on disk, so reading it costs no more memory than the file's size;
- a compressed member over ``SMALL_MEMBER`` (1 MiB) may expand at most ``MAX_RATIO`` (100x):
  real weights deflate to about 0.9 of their size, JSON configs to 1/5-1/20, zero-filled bombs to
  1/1000;
- all compressed members together may inflate to at most ``max_inflated()`` bytes: 16 GiB by
  default, or the ``ZEROGRAD_KERAS_MAX_INFLATED`` environment variable (bytes).

Keras's own files store their weights uncompressed, so only the two limits on compressed
members can refuse a file, and only one that inflates beyond 100x or 16 GiB.
"""

from __future__ import annotations

import datetime
import json
import os
import struct
import zipfile
import zlib

from zerograd.io.errors import FileFormatError

KERAS_FORMAT_VERSION = "3.15.1"  # the Keras release whose file layout this writes
MAX_JSON = 64 * 2**20  # a config larger than this is not a model config
MAX_METADATA = 2**20  # metadata.json holds two short strings
SMALL_MEMBER = 2**20  # members this small are read whatever their compression ratio
MAX_RATIO = 100  # the most a compressed member over SMALL_MEMBER may expand
DEFAULT_MAX_INFLATED = 16 * 2**30
WEIGHT_MEMBERS = ("model.weights.h5", "model.weights.safetensors")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

# what the zip and zlib modules raise on a damaged archive (struct/Unicode: broken headers,
# NotImplementedError: an unknown compression method, RuntimeError: an encrypted member)
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    struct.error,
    UnicodeDecodeError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    OverflowError,
)


def max_inflated() -> int:
    """The byte limit on what a model file's compressed members may inflate to, all together."""
    value = os.environ.get("ZEROGRAD_KERAS_MAX_INFLATED")
    if value is None:
        return DEFAULT_MAX_INFLATED
    try:
        limit = int(value)
    except ValueError:
        limit = -1
    if limit <= 0:
        raise ValueError(
            f"ZEROGRAD_KERAS_MAX_INFLATED must be a positive number of bytes, received {value!r}"
        )
    return limit


def metadata() -> bytes:
    """metadata.json: the format version and the save date."""
    now = datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")
    return json.dumps({"keras_version": KERAS_FORMAT_VERSION, "date_saved": now}).encode()


def write_archive(
    path, config: dict, weights_name: str, weights: bytes, overwrite: bool = True
) -> None:
    """The zip at ``path``, written to a temporary file, then moved into place (with
    ``overwrite=False`` an existing file is never replaced: FileExistsError)."""
    from zerograd.io.atomic import atomic_path

    with atomic_path(path, overwrite=overwrite) as tmp, zipfile.ZipFile(tmp, "w") as z:
        z.writestr("metadata.json", metadata(), zipfile.ZIP_DEFLATED)
        z.writestr("config.json", json.dumps(config), zipfile.ZIP_DEFLATED)
        z.writestr(weights_name, weights, zipfile.ZIP_STORED)


class _Reader:
    """Reads members of one open archive, checking each declared size before inflating it."""

    def __init__(self, z: zipfile.ZipFile, path: str, loader: str, archive_size: int):
        self.z, self.path, self.loader = z, path, loader
        self.archive_size = archive_size
        self.inflated = 0  # bytes the compressed members read so far inflate to
        self.limit = max_inflated()

    def fail(self, problem: str):
        return FileFormatError(self.path, problem, loader=self.loader)

    def read(self, name: str, limit: int | None = None) -> bytes:
        info = self.z.getinfo(name)
        size, stored = info.file_size, info.compress_size
        if info.flag_bits & 0x1:
            raise self.fail(f"member {name!r} is encrypted; a model file is never encrypted")
        if stored > self.archive_size:
            raise self.fail(
                f"member {name!r} declares {stored} stored bytes, more than the whole file "
                f"({self.archive_size} bytes): the zip's header lies or the file is truncated"
            )
        if limit is not None and size > limit:
            raise self.fail(
                f"member {name!r} declares {size} bytes; refusing it (at most {limit} bytes)"
            )
        if info.compress_type == zipfile.ZIP_STORED:
            if size != stored:
                raise self.fail(
                    f"member {name!r} is stored uncompressed but declares {size} bytes for "
                    f"{stored} stored: the zip's header lies"
                )
        else:
            if size > SMALL_MEMBER and size > MAX_RATIO * max(stored, 1):
                raise self.fail(
                    f"member {name!r} declares {size} bytes uncompressed from {stored} "
                    f"compressed, a ratio over {MAX_RATIO}x; refusing it before inflating (a zip "
                    "bomb, or a damaged header)"
                )
            if self.inflated + size > self.limit:
                raise self.fail(
                    f"member {name!r} would inflate the compressed members to "
                    f"{self.inflated + size} bytes; refusing it before inflating (limit "
                    f"{self.limit} bytes; set ZEROGRAD_KERAS_MAX_INFLATED to raise it)"
                )
            self.inflated += size
        try:
            with self.z.open(name) as f:  # zipfile never returns more than the declared size
                data = f.read(size)
        except ZIP_ERRORS as e:
            raise self.fail(f"member {name!r} is damaged ({type(e).__name__}: {e})") from None
        if len(data) != size:
            raise self.fail(
                f"member {name!r} holds {len(data)} bytes, not the {size} its header declares"
            )
        return data

    def json(self, name: str, limit: int) -> dict:
        try:
            value = json.loads(self.read(name, limit))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
            raise self.fail(f"{name} is not valid JSON ({type(e).__name__}: {e})") from None
        if not isinstance(value, dict):
            raise self.fail(
                f"{name} must hold a JSON object, found a JSON {type(value).__name__}: "
                f"{_short(value)}"
            )
        return value


def _short(value, n: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


def _not_a_zip(path: str, loader: str, detail) -> FileFormatError:
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        head = b""
    hint = ""
    if head[:4] == b"PK\x03\x04":
        hint = "; it starts as a zip does: the file is truncated or damaged"
    elif head == HDF5_SIGNATURE:
        hint = (
            "; it is an HDF5 file (a weights file, or Keras 2's legacy '.h5' model, which "
            "zerograd does not read): load it with model.load_weights()"
        )
    return FileFormatError(
        path, f"not a valid .keras file (a zip archive): {detail}{hint}", loader=loader
    )


def read_archive(path, loader: str = "load_model") -> tuple[dict, str, bytes]:
    """(config, weights member name, weights bytes) of a model zip.

    Raises:
        FileNotFoundError: no file at ``path``.
        FileFormatError: the file is not a readable model archive (the message says why).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{loader}: no file at {path!r}")
    if os.path.isdir(path):
        raise FileFormatError(path, "is a directory, not a .keras file", loader=loader)
    with open(path, "rb") as f:  # a file that cannot be opened (permissions) is not a bad file
        try:
            z = zipfile.ZipFile(f)
        except ZIP_ERRORS as e:
            raise _not_a_zip(path, loader, f"{type(e).__name__}: {e}") from None
        with z:
            return _read_members(_Reader(z, path, loader, os.fstat(f.fileno()).st_size))


def _read_members(reader: _Reader) -> tuple[dict, str, bytes]:
    names = set(reader.z.namelist())
    if "config.json" not in names:
        raise reader.fail(
            f"a zip without config.json, not a Keras model file (members: {_short(sorted(names))})"
        )
    if "metadata.json" in names:
        meta = reader.json("metadata.json", MAX_METADATA)
        version = meta.get("keras_version")
        if version is not None and not isinstance(version, str):
            raise reader.fail(
                f"metadata.json: keras_version must be a string, found {_short(version)}"
            )
    config = reader.json("config.json", MAX_JSON)
    for member in WEIGHT_MEMBERS:
        if member in names:
            return config, member, reader.read(member)
    if "model.weights.npz" in names:
        raise reader.fail("holds npz weights (model.weights.npz), which zerograd does not read")
    return config, "", b""
