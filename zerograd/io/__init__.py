"""Files: safetensors weights and JSON configs, written atomically (``zerograd.io``)."""

from zerograd.io.atomic import atomic_path
from zerograd.io.config import load_json, save_json
from zerograd.io.errors import FileFormatError
from zerograd.io.weights import load_safetensors, read_metadata, save_safetensors
