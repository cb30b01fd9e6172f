"""K seeds trained as one batched computation (``gl.train_seeds``) against K separate ``gl.train`` runs.

Both sides do the same work: K runs of WGAN-GP (or another ``--objective``) on 8 Gaussians with
gan_lab's default settings for that objective unless ``--width`` / ``--depth`` say otherwise, no evaluation
during training (``eval_samples=0``). Rounds alternate between the two sides; the median round is reported
as seed-steps per second (generator steps times seeds, per wall second) and their ratio.

    python benchmarks/batched_seeds.py [--seeds 8] [--steps 100] [--rounds 3] [--threads N]
                                       [--objective wgan-gp] [--width W] [--depth D] [--device cpu]

Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

import gan_lab as gl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--objective", default="wgan-gp", choices=("gan", "wgan-clip", "wgan-gp"))
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--depth", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    for name in ("seeds", "steps", "rounds", "threads"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    torch.set_num_threads(args.threads)

    sizes = {k: v for k, v in (("width", args.width), ("depth", args.depth)) if v is not None}
    options = dict(objective=args.objective, steps=args.steps, eval_samples=0, progress=False,
                   device=args.device, **sizes)
    seeds = list(range(args.seeds))

    def sync() -> None:
        if torch.device(args.device).type == "cuda":
            torch.cuda.synchronize()

    def batched() -> float:
        start = time.perf_counter()
        gl.train_seeds("8gaussians", seeds=seeds, **options)
        sync()
        return time.perf_counter() - start

    def sequential() -> float:
        start = time.perf_counter()
        for s in seeds:
            gl.train("8gaussians", seed=s, **options)
        sync()
        return time.perf_counter() - start

    # one short warm-up of each (allocator, kernels), then alternating timed rounds
    gl.train_seeds("8gaussians", seeds=seeds, **{**options, "steps": 2})
    gl.train("8gaussians", seed=0, **{**options, "steps": 2})
    times = {"batched": [], "sequential": []}
    for _ in range(args.rounds):
        times["batched"].append(batched())
        times["sequential"].append(sequential())
    work = args.seeds * args.steps
    rate = {k: work / statistics.median(v) for k, v in times.items()}
    cfg = gl.TrainConfig(**{k: v for k, v in options.items() if k != "device"}).resolved()
    print(json.dumps({
        "benchmark": "batched_seeds",
        "objective": args.objective, "seeds": args.seeds, "steps": args.steps, "rounds": args.rounds,
        "width": cfg.width, "depth": cfg.depth, "batch_size": cfg.batch_size, "n_critic": cfg.n_critic,
        "device": args.device, "threads": args.threads, "torch": torch.__version__,
        "seconds": {k: [round(t, 3) for t in v] for k, v in times.items()},
        "seed_steps_per_s": {k: round(v, 2) for k, v in rate.items()},
        "speedup_batched_over_sequential": round(rate["batched"] / rate["sequential"], 3),
    }, indent=2))


if __name__ == "__main__":
    main()
