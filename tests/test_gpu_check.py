"""scripts/gpu_check.sh: the prepared GPU check runs every step on the CPU with --dry-run, and refuses to
pretend without a GPU. (On a GPU it runs the same code at real sizes; CI has none.)"""
import json
import os
import subprocess
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def test_dry_run_runs_every_step_on_the_cpu_and_writes_one_summary(tmp_path):
    env = dict(os.environ, OUT=str(tmp_path), OMP_NUM_THREADS="1")
    proc = subprocess.run(["bash", "scripts/gpu_check.sh", "--dry-run"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    summary = json.loads((tmp_path / "gpu_check.json").read_text())
    failed = {k: v.get("error") for k, v in summary["steps"].items() if not v["ok"]}
    assert proc.returncode == 0 and not failed, (failed, proc.stderr[-3000:])
    assert set(summary["steps"]) == {"amp", "images_benchmark", "batched_seeds", "chapter6_full", "work_estimate"}
    assert summary["device"] == "cpu" and summary["dry_run"] is True
    amp = summary["steps"]["amp"]
    assert amp["auto_dtype"] == "None" and amp["float16_overflow_skipped"] is True
    assert set(summary["steps"]["batched_seeds"]) >= {"K=1", "K=2"}
    assert summary["steps"]["chapter6_full"]["seconds_per_step"] > 0
    estimate = summary["steps"]["work_estimate"]
    for run in ("toy_wgan_gp", "images"):
        assert estimate[run]["dispatches"] > 0 and estimate[run]["measured_s"] > 0 and estimate[run]["estimate_s"] > 0
    assert "08_robustness" in estimate["full_budget_estimates_minutes"]


def test_without_cuda_and_without_dry_run_it_says_so():
    if torch.cuda.is_available():
        return  # on a GPU machine the real check is what runs; nothing to refuse
    proc = subprocess.run(["bash", "scripts/gpu_check.sh"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no CUDA device" in proc.stderr
