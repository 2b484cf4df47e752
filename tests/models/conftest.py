"""Shared settings for the model tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def single_torch_thread():
    """Run model tests on one intra-op thread.

    Tests use tiny inputs, where one thread is about as fast as two, and a
    busy machine (another job on the same cores) makes multi-threaded CPU
    kernels spin: 30 training steps went from 6 s to over 3 minutes.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
