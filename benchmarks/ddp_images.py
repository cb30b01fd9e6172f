"""Data-parallel image WGAN-GP: generator steps per second with 1 process and with N under torchrun.

The comparison is at a fixed *global* batch (the same run, to rounding): one process with batch N b
against N processes with batch b each (``gl.images.train_images`` under ``torchrun --standalone``, gloo
on the CPU, NCCL on GPUs). One process also runs with N threads, which is what the N processes' cores
could do for it without data parallelism.

Each configuration trains ``--warmup + --steps`` generator steps (5 critic steps each, penalty 10) and is
timed from the log at step ``--warmup`` to the last step, from the run's own history (build and process
start-up excluded); the configurations alternate over ``--rounds`` rounds and the median is reported.

    python benchmarks/ddp_images.py [--nproc 2] [--size 16] [--width 16] [--batch 64] [--steps 10]
                                    [--warmup 2] [--rounds 3] [--device cpu]

Prints one JSON object: steps/s per configuration and the speed-up of N processes over one.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import torch

import gan_lab as gl
from gan_lab import distributed


def train_and_time(size: int, width: int, batch: int, warmup: int, steps: int, device: str) -> float:
    """Steps per second of the steps after ``warmup`` (``batch`` is this process's share)."""
    torch.manual_seed(0)
    images = gl.data.to_tensor(gl.data.shapes_dataset(gl.data.SHAPES_TRAIN, 100, size=size, seed=0)[0])
    result = gl.images.train_images(images, size=size, width=width, batch_size=batch, steps=warmup + steps,
                                    log_every=warmup, snapshots=0, progress=False, device=device)
    seconds = result.history["seconds"]
    return steps / (seconds[-1] - seconds[0])


def worker(args: argparse.Namespace) -> None:
    """One rank under torchrun: train, and rank 0 prints the rate."""
    world = distributed.from_env()
    dev = torch.device("cuda", world.local_rank) if args.device == "cuda" else torch.device(args.device)
    with distributed.process_group(world, dev):
        rate = train_and_time(args.size, args.width, args.batch // world.size, args.warmup, args.steps, str(dev))
    if world.main:
        print(json.dumps({"steps_per_s": rate}))


def run(kind: str, args: argparse.Namespace) -> float:
    env = {**os.environ, "GAN_LAB_DEVICE": args.device}
    common = ["--size", str(args.size), "--width", str(args.width), "--batch", str(args.batch), "--steps",
              str(args.steps), "--warmup", str(args.warmup), "--device", args.device, "--worker"]
    if kind == "ddp":
        env["OMP_NUM_THREADS"] = "1"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(args.nproc),
               __file__, *common]
    else:
        env["OMP_NUM_THREADS"] = "1" if kind == "one_1_thread" else str(args.nproc)
        cmd = [sys.executable, __file__, *common]
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["steps_per_s"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--size", type=int, default=16)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--batch", type=int, default=64, help="the global batch, split over the processes")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        if "WORLD_SIZE" in os.environ:
            worker(args)
        else:
            torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
            print(json.dumps({"steps_per_s": train_and_time(args.size, args.width, args.batch, args.warmup,
                                                            args.steps, args.device)}))
        return
    if args.batch % args.nproc:
        raise SystemExit(f"--batch {args.batch} does not split over --nproc {args.nproc}")
    kinds = ["one_1_thread", f"one_{args.nproc}_threads", "ddp"] if args.device == "cpu" else ["one_1_thread", "ddp"]
    rates: dict = {k: [] for k in kinds}
    for _ in range(args.rounds):
        for kind in kinds:
            rates[kind].append(run(kind, args))
    median = {k: statistics.median(v) for k, v in rates.items()}
    print(json.dumps({"config": {k: v for k, v in vars(args).items() if k != "worker"},
                      "torch": torch.__version__, "steps_per_s": median, "rounds": rates,
                      "speedup_ddp_over_one_process_1_thread": median["ddp"] / median["one_1_thread"],
                      **({f"speedup_ddp_over_one_process_{args.nproc}_threads":
                          median["ddp"] / median[f"one_{args.nproc}_threads"]} if args.device == "cpu" else {})},
                     indent=1))


if __name__ == "__main__":
    main()
