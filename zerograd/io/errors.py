"""The one error type every loader raises for a file it cannot read."""

from __future__ import annotations


class FileFormatError(ValueError):
    """A file that is missing parts, truncated, corrupt or of the wrong kind.

    Every zerograd loader (safetensors weights, JSON configs, Keras ``.keras`` and ``.weights.h5``
    files, ``from_pretrained`` directories, LoRA adapters, tokenizers) reports a bad file with this
    type; the message names the file and what is wrong. It is a ``ValueError``, so code that
    already catches ``ValueError`` keeps working.

    Example:
        >>> try:
        ...     load_safetensors('weights.safetensors')
        ... except FileFormatError as e:
        ...     print(e.path, e.problem)
    """

    def __init__(self, path, problem: str, loader: str | None = None):
        self.path = str(path)
        self.problem = problem
        self.loader = loader
        where = f"{loader}: " if loader else ""
        super().__init__(f"{where}{self.path!r}: {problem}")
