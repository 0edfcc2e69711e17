import numpy as np
import pytest

import zerograd as zg


@pytest.fixture(autouse=True)
def _seed():
    zg.manual_seed(0)
    np.random.seed(0)
    yield
