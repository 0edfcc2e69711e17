"""Files: safetensors weights, JSON configs and training checkpoints, written atomically
(``zerograd.io``)."""

from zerograd.io.atomic import atomic_path, clean_stale_temps
from zerograd.io.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from zerograd.io.config import load_json, save_json
from zerograd.io.errors import FileFormatError
from zerograd.io.weights import load_safetensors, read_metadata, save_safetensors
