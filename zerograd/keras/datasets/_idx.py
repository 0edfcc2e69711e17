"""Finding, downloading and parsing IDX files (the MNIST family's format). No pickle anywhere."""

from __future__ import annotations

import gzip
import os
import struct
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Parse an IDX file (optionally gzipped) into an array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:  # truncated or not gzip at all
        from zerograd.io.errors import FileFormatError

        raise FileFormatError(
            path, f"not a complete gzip file ({e}); delete it and fetch it again", "read_idx"
        ) from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file (bad magic number {data[:4]!r})")
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_TYPES[data[2]])
    body = np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(
            f"read_idx: {path} holds {body.size} values, its header says shape {shape}"
        )
    return body.reshape(shape).astype(dtype.newbyteorder("="))


def search_dirs(name: str, debian_dir: str) -> list[Path]:
    """Where a dataset is looked for, in order."""
    dirs = []
    if os.environ.get("ZEROGRAD_DATA"):
        base = Path(os.environ["ZEROGRAD_DATA"]).expanduser()
        dirs += [base / name, base]
    dirs += [Path("~/.cache/zerograd").expanduser() / name, Path(debian_dir)]
    return dirs


def find_or_download(
    name: str, files: dict, debian_dir: str, base_url: str, download: bool | None
) -> dict:
    """Paths of ``files`` (key -> file name) from the first directory that has them all; else
    download them into the cache when allowed, else raise saying where we looked."""
    dirs = search_dirs(name, debian_dir)
    for d in dirs:
        found = {k: d / f for k, f in files.items()}
        if all(p.exists() for p in found.values()):
            return found
    if download is None:
        download = os.environ.get("ZEROGRAD_ALLOW_DOWNLOAD", "") not in ("", "0")
    if not download:
        looked = "\n  ".join(str(d) for d in dirs)
        raise FileNotFoundError(
            f"{name}: the files {sorted(files.values())} were not found. Looked in:\n  {looked}\n"
            f"Install the Debian package (apt-get install dataset-{name}), put the files in "
            f"$ZEROGRAD_DATA/{name}, or allow a download with ZEROGRAD_ALLOW_DOWNLOAD=1 or load_data(download=True)."
        )
    cache = Path("~/.cache/zerograd").expanduser() / name
    cache.mkdir(parents=True, exist_ok=True)
    for f in files.values():
        target = cache / f
        if target.exists():
            continue
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".part-")
        os.close(fd)
        try:
            urllib.request.urlretrieve(base_url + f, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return {k: cache / f for k, f in files.items()}


def load_idx_dataset(name: str, debian_dir: str, base_url: str, download: bool | None):
    files = {
        "x_train": "train-images-idx3-ubyte.gz",
        "y_train": "train-labels-idx1-ubyte.gz",
        "x_test": "t10k-images-idx3-ubyte.gz",
        "y_test": "t10k-labels-idx1-ubyte.gz",
    }
    paths = find_or_download(name, files, debian_dir, base_url, download)
    a = {k: read_idx(p) for k, p in paths.items()}
    return (a["x_train"], a["y_train"]), (a["x_test"], a["y_test"])
