"""Shared set-up for the unit tests of gan_lab.

- Plots draw off-screen (Agg), whatever the machine has.
- torch uses one intra-op thread: the networks here are tiny (width <= 64), where a second thread buys
  nothing, and on a busy 2-core machine two threads per process make each step 10-30x slower.
"""
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import torch  # noqa: E402

torch.set_num_threads(1)
