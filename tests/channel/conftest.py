import numpy as np
import pytest

from amrkit.channel import ChannelModel


@pytest.fixture
def rng():
    return np.random.default_rng(99)


@pytest.fixture
def model():
    return ChannelModel()
