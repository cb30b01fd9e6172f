"""gan_lab.sweep: hydra multirun sweeps of `gan_lab train`, one job per run, and the one table they collect into."""
import csv
import json
import subprocess
import sys
import threading
import time

import pytest
from hydra.errors import HydraException

from gan_lab import lipschitz, sweep
from gan_lab.train import TrainConfig

TINY = ["data=8gaussians", "budget=quick", "train.steps=4", "train.width=8", "train.depth=1", "train.batch_size=16",
        "train.eval_samples=100", "evaluate.n=200"]


def gan_lab_sweep(*args, cwd):
    return subprocess.run([sys.executable, "-m", "gan_lab.sweep", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HOME": str(cwd)})


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    """2 objectives x 2 seeds on the 8 Gaussians, a few steps, two jobs at a time (hydra's joblib launcher) on
    two "GPUs" (on the CPU CUDA_VISIBLE_DEVICES changes nothing, but each job must get its own)."""
    root = tmp_path_factory.mktemp("sweep")
    start = time.perf_counter()
    proc = gan_lab_sweep(f"hydra.sweep.dir={root / 'out'}", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                         "gpus=[0,1]", "arm=gan-ns,wgan-gp", "seed=3,4", *TINY, cwd=root)
    return root / "out", proc, time.perf_counter() - start


def test_a_tiny_sweep_runs_one_gan_lab_train_per_job_into_the_sweep_folder(tiny_sweep):
    out, proc, seconds = tiny_sweep
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "4 jobs checked" in proc.stdout
    for arm in ("gan-ns", "wgan-gp"):
        for seed in (3, 4):
            job_dir = out / arm / "8gaussians" / f"seed{seed}"
            for name in ("run.pt", "history.json", "config.json", "samples.png", "evaluation.json", "job.json"):
                assert (job_dir / name).is_file(), (job_dir, name)
            job = json.loads((job_dir / "job.json").read_text())
            assert job["status"] == "done" and job["returncode"] == 0
            assert f"-m gan_lab train --data 8gaussians --seed {seed} --budget quick --out {job_dir}" \
                in job["train_command"]
            config = json.loads((job_dir / "config.json").read_text())
            assert config["objective"] == {"gan-ns": "gan", "wgan-gp": "wgan-gp"}[arm]
            assert (config["seed"], config["steps"], config["width"], config["depth"]) == (seed, 4, 8, 1)
            assert json.loads((job_dir / "history.json").read_text())["step"][-1] == 4
    print(f"tiny sweep: {seconds:.1f} s")


def test_jobs_running_at_once_hold_different_gpus(tiny_sweep):
    out, _, _ = tiny_sweep
    jobs = [json.loads(p.read_text()) for p in out.rglob("job.json")]
    assert sorted(j["gpu"] for j in jobs) == ["0", "0", "1", "1"]
    for a in jobs:
        for b in jobs:
            if a is not b and a["started"] < b["ended"] and b["started"] < a["ended"]:   # overlapping in time
                assert a["gpu"] != b["gpu"], (a, b)


def test_collect_gives_one_row_per_job_with_its_settings_and_scores(tiny_sweep, tmp_path, monkeypatch, capsys):
    out, _, _ = tiny_sweep
    for name in ("hydra", "omegaconf"):                 # collect needs no hydra: the sweep extra is optional
        monkeypatch.setitem(sys.modules, name, None)
    assert sweep.main(["collect", str(out), "--csv", str(tmp_path / "t.csv")]) == 0
    assert "4 jobs, 4 done" in capsys.readouterr().out
    rows = sweep.read_table(tmp_path / "t.csv")
    with open(tmp_path / "t.csv") as f:
        assert next(csv.reader(f)) == list(sweep.JOB_COLUMNS + sweep.SETTING_COLUMNS + sweep.RESULT_COLUMNS)
    assert sorted((r["arm"], r["seed"]) for r in rows) == [("gan-ns", 3), ("gan-ns", 4), ("wgan-gp", 3), ("wgan-gp", 4)]
    for r in rows:
        scores = json.loads((out / r["job_dir"] / "evaluation.json").read_text())
        assert r["w1"] == pytest.approx(scores["w1"]) and r["n_modes"] == 8
        history = json.loads((out / r["job_dir"] / "history.json").read_text())
        assert r["last_w1"] == pytest.approx(history["w1"][-1]) and r["last_step"] == 4
        assert (r["data"], r["budget"], r["status"], r["steps"], r["width"], r["batch_size"]) == \
            ("8gaussians", "quick", "done", 4, 8, 16)
        assert r["objective"] == {"gan-ns": "gan", "wgan-gp": "wgan-gp"}[r["arm"]]
        assert (r["lr_d"], r["n_critic"]) == {"gan-ns": (1e-4, 1), "wgan-gp": (1e-4, 5)}[r["arm"]]
    table = sweep.summary(rows)
    assert set(table) == {("gan-ns", "8gaussians"), ("wgan-gp", "8gaussians")}
    w1 = [r["w1"] for r in rows if r["arm"] == "wgan-gp"]
    assert table["wgan-gp", "8gaussians"]["seeds"] == [3, 4]
    assert table["wgan-gp", "8gaussians"]["mean"] == pytest.approx(sum(w1) / 2)


def test_a_sweep_runs_through_submitit_the_launcher_of_the_readmes_slurm_command(tmp_path):
    # No SLURM cluster here: submitit's local executor runs the jobs through the same hydra plugin and the same
    # pickled job function that sbatch would, each in its own process.
    proc = gan_lab_sweep(f"hydra.sweep.dir={tmp_path / 'out'}", "hydra/launcher=submitit_local",
                         "hydra.launcher.timeout_min=5", "arm=gan-ns,wgan-gp", "seed=3", *TINY, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = {p.parent.parent.parent.name: json.loads(p.read_text()) for p in (tmp_path / "out").rglob("job.json")}
    assert sorted(jobs) == ["gan-ns", "wgan-gp"]
    assert all(j["status"] == "done" and j["returncode"] == 0 for j in jobs.values())
    assert list((tmp_path / "out" / ".submitit").iterdir())   # submitit's own job folders: it ran them


def _readme_command(marker: str, fill: dict) -> list[str]:
    """The README's ``python -m gan_lab.sweep ...`` line that contains ``marker`` (continuation lines joined), its
    placeholders replaced as ``fill`` says."""
    import shlex
    from pathlib import Path
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text().replace("\\\n", " ")
    (line,) = [ln for ln in text.splitlines() if ln.startswith("python -m gan_lab.sweep") and marker in ln]
    for placeholder, value in fill.items():
        line = line.replace(placeholder, value)
    return shlex.split(line.split(" #")[0])[3:]


@pytest.mark.parametrize("marker, launcher, settings", [
    ("submitit_slurm", "SlurmLauncher", ["gpus_per_node: 1", "tasks_per_node: 1", "timeout_min: 600", "partition: gpu"]),
    ("hydra/launcher=joblib", "JoblibLauncher", ["n_jobs: 4"]),
])
def test_the_readmes_multi_gpu_and_slurm_commands_compose(tmp_path, marker, launcher, settings):
    # hydra composes the command's launcher settings (a misspelt key such as gpu_per_node is an error) without
    # submitting anything; the placeholder partition is filled in.
    args = _readme_command(marker, {"<your GPU partition>": "gpu", "$HOME": str(tmp_path)})
    proc = gan_lab_sweep(*args, "--cfg", "hydra", "-p", "hydra.launcher", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f".{launcher}" in proc.stdout and all(s in proc.stdout.splitlines() for s in settings), proc.stdout
    bad = gan_lab_sweep(*[a.replace("gpus_per_node", "gpu_per_node").replace("n_jobs", "n_job") for a in args],
                        "--cfg", "hydra", "-p", "hydra.launcher", cwd=tmp_path)
    assert bad.returncode != 0


def test_the_comparison_config_is_the_pages_grid_at_the_full_budget():
    jobs = [job for _, job in sweep.expand_sweep([])]
    assert len(jobs) == 60
    assert sorted({(j.arm, j.data, j.seed) for j in jobs}) == sorted(
        (a, d, s) for a in ("gan-sat", "gan-ns", "wgan-clip", "wgan-gp")
        for d in ("8gaussians", "25gaussians", "swissroll") for s in range(5))
    # book/05_comparison.ipynb at gl.budget() == "full": its `shared`, `steps`, `methods` and n_curve
    shared = dict(width=512, depth=3, batch_size=256, steps=20000, log_every=2000, eval_samples=1000)
    methods = {
        "gan-sat": dict(objective="gan", generator_loss="saturating", lr_d=1e-4, lr_g=1e-4),
        "gan-ns": dict(objective="gan", generator_loss="non_saturating", lr_d=1e-4, lr_g=1e-4),
        "wgan-clip": dict(objective="wgan-clip", clip=lipschitz.matched_clip(512, depth=3), n_critic_early=100,
                          lr_d=5e-5, lr_g=5e-5 * 1.0),
        "wgan-gp": dict(objective="wgan-gp", penalty_weight=0.1, n_critic=5, lr_d=1e-4, lr_g=1e-4),
    }
    for j in jobs:
        assert j.budget == "full" and (j.evaluate_n, j.evaluate_seed) == (2000, 2)
        page = TrainConfig(**shared, **methods[j.arm], seed=j.seed, progress=False).resolved()
        assert TrainConfig(**j.options, seed=j.seed, progress=False).resolved() == page, j


def test_the_shapes_config_sweeps_seeds_of_chapter_6s_run_at_the_budgets_settings():
    jobs = [job for _, job in sweep.expand_sweep([], "shapes")]
    assert [(j.data, j.seed, j.budget, dict(j.options)) for j in jobs] == [("shapes", s, "full", {}) for s in range(3)]
    (job,) = [job for _, job in sweep.expand_sweep(["seed=1", "train.lr=3e-4", "+train.kind=resnet"], "shapes")]
    assert job.train_argv("o")[-4:] == ["--lr", "0.0003", "--kind", "resnet"]
    with pytest.raises(ValueError, match="size must be one of"):
        sweep.expand_sweep(["train.size=20"], "shapes")


def test_a_sweep_over_a_setting_can_be_given_on_the_command_line():
    jobs = sweep.expand_sweep(["arm=wgan-gp", "data=swissroll", "seed=range(2)", "+train.n_critic=1,2",
                               "hydra.sweep.subdir=${arm.name}/${data}/seed${seed}/${hydra.job.override_dirname}"])
    assert sorted((j.seed, j.options["n_critic"]) for _, j in jobs) == [(0, 5), (0, 5), (1, 5), (1, 5)]  # arm wins
    jobs = sweep.expand_sweep(["arm=wgan-gp", "seed=0", "data=swissroll", "arm.options.n_critic=1,2",
                               "hydra.sweep.subdir=${arm.name}/${hydra.job.override_dirname}"])
    assert sorted(j.options["n_critic"] for _, j in jobs) == [1, 2]


@pytest.mark.parametrize("args, message", [
    (["data=8gaussians,nope"], "job data=nope: data 'nope': use one of 8gaussians, 25gaussians, swissroll"),
    (["seed=0,-1"], "seed -1: give non-negative integers"),
    (["budget=huge"], "budget 'huge': use one of quick, book, full"),
    (["gpus=3"], "gpus 3: give a list of device ids"),
    (["gpus=[0,-1]"], "give a list of device ids"),
    (["arm.options.n_critic=0"], "n_critic must be an integer >= 1, got 0"),
    (["+train.size=32"], "size is not an option of TrainConfig"),
    (["evaluate.n=0"], "evaluate.n 0: a positive integer"),
    (["train.width=8,16"], "jobs differing only in train.width=16, train.width=8 would share the folder"),
    (["arm=wgan-gpp"], "Could not find 'arm/wgan-gpp'"),
])
def test_bad_sweep_arguments_are_refused_before_any_job(args, message):
    with pytest.raises((ValueError, HydraException)) as err:
        sweep.expand_sweep(["arm=wgan-gp", "seed=0", *args])
    assert message in str(err.value)


def test_the_command_line_refuses_a_bad_grid_with_exit_2_and_writes_nothing(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        sweep.main([f"hydra.sweep.dir={tmp_path / 'out'}", "arm=gan-ns,wgan-gp", "seed=0,1", *TINY,
                    "data=8gaussians,nope"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith("gan_lab.sweep: error: job arm=gan-ns data=nope seed=0: data 'nope'")
    assert not (tmp_path / "out").exists()


def test_importing_gan_lab_and_its_sweep_module_needs_no_hydra(monkeypatch):
    import importlib
    for name in ("hydra", "omegaconf"):
        monkeypatch.setitem(sys.modules, name, None)    # import hydra -> ImportError
    for name in [m for m in sys.modules if m == "gan_lab" or m.startswith("gan_lab.")]:
        monkeypatch.delitem(sys.modules, name)          # imported afresh here, the originals put back after
    fresh = importlib.import_module("gan_lab.sweep")
    assert fresh is not sweep and fresh.collect.__doc__ == sweep.collect.__doc__


def test_without_hydra_the_sweep_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "hydra", None)      # import hydra -> ImportError
    with pytest.raises(SystemExit, match=r"pip install 'gan-lab-book\[sweep\]'"):
        sweep.main(["seed=0"])


def test_a_failed_job_is_a_row_that_says_so_and_collect_refuses_an_empty_folder(tmp_path):
    job_dir = tmp_path / "wgan-gp" / "8gaussians" / "seed0"
    job_dir.mkdir(parents=True)
    (job_dir / "job.json").write_text(json.dumps({"arm": "wgan-gp", "data": "8gaussians", "seed": 0, "budget": "full",
                                                  "status": "failed", "returncode": 1, "error": "diverged"}))
    (rows,) = sweep.collect(tmp_path)
    assert (rows["status"], rows["error"], rows["w1"], rows["job_dir"]) == ("failed", "diverged", None,
                                                                           "wgan-gp/8gaussians/seed0")
    assert sweep.summary([rows])["wgan-gp", "8gaussians"]["seeds"] == []
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no sweep jobs"):
        sweep.collect(tmp_path / "empty")
    with pytest.raises(ValueError, match="is not a directory"):
        sweep.collect(tmp_path / "missing")


def test_each_job_leases_a_gpu_no_running_job_holds(tmp_path):
    first, hold_first = sweep.lease_gpu(tmp_path, ["0", "1"])
    second, hold_second = sweep.lease_gpu(tmp_path, ["0", "1"])
    assert {first, second} == {"0", "1"}
    got = []
    waiter = threading.Thread(target=lambda: got.append(sweep.lease_gpu(tmp_path, ["0", "1"], wait_s=0.05)))
    waiter.start()
    time.sleep(0.3)
    assert not got                        # both devices held: the third job waits
    hold_second.close()
    waiter.join(timeout=5)
    assert got and got[0][0] == second    # and takes the one that was freed
    got[0][1].close()
    hold_first.close()
    slots = [sweep.lease_gpu(tmp_path / "two-per-gpu", ["5", "5"]) for _ in range(2)]    # a device listed twice
    assert [gpu for gpu, _ in slots] == ["5", "5"]                                      # runs two jobs at once
    for _, handle in slots:
        handle.close()


def fake_python(tmp_path, status):
    """An executable standing in for `python`: prints its device and arguments, exits with ``status``."""
    script = tmp_path / f"python{status}"
    script.write_text('#!/bin/sh\necho "gpu=$CUDA_VISIBLE_DEVICES args=$*"\n'
                      f'echo "gan_lab train: error: planted {status}"\nexit {status}\n')
    script.chmod(0o755)
    return str(script)


JOB = sweep.Job(arm="wgan-gp", data="8gaussians", seed=1, budget="quick", options={"steps": 4, "betas": (0.5, 0.9),
                                                                                     "one_sided": True})


def test_a_job_that_fails_is_recorded_and_reported_and_a_bad_argument_is_a_value_error(tmp_path):
    out = tmp_path / "job"
    with pytest.raises(sweep.JobFailed, match="exit status 1: .*planted 1"):
        sweep.run_job(JOB, out, gpus=["7"], lock_dir=tmp_path / "locks", python=fake_python(tmp_path, 1))
    record = json.loads((out / "job.json").read_text())
    assert (record["status"], record["returncode"], record["gpu"]) == ("failed", 1, "7")
    assert record["train_command"].endswith("-m gan_lab train --data 8gaussians --seed 1 --budget quick --out "
                                            f"{out} --steps 4 --betas 0.5,0.9 --one-sided true")
    assert record["evaluate_command"].endswith(f"-m gan_lab evaluate {out}/run.pt --n 2000 --seed 2 --json "
                                               f"{out}/evaluation.json")
    ran = (out / "job.log").read_text().splitlines()[0]
    assert ran.startswith("gpu=7 args=-m gan_lab.sweep commands ")
    assert json.loads(ran.split(" commands ", 1)[1]) == [record["train_command"].split()[3:],
                                                         record["evaluate_command"].split()[3:]]
    with pytest.raises(ValueError, match="planted 2"):
        sweep.run_job(JOB, tmp_path / "job2", python=fake_python(tmp_path, 2))
    (out / "run.pt").write_text("")                     # a rerun into a folder that holds the run resumes it
    with pytest.raises(sweep.JobFailed):
        sweep.run_job(JOB, out, python=fake_python(tmp_path, 1))
    assert json.loads((out / "job.json").read_text())["train_command"].endswith(" --resume")


def test_run_commands_stops_at_the_first_failing_command_with_its_status(tmp_path, capsys):
    assert sweep.run_commands([["sample", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "a.png")],
                               ["evaluate", "never-run.pt"]]) == 2
    printed = capsys.readouterr()
    assert "no checkpoint at" in printed.err and "gan_lab sample exited 2" in printed.out
    assert "never-run" not in printed.out


def test_a_rerun_into_the_same_folder_resumes_instead_of_retraining(tiny_sweep):
    out, _, _ = tiny_sweep
    job_dir = out / "wgan-gp" / "8gaussians" / "seed3"
    before = (job_dir / "run.pt").stat().st_mtime_ns
    job = sweep.make_job({"arm": {"name": "wgan-gp", "options": {"objective": "wgan-gp", "n_critic": 5,
                                                                   "lr_d": 1e-4, "lr_g": 1e-4,
                                                                   "penalty_weight": 0.1}},
                          "data": "8gaussians", "seed": 3, "budget": "quick", "evaluate": {"n": None},
                          "train": dict(steps=4, width=8, depth=1, batch_size=16, eval_samples=100, log_every=None)})
    record = sweep.run_job(job, job_dir)
    assert record["status"] == "done" and record["train_command"].endswith(" --resume")
    assert "is this run, finished: nothing to do" in (job_dir / "job.log").read_text()
    assert (job_dir / "run.pt").stat().st_mtime_ns == before
