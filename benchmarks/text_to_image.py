"""Milliseconds per step of chapter 9's text-to-image loop (GAN-CLS and the plain conditional GAN on captions)
at the book's 16 px shapes, one CPU thread by default: what a cell's steps will cost.

    .venv/bin/python benchmarks/text_to_image.py [--steps 60] [--width 16] [--batch-size 32] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from gan_lab import data
from gan_lab import text_to_image as t2i


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    classes = list(data.SHAPES_TEST)[:6]
    x, y = data.shapes_dataset(classes, 64, size=16, seed=0)
    x, y = data.to_tensor(x), torch.from_numpy(y)
    out = {}
    for matching_aware in (True, False):
        cfg = dict(steps=args.steps, log_every=args.steps, width=args.width, batch_size=args.batch_size,
                   matching_aware=matching_aware, progress=False, device=args.device)
        t2i.train_text_to_image(x, y, classes, **{**cfg, "steps": 5, "log_every": 5})    # warm-up
        start = time.perf_counter()
        t2i.train_text_to_image(x, y, classes, **cfg)
        ms = 1000 * (time.perf_counter() - start) / args.steps
        out["gan-cls" if matching_aware else "plain"] = round(ms, 2)
    print(json.dumps({"ms_per_step": out, **vars(args)}))


if __name__ == "__main__":
    main()
