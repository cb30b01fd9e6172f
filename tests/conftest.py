"""Shared set-up for the unit tests of gan_lab.

- Plots draw off-screen (Agg) in this process; notebook kernels keep their own inline backend.
- torch uses one intra-op thread: the networks here are tiny (width <= 64), where a second thread buys
  nothing, and on a busy 2-core machine two threads per process make each step 10-30x slower.
"""
import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

torch.set_num_threads(1)
