"""Throughput of gan_lab's training loop against a plain PyTorch loop doing the same work.

WGAN-GP on 8 Gaussians with the WGAN-GP paper's toy settings: generator and critic of 3 hidden layers of
512 ReLU units, batch 256, 5 critic steps per generator step, penalty weight 0.1, Adam lr 1e-4 with
betas (0.5, 0.9). Both loops run in this process, alternating, and the median of the rounds is reported
as generator iterations per second. The matrix-multiply work of one iteration is counted with
torch's profiler and set against this machine's measured sgemm rate.

    python benchmarks/toy_wgan_gp.py [--iters 30] [--rounds 3] [--threads N]

Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch.profiler import ProfilerActivity, profile

import gan_lab as gl
from _plain_wgan_gp import BATCH, BETAS, LAM, LR, N_CRITIC, NOISE, WIDTH, PlainLoop


def gan_lab_run(iters: int, seed: int = 0) -> float:
    """Seconds for ``iters`` generator iterations of gl.train with the same settings (no evaluation)."""
    t = time.perf_counter()
    gl.train("8gaussians", objective="wgan-gp", steps=iters, batch_size=BATCH, n_critic=N_CRITIC,
             penalty_weight=LAM, lr_g=LR, lr_d=LR, betas=BETAS, width=WIDTH, depth=3, noise_dim=NOISE,
             log_every=iters, eval_samples=0, progress=False, seed=seed, device="cpu")
    return time.perf_counter() - t


def plain_run(iters: int, seed: int = 0) -> float:
    t = time.perf_counter()
    loop = PlainLoop(seed)
    for _ in range(iters):
        loop.iteration()
    return time.perf_counter() - t


def matmul_flops_per_iteration() -> dict:
    """Multiply-add FLOPs (2 per multiply-add) that each loop dispatches in one generator iteration."""
    counts = {}
    for name, run in (("plain", plain_run), ("gan_lab", gan_lab_run)):
        with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
            run(1)
        counts[name] = sum(e.flops for e in prof.events() if e.flops)
    return counts


def sgemm_gflops(repeats: int = 200) -> float:
    """This machine's float32 matrix-multiply rate on the loop's typical shape (512 x 512 by 512 x 512)."""
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    for _ in range(20):
        a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * 512 ** 3 * repeats / (time.perf_counter() - t) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iters", type=int, default=30, help="generator iterations per timed round")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per loop (median reported)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.iters < 1 or args.rounds < 1 or args.threads < 0:
        parser.error(f"iters and rounds must be >= 1 and threads >= 0, got {vars(args)}")
    if args.threads:
        torch.set_num_threads(args.threads)

    gan_lab_run(3), plain_run(3)                      # warm-up
    ours, plain = [], []
    for _ in range(args.rounds):                      # alternate, so drift hits both alike
        ours.append(args.iters / gan_lab_run(args.iters))
        plain.append(args.iters / plain_run(args.iters))
    ours_its, plain_its = statistics.median(ours), statistics.median(plain)
    flops = matmul_flops_per_iteration()
    sgemm = sgemm_gflops()
    achieved = flops["gan_lab"] * ours_its / 1e9
    print(json.dumps({
        "gan_lab_its_per_s": round(ours_its, 3),
        "plain_its_per_s": round(plain_its, 3),
        "ratio": round(ours_its / plain_its, 3),
        "rounds_gan_lab": [round(x, 3) for x in ours],
        "rounds_plain": [round(x, 3) for x in plain],
        "matmul_gflop_per_iteration": {k: round(v / 1e9, 3) for k, v in flops.items()},
        "gan_lab_matmul_gflops": round(achieved, 1),
        "plain_matmul_gflops": round(flops["plain"] * plain_its / 1e9, 1),
        "sgemm_gflops": round(sgemm, 1),
        "gan_lab_fraction_of_sgemm": round(achieved / sgemm, 3),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
