"""The style-based generator (``gan_lab.style.StyleGenerator``) against convnets' generators: parameters and
the time of one forward + backward pass.

Each generator maps a batch of z (``--batch`` x ``--noise-dim``) to images of ``--size`` px; the pass is
G(z) -> a fixed random projection of the output summed -> backward, in training mode (the style generator
with its random noise and mixing regularisation, as ``images.train_images`` would run it). Rounds
alternate between the networks; the median round's seconds per pass are reported.

    python benchmarks/style_generator.py [--size 32] [--batch 64] [--width 64] [--rounds 5] [--threads 1]
                                         [--device cpu]

Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from gan_lab import convnets, style


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=32, choices=style.SIZES)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--noise-dim", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    for name in ("batch", "width", "noise_dim", "rounds", "threads"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    torch.manual_seed(0)
    nets = {
        "style": style.StyleGenerator(args.noise_dim, size=args.size, width=args.width),
        "dcgan": convnets.generator_for("dcgan", args.noise_dim, args.size, args.width),
        "resnet": convnets.generator_for("resnet", args.noise_dim, args.size, args.width),
    }
    g = torch.Generator().manual_seed(1)
    z = torch.randn(args.batch, args.noise_dim, generator=g).to(dev)
    projection = torch.randn(args.batch, 3, args.size, args.size, generator=g).to(dev)
    for net in nets.values():
        net.to(dev).train()

    def one_pass(net: torch.nn.Module) -> float:
        net.zero_grad(set_to_none=True)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        (net(z) * projection).sum().backward()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    for net in nets.values():          # warm-up
        one_pass(net)
    seconds: dict[str, list[float]] = {name: [] for name in nets}
    for _ in range(args.rounds):
        for name, net in nets.items():
            seconds[name].append(one_pass(net))
    report = {"size": args.size, "batch": args.batch, "width": args.width, "noise_dim": args.noise_dim,
              "threads": args.threads, "device": str(dev), "torch": torch.__version__,
              "n_styles": nets["style"].n_styles}
    for name, net in nets.items():
        report[name] = {"parameters": sum(p.numel() for p in net.parameters()),
                        "seconds_per_forward_backward": round(statistics.median(seconds[name]), 4)}
    report["style_over_dcgan_time"] = round(report["style"]["seconds_per_forward_backward"]
                                            / report["dcgan"]["seconds_per_forward_backward"], 2)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
