"""Utilities: numerical gradient check, graph export."""

from zerograd.utils.gradcheck import GradcheckError, gradcheck
from zerograd.utils.graph import to_dot

__all__ = ["GradcheckError", "gradcheck", "to_dot"]
