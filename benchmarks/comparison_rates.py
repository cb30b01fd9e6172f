"""The learning-rate sweep behind the comparison page (book/05_comparison.ipynb).

Every objective of the page gets the same tuning: the same grid of learning rates, the same networks,
batch, data (8 Gaussians) and number of generator steps as the page's book budget, on seeds the page does
not use (100, 101, 102; ``GAN_LAB_SEED_OFFSET`` shifts them as it shifts every seed). Per objective, the
rate whose seeds end with the lowest mean W1 wins (the last three logs' exact W1 on 1,000 points,
averaged, then the mean over seeds). What each objective keeps fixed:

- GAN, saturating and non-saturating: Adam (0.5, 0.9), one discriminator step per generator step;
  the rate is both networks' rate.
- WGAN with weight clipping: RMSProp, 5 critic steps, 100 critic steps at generator steps 1-25 and every
  500th (the WGAN authors' schedule), and the box c = 0.01 (512 / w)^(3/4) (``gl.lipschitz.matched_clip``)
  that gives a critic of width w the Lipschitz bound K(c) of the 512-wide toy critic clipped at 0.01
  (book/04_weight_clipping.ipynb). The rate is the critic's; the generator's is a third of it, the ratio
  of the weight-clipping chapter.
- WGAN-GP: Adam (0.5, 0.9), 3 critic steps (gan_lab's default), penalty weight 0.1 (the WGAN-GP authors'
  toy script); the rate is both networks' rate.
- Chapter 8's objectives (``gan_lab.objectives``), each with the GAN's protocol: Adam (0.5, 0.9), one critic
  step per generator step, the rate both networks' rate. LSGAN with labels (a, b, c) = (0, 1, 1); hinge
  (Lim & Ye 2017); hinge-sn: the hinge loss with every critic layer spectrally normalised
  (``TrainConfig.spectral_norm``), SN-GAN (Miyato et al. 2018).

    python benchmarks/comparison_rates.py [--arms gan-sat gan-ns wgan-clip wgan-gp lsgan hinge hinge-sn]
                                          [--steps 2500] [--rates 1e-4 2e-4 5e-4 1e-3 2e-3] [--threads 1]

A run takes about 12 minutes of CPU time on one thread for the first four arms and five rates (``--arms``
splits it into runs that can go in parallel; the three chapter-8 arms cost about what the GAN's do, the
spectrally normalised one a little more). It prints one JSON line per arm and rate as it goes, then one JSON
object: per arm, per rate, each seed's final W1 and modes covered (2,000 points, at least 20 high-quality
samples each), and the chosen rate.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

import gan_lab as gl

SEEDS = [100, 101, 102]
WIDTH, DEPTH, BATCH = 64, 3, 64
ARMS = ("gan-sat", "gan-ns", "wgan-clip", "wgan-gp", "lsgan", "hinge", "hinge-sn")


def arm_options(arm: str, rate: float) -> dict:
    if arm == "gan-sat":
        return dict(objective="gan", generator_loss="saturating", lr_g=rate, lr_d=rate)
    if arm == "gan-ns":
        return dict(objective="gan", generator_loss="non_saturating", lr_g=rate, lr_d=rate)
    if arm == "wgan-clip":
        return dict(objective="wgan-clip", clip=gl.lipschitz.matched_clip(WIDTH, depth=DEPTH), n_critic_early=100, lr_d=rate, lr_g=rate / 3)
    if arm == "wgan-gp":
        return dict(objective="wgan-gp", n_critic=3, lr_g=rate, lr_d=rate)
    if arm == "lsgan":
        return dict(objective="lsgan", n_critic=1, lr_g=rate, lr_d=rate)
    if arm in ("hinge", "hinge-sn"):
        return dict(objective="hinge", spectral_norm=arm == "hinge-sn", n_critic=1, lr_g=rate, lr_d=rate)
    raise ValueError(f"unknown arm {arm!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--rates", nargs="+", type=float, default=[1e-4, 2e-4, 5e-4, 1e-3, 2e-3])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.steps < 10 or any(not r > 0 for r in args.rates) or args.threads < 1:
        ap.error(f"steps must be >= 10, rates positive and threads >= 1, got {vars(args)}")
    torch.set_num_threads(args.threads)
    out: dict = dict(seeds=SEEDS, seed_offset=gl.settings.seed_offset(), width=WIDTH, depth=DEPTH,
                     batch_size=BATCH, steps=args.steps, rates=args.rates, arms={})
    for arm in args.arms:
        per_rate = {}
        for rate in args.rates:
            cpu = time.process_time()
            runs = gl.train_seeds("8gaussians", seeds=SEEDS, width=WIDTH, depth=DEPTH, batch_size=BATCH,
                                  steps=args.steps, log_every=args.steps // 10, eval_samples=1000,
                                  progress=False, **arm_options(arm, rate))
            w1 = [float(np.mean(r.history["w1"][-3:])) if r.diverged is None else float("inf") for r in runs]
            modes = [gl.metrics.mode_coverage(r.sample(2000, seed=7), "8gaussians").modes_covered
                     if r.diverged is None else 0 for r in runs]
            per_rate[str(rate)] = dict(w1=[round(v, 4) for v in w1], mean_w1=round(float(np.mean(w1)), 4),
                                       modes=modes, cpu_s=round(time.process_time() - cpu, 1))
            print(json.dumps({arm: {str(rate): per_rate[str(rate)]}}), flush=True)
        best = min(per_rate, key=lambda k: per_rate[k]["mean_w1"])
        out["arms"][arm] = dict(rates=per_rate, best=float(best))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
