"""Training throughput of the image WGAN-GP: ``gl.images.train_images`` against a plain PyTorch loop.

Both sides do the same work per generator step, at the WGAN-GP paper's image settings: DCGAN generator
and critic of the same shapes (``gl.convnets``, width 64), batch 64, 5 critic steps per generator step,
penalty weight 10, Adam lr 1e-4 with betas (0, 0.9).

- gan_lab: ``gl.images.train_images`` (batches indexed from an in-memory tensor with one seeded
  generator; LeakyReLU with a cheaper double backward; mixed precision on CUDA with ``--amp auto``).
- plain: the textbook loop written directly against torch: ``nn.LeakyReLU``, a shuffling ``DataLoader``
  over a ``TensorDataset``, the penalty with ``torch.autograd.grad(create_graph=True)``, float32.

Reported per size: generator steps per second and *training images per second*, the real images the
critic consumes (steps x n_critic x batch per second), for each side, and their ratio (gan_lab / plain).
Each side first runs ``--warmup`` steps untimed (allocations, cuDNN autotuning), then ``--steps`` timed
steps; the sides alternate over ``--rounds`` rounds so drift in the machine's load hits both alike, and
the median is reported.

    python benchmarks/images_wgan_gp.py [--sizes 32 64] [--steps 5] [--rounds 2] [--threads 1]
                                        [--device cpu|cuda] [--width 64] [--batch 64]

Prints one JSON object. On the 2-core CPU here a 64 px step takes seconds: the default run takes a few
minutes.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import torch
from torch import nn

import gan_lab as gl

N_CRITIC, LAM, LR, BETAS, NOISE, N_IMAGES = 5, 10.0, 1e-4, (0.0, 0.9), 128, 512


def plain_generator(size: int, width: int) -> nn.Module:
    """The DCGAN generator of ``gl.convnets.Generator(kind="dcgan")``, written out with plain modules."""
    k = int(math.log2(size // 4))
    c = width * 2 ** (k - 1)
    layers: list[nn.Module] = [nn.Linear(NOISE, 4 * 4 * c), nn.BatchNorm1d(4 * 4 * c), nn.ReLU(),
                               nn.Unflatten(1, (c, 4, 4))]
    for i in range(k):
        c_out = 3 if i == k - 1 else c // 2
        layers.append(nn.ConvTranspose2d(c, c_out, 4, stride=2, padding=1))
        layers += [nn.BatchNorm2d(c_out), nn.ReLU()] if i < k - 1 else [nn.Tanh()]
        c = c_out
    return nn.Sequential(*layers)


def plain_critic(size: int, width: int) -> nn.Module:
    """The DCGAN critic of ``gl.convnets.Critic(kind="dcgan")``, with ``nn.LeakyReLU``."""
    k = int(math.log2(size // 4))
    layers: list[nn.Module] = []
    c_in, c = 3, width
    for _ in range(k):
        layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        c_in, c = c, c * 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(4 * 4 * c_in, 1), nn.Flatten(0))


class PlainLoop:
    """The textbook image WGAN-GP loop."""

    def __init__(self, images: torch.Tensor, size: int, width: int, batch: int, device: torch.device) -> None:
        torch.manual_seed(0)
        self.G, self.D = plain_generator(size, width).to(device), plain_critic(size, width).to(device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=LR, betas=BETAS)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=LR, betas=BETAS)
        self.loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images), batch_size=batch,
                                                  shuffle=True, drop_last=True)
        self.batches = iter(self.loader)
        self.batch, self.device = batch, device

    def real_batch(self) -> torch.Tensor:
        try:
            (x,) = next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            (x,) = next(self.batches)
        return x.to(self.device)

    def step(self) -> None:
        G, D, B, dev = self.G, self.D, self.batch, self.device
        for p in D.parameters():
            p.requires_grad_(True)
        for _ in range(N_CRITIC):
            real = self.real_batch()
            with torch.no_grad():
                fake = G(torch.randn(B, NOISE, device=dev))
            eps = torch.rand(B, 1, 1, 1, device=dev)
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
            penalty = ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
            loss_d = D(fake).mean() - D(real).mean() + LAM * penalty
            self.opt_d.zero_grad()
            loss_d.backward()
            self.opt_d.step()
        for p in D.parameters():
            p.requires_grad_(False)
        loss_g = -D(G(torch.randn(B, NOISE, device=dev))).mean()
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_plain(images: torch.Tensor, size: int, args, device: torch.device) -> float:
    loop = PlainLoop(images, size, args.width, args.batch, device)
    for _ in range(args.warmup):
        loop.step()
    sync(device)
    t = time.perf_counter()
    for _ in range(args.steps):
        loop.step()
    sync(device)
    return time.perf_counter() - t


def time_gan_lab(images: torch.Tensor, size: int, args, device: torch.device) -> float:
    """Seconds for ``args.steps`` generator steps of train_images, after ``args.warmup`` untimed ones.

    ``on_log`` at every step records the time, so the warm-up (network construction, first allocations)
    is left out just as on the plain side; logging one step costs a few float() calls.
    """
    stamps: list[float] = []

    def on_log(result) -> None:
        sync(device)
        stamps.append(time.perf_counter())

    gl.images.train_images(images, size=size, width=args.width, kind="dcgan", batch_size=args.batch,
                           n_critic=N_CRITIC, penalty_weight=LAM, lr=LR, betas=BETAS, noise_dim=NOISE,
                           steps=args.warmup + args.steps, log_every=1, snapshots=0, progress=False,
                           amp=args.amp, device=device, on_log=on_log)
    return stamps[-1] - stamps[args.warmup - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--steps", type=int, default=5, help="timed generator steps per side and round")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", default="auto", choices=["auto", "off", "bfloat16", "float16"],
                    help="gan_lab's mixed precision: auto = on CUDA only; a dtype = that autocast on any device")
    args = ap.parse_args()
    for name in ("steps", "warmup", "rounds", "width", "batch", "threads"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if any(s not in gl.convnets.SIZES for s in args.sizes):
        ap.error(f"--sizes must be among {gl.convnets.SIZES}, got {args.sizes}")
    args.amp = False if args.amp == "off" else args.amp
    device = gl.settings.resolve_device(args.device)
    torch.set_num_threads(args.threads)

    out = {"device": str(device), "threads": args.threads, "width": args.width, "batch": args.batch,
           "n_critic": N_CRITIC, "steps_timed": args.steps, "rounds": args.rounds, "torch": torch.__version__,
           "sizes": {}}
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
    for size in args.sizes:
        images, _ = gl.data.shapes_dataset(gl.data.SHAPES_TRAIN, N_IMAGES // 2, size=size, seed=0)
        images = gl.data.to_tensor(images)
        seconds = {"gan_lab": [], "plain": []}
        for _ in range(args.rounds):
            seconds["gan_lab"].append(time_gan_lab(images, size, args, device))
            seconds["plain"].append(time_plain(images, size, args, device))
        row = {}
        for side, values in seconds.items():
            s = statistics.median(values)
            row[side] = {"seconds_per_step": s / args.steps,
                         "images_per_s": args.steps * N_CRITIC * args.batch / s,
                         "rounds_seconds": values}
        row["ratio"] = row["gan_lab"]["images_per_s"] / row["plain"]["images_per_s"]
        out["sizes"][str(size)] = row
        print(f"[{size} px] gan_lab {row['gan_lab']['images_per_s']:.0f} images/s, "
              f"plain {row['plain']['images_per_s']:.0f} images/s, ratio {row['ratio']:.2f}", flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
