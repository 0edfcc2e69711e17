"""RoPE frequencies of the Llama family (``rope_theta`` and the ``rope_scaling`` types ``linear``,
``dynamic``, ``llama3``) and the cos/sin tables that the attention layers rotate by.

The angles are computed in float32 whatever the model's dtype, as transformers computes them (the
checkpoints were trained so): a float64 model then differs from transformers' float64 model only by
its own rounding, and the tables are constants, so gradients are unaffected.
"""

from __future__ import annotations

import math

import numpy as np

# the rope_scaling types read, with the keys each needs
ROPE_TYPES = {
    "default": (),
    "linear": ("factor",),
    "dynamic": ("factor",),
    "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"),
}


def rope_type(scaling: dict | None) -> str:
    """The type of a ``rope_scaling`` dict ('rope_type', or the older 'type'); 'default' for None."""
    if not scaling:
        return "default"
    return scaling.get("rope_type", scaling.get("type", "default"))


def inv_freq(head_dim: int, theta: float, scaling: dict | None, max_positions: int) -> np.ndarray:
    """The (head_dim / 2,) float32 inverse frequencies, theta^(-2i/d), scaled as ``scaling`` says
    (for ``dynamic``: the frequencies up to ``max_positions`` tokens, which are the plain ones)."""
    d = head_dim
    f = 1.0 / (theta ** (np.arange(0, d, 2, dtype=np.float64) / d))
    kind = rope_type(scaling)
    if kind == "linear":  # positions divided by the factor: the same as frequencies divided
        f = f / scaling["factor"]
    elif kind == "llama3":  # long wavelengths slowed by the factor, short ones kept, a ramp between
        factor = scaling["factor"]
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        old = scaling["original_max_position_embeddings"]
        wavelen = 2 * math.pi / f
        scaled = np.where(wavelen > old / low, f / factor, f)
        smooth = (old / wavelen - low) / (high - low)
        mid = (wavelen >= old / high) & (wavelen <= old / low)
        f = np.where(mid, (1 - smooth) * scaled / factor + smooth * scaled, scaled)
    return f.astype(np.float32)


def dynamic_inv_freq(
    head_dim: int, theta: float, factor: float, max_positions: int, seq_len: int
) -> np.ndarray:
    """Dynamic NTK scaling: beyond ``max_positions`` tokens the base grows with the length."""
    d = head_dim
    base = theta * ((factor * seq_len / max_positions) - (factor - 1)) ** (d / (d - 2))
    return (1.0 / (base ** (np.arange(0, d, 2, dtype=np.float64) / d))).astype(np.float32)


def _cos_sin(positions: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of positions x frequencies, each frequency twice (the two halves rotate alike)."""
    angles = positions.astype(np.float32)[..., None] * f  # (..., d/2) float32, as transformers
    angles = np.concatenate([angles, angles], axis=-1)  # (..., d)
    return np.cos(angles), np.sin(angles)


class RotaryTables:
    """cos/sin of every position up to the longest seen, grown lazily (doubling), per dtype.

    Example:
        >>> tables = RotaryTables(head_dim=8, theta=10000.0, scaling=None, max_positions=64)
        >>> cos, sin = tables(np.arange(5)[None], np.float32)
        >>> cos.shape                                    # (B, 1, T, head_dim): broadcast over heads
        (1, 1, 5, 8)
    """

    def __init__(self, head_dim: int, theta: float, scaling: dict | None, max_positions: int):
        self.head_dim, self.theta, self.max_positions = head_dim, theta, max_positions
        self.kind = rope_type(scaling)
        self.factor = (scaling or {}).get("factor", 1.0)
        self.inv_freq = inv_freq(head_dim, theta, scaling, max_positions)
        self._tables: dict = {}  # dtype -> (cos, sin), each (N, head_dim)

    def __call__(self, positions: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray]:
        """(cos, sin) of ``positions`` (B, T) as (B, 1, T, head_dim) arrays of ``dtype``."""
        n = int(positions.max()) + 1 if positions.size else 0
        if self.kind == "dynamic" and n > self.max_positions:
            # the frequencies depend on the length of this call: computed for these positions only
            f = dynamic_inv_freq(self.head_dim, self.theta, self.factor, self.max_positions, n)
            cos, sin = _cos_sin(positions, f)
            return cos.astype(dtype)[:, None], sin.astype(dtype)[:, None]
        dtype = np.dtype(dtype)
        table = self._tables.get(dtype)
        if table is None or len(table[0]) < n:
            size = max(n, 2 * len(table[0]) if table else 256)
            cos, sin = _cos_sin(np.arange(size), self.inv_freq)
            table = self._tables[dtype] = (cos.astype(dtype), sin.astype(dtype))
        return table[0][positions][:, None], table[1][positions][:, None]
