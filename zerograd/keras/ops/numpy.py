"""``keras.ops.numpy``: the NumPy-style ops, gathered from their topical files."""

from zerograd.keras.ops.array import *  # noqa: F403
from zerograd.keras.ops.creation import *  # noqa: F403
from zerograd.keras.ops.elementwise import *  # noqa: F403
from zerograd.keras.ops.logic import *  # noqa: F403
from zerograd.keras.ops.products import *  # noqa: F403
from zerograd.keras.ops.reduction import *  # noqa: F403
from zerograd.keras.ops.search import *  # noqa: F403
from zerograd.keras.ops.statistics import *  # noqa: F403
from zerograd.keras.ops.trigonometry import *  # noqa: F403
