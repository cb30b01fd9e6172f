"""Everything gan-lab can only learn on a GPU, in one run of at most ~8 minutes, as one JSON summary.

    bash scripts/gpu_check.sh            # on a machine with CUDA
    bash scripts/gpu_check.sh --dry-run  # the same steps on the CPU at toy sizes (what a CPU-only CI checks)

Steps, each timed and reported on its own (a failing step is recorded, the others still run):

1. ``amp``: which autocast dtype ``amp="auto"`` picks on this GPU (compute capability), and tiny
   ``train_images`` runs with bfloat16 and float16 autocast: finite losses, float32 master weights, and a
   float16 run whose scaled gradient overflows skips the update (weights unchanged, scale backed off).
2. ``images_benchmark``: ``benchmarks/images_wgan_gp.py`` (gan_lab against a plain loop, 32 and 64 px).
3. ``batched_seeds``: ``benchmarks/batched_seeds.py`` at K = 1 and K = 16 seeds (1 and 2 in a dry run),
   seed-steps per second.
4. ``chapter6_full``: chapter 6's training cell at the full budget (64 px, width 64, batch 64, 5 critic
   steps) for a fixed number of generator steps: seconds per step, and the extrapolated time of the
   chapter's full schedule.
5. ``work_estimate``: how far ``gl.costs.report``'s estimate t = F/R + D*L + H is from a measurement on this
   device: the rates R and L calibrated here, a toy WGAN-GP run and a 64 px image run (16 px in a dry run) each counted
   (``gan_lab.work``) and timed, estimate / measured for both; then the estimate of every notebook at the
   full budget from the work in ``costs.json`` (what a GPU reader would be told).

The summary goes to ``$OUT/gpu_check.json`` when ``OUT`` is set, else ``_build/gpu_check.json``, and to
stdout. The exit status is 0 when every step passed.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from gan_lab import convnets, costs, data, images, settings, work  # noqa: E402
from gan_lab.train import train as train_toy  # noqa: E402

FULL_CHAPTER6_STEPS = 20_000   # the full budget's schedule in book/06_shapes_wgan_gp.ipynb


def _tiny_pictures(size: int) -> torch.Tensor:
    return data.to_tensor(data.shapes_dataset(data.SHAPES_TRAIN, 4, size=size, seed=0)[0])


def check_amp(device: str) -> dict:
    dev = torch.device(device)
    out: dict = {"auto_dtype": str(images._amp(images.ImageTrainConfig(), dev))}
    if dev.type == "cuda":
        out["capability"] = list(torch.cuda.get_device_capability(dev))
        out["name"] = torch.cuda.get_device_name(dev)
    pictures = _tiny_pictures(16)
    tiny = dict(size=16, width=8, batch_size=8, n_critic=2, steps=3, log_every=1, snapshots=2, sample_every=1,
                progress=False, device=device)
    for dtype in ("bfloat16", "float16"):
        r = images.train_images(pictures, **tiny, amp=dtype)
        finite = all(math.isfinite(v) for v in r.history["loss_d"] + r.history["loss_g"])
        master = {p.dtype for p in r.generator.parameters()} | {p.dtype for p in r.critic.parameters()}
        assert finite, f"{dtype}: non-finite losses {r.history}"
        assert master == {torch.float32}, f"{dtype}: master weights are {master}, expected float32"
        out[dtype] = {"finite": finite, "seconds": round(r.seconds, 3)}

    # float16: a loss whose scaled gradient overflows must be skipped, not written into the weights
    original = images.losses.wasserstein_generator_loss
    images.losses.wasserstein_generator_loss = lambda s: original(s) * 1e36
    try:
        r = images.train_images(pictures, **{**tiny, "steps": 2, "snapshots": 0}, amp="float16")
    finally:
        images.losses.wasserstein_generator_loss = original
    settings.seed_everything(0)
    untrained = convnets.Generator(128, 16, 8, "dcgan")
    unchanged = all(torch.equal(p.cpu(), q.detach().cpu())
                    for p, q in zip(untrained.parameters(), r.generator.parameters()))
    assert unchanged, "float16: an overflowing generator update was written into the weights"
    out["float16_overflow_skipped"] = unchanged
    return out


def _json_of(cmd: list[str]) -> dict:
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout[proc.stdout.index("{"):])


def check_images_benchmark(device: str, dry: bool) -> dict:
    args = (["--sizes", "16", "--steps", "1", "--warmup", "1", "--rounds", "1", "--width", "8", "--batch", "8"]
            if dry else ["--sizes", "32", "64", "--steps", "50", "--warmup", "5", "--rounds", "2"])
    return _json_of([sys.executable, "benchmarks/images_wgan_gp.py", "--device", device, *args])


def check_batched_seeds(device: str, dry: bool) -> dict:
    steps = ["--steps", "3", "--rounds", "1", "--width", "16", "--depth", "2"] if dry else ["--steps", "200"]
    return {f"K={k}": _json_of([sys.executable, "benchmarks/batched_seeds.py", "--device", device,
                                "--seeds", str(k), *steps]) for k in ((1, 2) if dry else (1, 16))}


def _timed(fn, device: str) -> float:
    """Wall seconds of ``fn()``, the device synchronised before and after."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def check_chapter6_full(device: str, dry: bool) -> dict:
    size, width, batch, steps = (16, 8, 8, 2) if dry else (64, 64, 64, 100)
    pictures = _tiny_pictures(size) if dry else data.to_tensor(
        data.shapes_dataset(data.SHAPES_TRAIN, 2000, size=size, seed=0)[0])
    cfg = images.ImageTrainConfig(size=size, width=width, batch_size=batch, n_critic=5, lr=1e-4, steps=steps,
                                  log_every=steps, snapshots=0, progress=False)
    images.train_images(pictures, cfg, steps=2, device=device)        # warm-up: allocations, autotuning
    runs = []
    per_step = _timed(lambda: runs.append(images.train_images(pictures, cfg, device=device)), device) / steps
    r = runs[0]
    return {"size": size, "width": width, "batch": batch, "steps": steps, "seconds_per_step": round(per_step, 4),
            "estimate_full_schedule_minutes": round(per_step * FULL_CHAPTER6_STEPS / 60, 1),
            "final_estimate": r.history["estimate"][-1]}


def check_work_estimate(device: str, dry: bool) -> dict:
    rates = costs.calibrate(torch.device(device))
    out: dict = {"flops_per_second": rates.flops_per_second, "seconds_per_dispatch": rates.seconds_per_dispatch}
    toy_steps = 20 if dry else 500
    size, width, batch, img_steps = (16, 8, 8, 2) if dry else (64, 64, 64, 20)
    pictures = _tiny_pictures(size) if dry else data.to_tensor(
        data.shapes_dataset(data.SHAPES_TRAIN, 500, size=size, seed=0)[0])
    cfg = images.ImageTrainConfig(size=size, width=width, batch_size=batch, n_critic=5, steps=img_steps,
                                  log_every=img_steps, snapshots=0, progress=False)
    runs = {"toy_wgan_gp": lambda: train_toy("8gaussians", steps=toy_steps, log_every=toy_steps, snapshots=0,
                                               progress=False, device=device),
            "images": lambda: images.train_images(pictures, cfg, device=device)}
    for name, run in runs.items():
        run()                                            # warm-up: allocations, kernel choice
        with work.count() as counter:
            run()
        measured = _timed(run, device)
        estimate = costs.estimate_seconds(counter.total, rates)
        out[name] = {"size": size} if name == "images" else {}
        out[name] |= {"flops": counter.total.flops, "dispatches": counter.total.dispatches,
                     "measured_s": round(measured, 3), "estimate_s": round(estimate, 3),
                     "estimate_over_measured": round(estimate / measured, 3)}
    table = costs.load()
    full = {nb: costs.work(nb, "full", table) for nb in sorted(table.get("work", {}))}
    out["full_budget_estimates_minutes"] = {nb: round(costs.estimate_seconds(w, rates) / 60, 1)
                                            for nb, w in full.items() if w is not None}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="run every step on the CPU at toy sizes")
    args = ap.parse_args()
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; use --dry-run to run the same steps on the CPU", file=sys.stderr)
        return 2
    device = "cpu" if args.dry_run else "cuda"
    summary: dict = {"device": device, "dry_run": args.dry_run, "torch": torch.__version__,
                     "python": platform.python_version(), "steps": {}}
    steps = {"amp": lambda: check_amp(device),
             "images_benchmark": lambda: check_images_benchmark(device, args.dry_run),
             "batched_seeds": lambda: check_batched_seeds(device, args.dry_run),
             "chapter6_full": lambda: check_chapter6_full(device, args.dry_run),
             "work_estimate": lambda: check_work_estimate(device, args.dry_run)}
    for name, step in steps.items():
        start = time.perf_counter()
        try:
            summary["steps"][name] = {"ok": True, **step()}
        except Exception as err:  # recorded; the other steps still run
            summary["steps"][name] = {"ok": False, "error": f"{type(err).__name__}: {err}",
                                      "trace": traceback.format_exc()[-3000:]}
        summary["steps"][name]["wall_s"] = round(time.perf_counter() - start, 2)
        print(f"gpu_check: {name}: {'ok' if summary['steps'][name]['ok'] else 'FAILED'} "
              f"({summary['steps'][name]['wall_s']} s)", file=sys.stderr)
    out_dir = Path(os.environ["OUT"]) if os.environ.get("OUT") else ROOT / "_build"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "gpu_check.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 0 if all(s["ok"] for s in summary["steps"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
