"""Sweeps of ``gan_lab train`` runs (seeds x settings), launched by hydra's multirun; and their one table.

    python -m gan_lab.sweep                 # the comparison page's 60 runs (gan_lab/conf/comparison.yaml)
    python -m gan_lab.sweep seed=0,1 arm=gan-ns,wgan-gp data=8gaussians budget=quick
    python -m gan_lab.sweep hydra/launcher=joblib hydra.launcher.n_jobs=4 gpus=[0,1,2,3]   # one job per GPU
    python -m gan_lab.sweep hydra/launcher=submitit_slurm hydra.launcher.gpus_per_node=1   # one SLURM job each
    python -m gan_lab.sweep collect sweeps/comparison/<date>                            # -> results.csv

The scheduling is hydra's (its basic launcher runs the jobs one after another; the joblib launcher runs
``n_jobs`` at a time on one machine; the submitit launcher submits each job to SLURM). A job is one run of the
command line: ``python -m gan_lab train --data D --seed S --budget B --out JOB_DIR --<option> <value> ...``,
then ``python -m gan_lab evaluate JOB_DIR/run.pt --json JOB_DIR/evaluation.json``, both in one fresh Python
process (see ``run_job`` for why), with the job's ``CUDA_VISIBLE_DEVICES``. The job directory is hydra's:
``<sweep dir>/<arm>/<data>/seed<S>``, holding the run's files, ``job.log`` and ``job.json`` (the two
commands, the exit status, the times, the GPU). Every job of the grid is composed and checked before the first
starts (``expand_sweep``). ``collect`` reads every ``job.json``, ``config.json``, ``history.json`` and
``evaluation.json`` under a sweep directory into one row per job (``results.csv``), from which the comparison
page's table is redone (``summary``).

On one device the batched seeds of ``gan_lab.train_seeds`` stay the fast path; a sweep is for several devices
(a GPU box, a cluster) and for runs kept on disk, one folder each.

hydra is an optional extra (``pip install "gan-lab-book[sweep]"``): ``import gan_lab`` never imports it, and
``collect`` / ``summary`` work without it.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import fcntl
import itertools
import json
import logging
import math
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

from . import cli
from .images import ImageTrainConfig
from .settings import BUDGETS
from .train import TrainConfig

CONFIG_DIR = Path(__file__).parent / "conf"
DATA = cli.TOY_DATA + ("shapes",)
JOB_FILE = "job.json"
TABLE_FILE = "results.csv"
DEFAULT_SUBDIR = "${arm.name}/${data}/seed${seed}"   # conf/comparison.yaml's hydra.sweep.subdir
# The columns of the table, in order: the job, the settings that define the run (as the CLI resolved them,
# from config.json), then the last logged values (history.json) and the final scores (evaluation.json).
JOB_COLUMNS = ("arm", "data", "seed", "budget", "seed_offset", "status", "returncode", "gpu", "job_seconds",
               "job_dir")
SETTING_COLUMNS = ("objective", "generator_loss", "optimizer", "generator_optimizer", "lr_d", "lr_g", "lr", "betas",
                   "n_critic", "n_critic_early", "clip", "penalty_weight", "width", "depth", "size", "batch_size",
                   "steps", "log_every", "eval_samples")
RESULT_COLUMNS = ("last_step", "last_seconds", "last_w1", "last_modes", "w1", "modes_covered", "n_modes", "hq_fraction",
                  "fid", "kid", "kid_std", "error")


log = logging.getLogger(__name__)


class JobFailed(RuntimeError):
    """A job's ``gan_lab train`` or ``evaluate`` ended with an error other than a bad argument."""


# ---- one job: its settings, checked before anything runs --------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Job:
    """One run of the sweep: ``gan_lab train --data data --seed seed --budget budget`` with ``options``."""

    arm: str                          # the arm's name (the comparison page's row label, short)
    data: str
    seed: int
    budget: str
    options: Mapping[str, Any]        # TrainConfig (toys) or ImageTrainConfig (shapes) fields
    evaluate_n: Optional[int] = 2000  # samples for ``gan_lab evaluate`` (None: do not evaluate)
    evaluate_seed: int = 2

    def train_argv(self, out: Path, resume: bool = False) -> list[str]:
        """The ``gan_lab train`` arguments of this job, with ``--out out``."""
        argv = ["train", "--data", self.data, "--seed", str(self.seed), "--budget", self.budget, "--out", str(out)]
        for name, value in self.options.items():
            argv += ["--" + name.replace("_", "-"), option_text(value)]
        return argv + (["--resume"] if resume else [])

    def evaluate_argv(self, out: Path) -> list[str]:
        return ["evaluate", str(out / "run.pt"), "--n", str(self.evaluate_n), "--seed", str(self.evaluate_seed),
                "--json", str(out / "evaluation.json")]


def option_text(value: Any) -> str:
    """A config value as the command line reads it: ``true``/``false``, ``0.5,0.9`` for a pair, repr of floats."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(option_text(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def make_job(cfg: Mapping[str, Any]) -> Job:
    """The job that a composed sweep config (a plain mapping: ``arm``, ``data``, ``seed``, ``budget``, ``train``,
    ``steps``, ``evaluate``) describes, every value checked; ValueError naming the bad one, before any work.

    The options are ``train`` overlaid with the arm's ``options``; ``train.steps`` (or, when it is null,
    ``steps[data]``) gives the generator steps and a null ``train.log_every`` means steps // 10, as the
    comparison page logs.
    """
    data = cfg.get("data")
    if data not in DATA:
        raise ValueError(f"data {data!r}: use one of {', '.join(DATA)}")
    seed = cfg.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed {seed!r}: give non-negative integers (seed=0,1,2 or seed='range(5)')")
    budget = cfg.get("budget")
    if budget not in BUDGETS:
        raise ValueError(f"budget {budget!r}: use one of {', '.join(BUDGETS)}")
    arm = cfg.get("arm")
    if not isinstance(arm, Mapping) or not isinstance(arm.get("name"), str):
        raise ValueError(f"arm {arm!r}: pick an arm of gan_lab/conf/arm (arm=wgan-gp) with a name and options")
    options = {**dict(cfg.get("train") or {}), **dict(arm.get("options") or {})}
    if options.get("steps") is None:
        per_data = cfg.get("steps") or {}
        if data in per_data:
            options["steps"] = per_data[data]
        else:
            options.pop("steps", None)      # the budget's default steps
    if "log_every" in options and options["log_every"] is None and "steps" in options:
        options["log_every"] = max(1, options["steps"] // 10)
    options = {k: (tuple(v) if isinstance(v, list) else v) for k, v in options.items() if v is not None}
    config_class = ImageTrainConfig if data == "shapes" else TrainConfig
    known = {f.name for f in dataclasses.fields(config_class)} - {"seed", "progress"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"{', '.join(unknown)} is not an option of {config_class.__name__} (data {data}, arm "
                         f"{arm['name']}); its options: {', '.join(sorted(known))}")
    checked = config_class(**options, seed=seed, progress=False)       # the API's own checks
    if isinstance(checked, TrainConfig):
        checked.resolved()
    evaluate = dict(cfg.get("evaluate") or {})
    n = evaluate.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n <= 0):
        raise ValueError(f"evaluate.n {n!r}: a positive integer, or null to skip the evaluation")
    return Job(arm=arm["name"], data=data, seed=seed, budget=budget, options=options, evaluate_n=n,
               evaluate_seed=int(evaluate.get("seed", 2)))


def parse_gpus(gpus: Any) -> Optional[list[str]]:
    """``gpus`` of the config: null (use the environment's CUDA_VISIBLE_DEVICES, as SLURM sets it) or a list
    of device ids, of which each job takes one that no other running job of the sweep holds. A device listed
    k times takes k jobs at once (the toy networks leave a large GPU mostly idle: gpus=[0,0,0,0])."""
    if gpus is None:
        return None
    if isinstance(gpus, (str, int)) or not gpus or any(isinstance(g, bool) or not isinstance(g, (int, str))
                                                      or str(g).strip() in ("", "-1") for g in gpus):
        raise ValueError(f"gpus {gpus!r}: give a list of device ids (gpus=[0,1,2,3]) or null")
    return [str(g).strip() for g in gpus]


# ---- running a job ----------------------------------------------------------------------------------------------

def lease_gpu(lock_dir: Path, ids: Sequence[str], wait_s: float = 1.0) -> tuple[str, Any]:
    """Take a slot of ``ids`` (device ids, one per slot) that no running job of this sweep holds: an exclusive
    lock on ``lock_dir/slot<i>-gpu<id>.lock``, held until the returned handle is closed or the process ends.

    The launcher decides how many jobs run at once (joblib: ``n_jobs``, which should equal ``len(ids)``);
    this only says which device each gets. With more jobs than slots a job waits for a slot to free.
    """
    lock_dir.mkdir(parents=True, exist_ok=True)
    while True:
        for slot, gpu in enumerate(ids):
            handle = open(lock_dir / f"slot{slot}-gpu{gpu}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return gpu, handle
            except OSError:
                handle.close()
        time.sleep(wait_s)


def _write_json(path: Path, record: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)


def _tail(path: Path, n: int = 3) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return " | ".join(lines[-n:])


def run_job(job: Job, out: Path, *, gpus: Optional[Sequence[str]] = None, lock_dir: Optional[Path] = None,
            resume: bool = True, python: str = sys.executable) -> dict:
    """Run ``job`` into ``out``: ``gan_lab train`` then ``gan_lab evaluate`` (``gan_lab.cli.main`` on each
    argument list, ``run_commands``) in one fresh Python process, its output in ``out/job.log``.

    A fresh process per job, not ``gan_lab.cli.main`` in the launcher's: CUDA_VISIBLE_DEVICES only takes
    effect before CUDA starts, and the joblib launcher reuses its worker processes for job after job; a crash,
    an out-of-memory or a thread setting stays inside its job. One process for both commands, not one each:
    starting Python and importing gan_lab costs seconds (3.5 s on an idle CPU core, 9 s on a busy one), nothing
    next to a full-budget run but most of a test's sweep. ``job.json`` holds the two ``python -m gan_lab``
    commands, which a user can paste to rerun the job by hand.

    ``resume``: where ``out`` already holds this run (a sweep rerun into the same ``hydra.sweep.dir``), pass
    ``--resume``: a finished toy run is not retrained, an image run continues from its checkpoint.
    Returns the job record (also written to ``out/job.json``). Exit status 2 of the command line (a bad
    argument) raises ValueError with its message; any other failure (a diverged loss, a crash) is recorded
    with ``status: failed`` and raises JobFailed, so the launcher reports it (after the sweep's other jobs).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    lease, gpu = None, env.get("CUDA_VISIBLE_DEVICES")
    if gpus:
        gpu, lease = lease_gpu(lock_dir or out.parent / ".gpu-locks", list(gpus))
        env["CUDA_VISIBLE_DEVICES"] = gpu
    done = (out / "run.pt").exists() or (out / "checkpoint.pt").exists()
    commands = [job.train_argv(out, resume=resume and done)]
    if job.evaluate_n is not None:
        commands.append(job.evaluate_argv(out))
    record = {"arm": job.arm, "data": job.data, "seed": job.seed, "budget": job.budget,
              "options": {k: list(v) if isinstance(v, tuple) else v for k, v in job.options.items()},
              "gpu": gpu, "host": os.uname().nodename, "status": "running", "returncode": None,
              "train_command": shlex.join([python, "-m", "gan_lab", *commands[0]]),
              "evaluate_command": shlex.join([python, "-m", "gan_lab", *commands[1]]) if len(commands) > 1 else None,
              "started": time.time()}
    _write_json(out / JOB_FILE, record)
    log.info("%s/%s/seed%d on %s: %s", job.arm, job.data, job.seed,
             f"CUDA_VISIBLE_DEVICES={gpu}" if gpu is not None else "the inherited devices", record["train_command"])
    start = time.perf_counter()
    try:
        with open(out / "job.log", "w") as f:
            proc = subprocess.run([python, "-m", "gan_lab.sweep", "commands", json.dumps(commands)], stdout=f,
                                  stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
        record["returncode"] = proc.returncode
        if proc.returncode == 0:
            record["status"] = "done"
        else:
            record.update(status="failed", error=f"exit status {proc.returncode}: {_tail(out / 'job.log')}")
    finally:
        if lease is not None:
            lease.close()
        record.update(ended=time.time(), seconds=round(time.perf_counter() - start, 3))
        _write_json(out / JOB_FILE, record)
        log.info("%s/%s/seed%d: %s in %.0f s", job.arm, job.data, job.seed, record["status"], record["seconds"])
    if record["status"] != "done":
        where = f"job {job.arm}/{job.data}/seed{job.seed} ({out})"
        if record["returncode"] == 2:
            raise ValueError(f"{where}: {record['error']}")
        raise JobFailed(f"{where}: {record['error']}; see its job.log")
    return record


def run_commands(commands: Sequence[Sequence[str]]) -> int:
    """``gan_lab.cli.main`` on each argument list in turn (``python -m gan_lab <argv>`` each, in this process);
    stops at the first that fails and returns its exit status (2: a bad argument; 1: an error, traceback shown)."""
    import traceback

    for argv in commands:
        print("$ python -m gan_lab " + shlex.join(argv), flush=True)
        start = time.perf_counter()
        try:
            status = cli.main(list(argv))
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 1
        except Exception:                       # noqa: BLE001 - the job's log shows it; the status says it failed
            traceback.print_exc()
            status = 1
        sys.stdout.flush()
        print(f"gan_lab.sweep: gan_lab {argv[0]} exited {status} after {time.perf_counter() - start:.1f} s",
              flush=True)
        if status:
            return status
    return 0


# ---- hydra: the sweep's entry point ------------------------------------------------------------------------------

def _hydra_task(cfg: Any) -> dict:
    """One hydra job: the composed config -> ``run_job`` into hydra's job output directory."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    plain = OmegaConf.to_container(cfg, resolve=True)
    job = make_job(plain)
    gpus = parse_gpus(plain.get("gpus"))
    hydra_cfg = HydraConfig.get()
    out = Path(hydra_cfg.runtime.output_dir)
    lock_dir = Path(hydra_cfg.sweep.dir) / ".gpu-locks"
    return run_job(job, out, gpus=gpus, lock_dir=lock_dir, resume=bool(plain.get("resume", True)))


def _is_override(arg: str) -> bool:
    return not arg.startswith("-") and "=" in arg


def expand_sweep(argv: Sequence[str], config_name: str = "comparison") -> list[tuple[list[str], Job]]:
    """Every job a multirun of ``argv`` would launch, as (its overrides, its Job), each config composed by hydra
    and checked by ``make_job``: so a bad value anywhere in the grid (``data=8gaussians,nope``) is refused
    before the first job trains, not when the launcher reaches it.

    The grid is the one hydra's basic sweeper builds: the config's ``hydra.sweeper.params`` with the command
    line's overrides on top (a key given there replaces the config's sweep of it), crossed in that order.
    Raises ValueError naming the job and its bad value (hydra's own errors, e.g. an unknown arm, pass through).
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    parser = OverridesParser.create()
    given = parser.parse_overrides([a for a in argv if _is_override(a)])
    fixed = [o.input_line for o in given if not o.is_sweep_override()]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        base = compose(config_name, overrides=fixed, return_hydra_config=True)
        params = OmegaConf.to_container(base.hydra.sweeper.get("params") or {}, resolve=False)
        lists: dict[str, list[str]] = {}
        for o in parser.parse_overrides([f"{k}={v}" for k, v in params.items()]) + given:
            key = o.get_key_element()
            if o.is_sweep_override():
                if not o.is_discrete_sweep():
                    raise ValueError(f"{o.input_line!r}: the basic sweeper takes a list or range, not an interval")
                lists[key] = [f"{key}={v}" for v in o.sweep_string_iterator()]
            else:
                lists[key] = [f"{key}={o.get_value_element_as_str()}"]
        jobs = []
        for combination in itertools.product(*lists.values()):
            overrides = list(combination)
            cfg = compose(config_name, overrides=overrides)
            try:
                jobs.append((overrides, make_job(OmegaConf.to_container(cfg, resolve=True))))
                parse_gpus(cfg.get("gpus"))
            except ValueError as err:      # name the job by what the grid varies
                swept = [o for o, values in zip(overrides, lists.values()) if len(values) > 1]
                raise ValueError(f"job {' '.join(swept)}: {err}" if swept else str(err)) from None
    GlobalHydra.instance().clear()
    seen: dict[tuple, list[str]] = {}
    for overrides, job in jobs:
        key = (job.arm, job.data, job.seed)
        if key in seen and seen[key] != overrides and \
                OmegaConf.to_container(base.hydra.sweep, resolve=False).get("subdir") == DEFAULT_SUBDIR:
            varied = sorted(set(overrides) ^ set(seen[key]))
            raise ValueError(f"jobs differing only in {', '.join(varied)} would share the folder "
                             f"{job.arm}/{job.data}/seed{job.seed}: add what you sweep to the job folder, e.g. "
                             "hydra.sweep.subdir='${arm.name}/${data}/seed${seed}/${hydra.job.override_dirname}'")
        seen[key] = overrides
    return jobs


def run_sweep(argv: Sequence[str]) -> None:
    """Check every job of ``argv``'s grid (``expand_sweep``), then run the hydra app on ``argv`` (hydra
    overrides, ``--multirun``, ``--config-name shapes``; ``--cfg job``, ``--help`` and other flags go to hydra
    unchecked) with the configs of gan_lab/conf (default: comparison)."""
    config_name = "comparison"
    try:
        import hydra
    except ImportError:
        raise SystemExit("gan_lab.sweep needs hydra: pip install 'gan-lab-book[sweep]' "
                         "(hydra-core and its joblib and submitit launchers)") from None
    argv = list(argv)
    rest = list(argv)
    for flag in ("--config-name", "-cn"):       # hydra's flag for another config of gan_lab/conf (shapes)
        if flag in rest[:-1]:
            i = rest.index(flag)
            config_name = rest[i + 1]
            del rest[i:i + 2]
    for arg in list(rest):
        if arg.startswith("--config-name="):
            config_name = arg.split("=", 1)[1]
            rest.remove(arg)
    if all(_is_override(a) or a in ("-m", "--multirun") for a in rest):
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException
        try:
            jobs = expand_sweep(rest, config_name)
        except (ValueError, HydraException, OmegaConfBaseException) as err:
            print(f"gan_lab.sweep: error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        print(f"gan_lab.sweep: {len(jobs)} job{'s' if len(jobs) != 1 else ''} checked", flush=True)
    app = hydra.main(config_path=str(CONFIG_DIR), config_name="comparison", version_base="1.3")(_hydra_task)
    saved = sys.argv
    sys.argv = [saved[0], *argv]
    try:
        app()
    finally:
        sys.argv = saved


# ---- collect: one row per job ------------------------------------------------------------------------------------

def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def job_dirs(sweep_dir: Path) -> Iterator[Path]:
    """Every job directory under ``sweep_dir`` (those holding a ``job.json``), in sorted order."""
    for path in sorted(Path(sweep_dir).rglob(JOB_FILE)):
        yield path.parent


def _last(history: Mapping[str, list], key: str) -> Any:
    values = history.get(key) or []
    return values[-1] if values else None


def collect(sweep_dir: Path) -> list[dict]:
    """One row per job under ``sweep_dir``: JOB_COLUMNS + SETTING_COLUMNS + RESULT_COLUMNS (absent ones None)."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise ValueError(f"{str(sweep_dir)!r} is not a directory")
    rows = []
    for job_dir in job_dirs(sweep_dir):
        job = _read(job_dir / JOB_FILE)
        config = _read(job_dir / "config.json")
        history = _read(job_dir / "history.json")
        scores = _read(job_dir / "evaluation.json")
        row = {key: None for key in JOB_COLUMNS + SETTING_COLUMNS + RESULT_COLUMNS}
        row.update({k: job.get(k) for k in ("arm", "data", "seed", "budget", "status", "returncode", "gpu", "error")})
        row.update(seed_offset=config.get("seed_offset"), job_seconds=job.get("seconds"),
                   job_dir=str(job_dir.relative_to(sweep_dir)))
        for key in SETTING_COLUMNS:
            value = config.get(key)
            row[key] = option_text(value) if isinstance(value, list) else value
        row.update(last_step=_last(history, "step"), last_seconds=_last(history, "seconds"),
                   last_w1=_last(history, "w1"), last_modes=_last(history, "modes"))
        row.update({k: scores.get(k) for k in ("w1", "modes_covered", "n_modes", "hq_fraction", "fid", "kid",
                                               "kid_std")})
        rows.append(row)
    if not rows:
        raise ValueError(f"no sweep jobs ({JOB_FILE}) under {str(sweep_dir)!r}")
    return rows


def write_table(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """``rows`` as CSV at ``path`` (columns: the first row's keys)."""
    path = Path(path)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_table(path: Path) -> list[dict]:
    """The rows of a ``results.csv``, numbers as numbers (empty cells None)."""
    def value(text: str) -> Any:
        if text == "":
            return None
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text
    with open(path, newline="") as f:
        return [{k: value(v) for k, v in row.items()} for row in csv.DictReader(f)]


def summary(rows: Sequence[Mapping[str, Any]], score: str = "w1") -> dict[tuple[str, str], dict]:
    """Per (arm, data): the finished seeds and the mean and standard deviation (numpy's, ddof 0, as the page's
    table) of ``score`` over them: the comparison page's table from a sweep's rows."""
    groups: dict[tuple[str, str], list] = {}
    for row in rows:
        groups.setdefault((row["arm"], row["data"]), [])
        if row["status"] == "done" and row.get(score) is not None:
            groups[row["arm"], row["data"]].append((row["seed"], float(row[score])))
    out = {}
    for key, pairs in groups.items():
        values = [v for _, v in pairs]
        mean = sum(values) / len(values) if values else math.nan
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) if values else math.nan
        out[key] = {"seeds": sorted(s for s, _ in pairs), "mean": mean, "sd": sd}
    return out


def collect_main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m gan_lab.sweep collect",
                                description="One CSV row per job of a sweep (settings, last logs, final scores).")
    p.add_argument("sweep_dir", help="the sweep's directory (hydra.sweep.dir)")
    p.add_argument("--csv", help=f"where to write the table (default: SWEEP_DIR/{TABLE_FILE})")
    args = p.parse_args(argv)
    try:
        rows = collect(Path(args.sweep_dir))
    except ValueError as err:
        p.exit(2, f"{p.prog}: error: {err}\n")
    path = write_table(rows, Path(args.csv) if args.csv else Path(args.sweep_dir) / TABLE_FILE)
    failed = [r["job_dir"] for r in rows if r["status"] != "done"]
    print(f"{len(rows)} jobs, {len(rows) - len(failed)} done -> {path}")
    for (arm, data), s in summary(rows).items():
        print(f"  {data:12s} {arm:10s} final W1 {s['mean']:.3f} ± {s['sd']:.3f} over seeds {s['seeds']}")
    if failed:
        print("not done: " + ", ".join(failed))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["collect"]:
        return collect_main(argv[1:])
    if argv[:1] == ["commands"] and len(argv) == 2:     # what run_job starts: one job's commands, in a fresh process
        return run_commands(json.loads(argv[1]))
    run_sweep(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
