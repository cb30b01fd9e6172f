"""One training loop for every objective in the book.

    for step in 1..steps:                          (generator iterations)
        repeat n_critic times:                     (critic / discriminator steps)
            x ~ p_data, z ~ N(0, I)
            loss_d = objective's critic loss on x and G(z)   (+ lam * penalty for WGAN-GP)
            update D (then clip its weights for WGAN with clipping)
        z ~ N(0, I);  loss_g = objective's generator loss on D(G(z));  update G

Objectives (``gan_lab.objectives``, chosen by name): ``"gan"`` (discriminator on logits, saturating or
non-saturating generator loss, optional one-sided label smoothing), ``"wgan-clip"`` (Arjovsky et al., 2017:
RMSProp, weight clipping), ``"wgan-gp"`` (Gulrajani et al., 2017: Adam, gradient penalty), ``"lsgan"``
(Mao et al., 2017) and ``"hinge"`` (Lim & Ye, 2017; with ``spectral_norm=True`` the SN-GAN of Miyato et al.,
2018). Tricks that any objective can use: ``instance_noise`` (Gaussian noise of std sigma on every input
of the critic, annealed linearly to 0 over the run) and ``pack`` (PacGAN, Lin et al. 2018: the critic
scores ``pack`` samples at once, concatenated). Every ``log_every`` steps the history records the losses and, on 2-D data,
the exact W1 between generated and real samples, and mode coverage on Gaussian mixtures.

Checkpoints. With ``checkpoint_path``, a run saves its state (networks, optimisers, each seed's random
stream, histories, snapshots) at a log step once ``checkpoint_seconds`` of wall time have passed since the
last save, and at its end; ``resume=True`` continues from that file, bit for bit the run that was not
interrupted (on the CPU). A run shorter than ``checkpoint_seconds`` writes only at its end.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Optional, Sequence, Union

import torch
from torch import nn
from tqdm.auto import tqdm

from . import checkpoint as _checkpoint
from . import data as _data
from . import checks, loop, losses, metrics, nets, objectives, settings
from .loop import OPTIMIZERS, StopTraining, TrainingDiverged

__all__ = ["TrainConfig", "TrainResult", "TrainingDiverged", "StopTraining", "train", "train_seeds", "OBJECTIVES",
           "OPTIMIZERS", "default_critic"]

OBJECTIVES = objectives.NAMES

# Per-objective defaults for the fields left as None. GAN and WGAN-clip: the toy settings of the WGAN-GP
# authors' released toy script (3 x 512 nets; the optimisers and rates their papers give). WGAN-GP: faster toy
# settings than that script's (3 x 512, lr 1e-4, n_critic 5), chosen with
# benchmarks/time_to_quality.py: 3 x 128 nets, lr 1e-3, n_critic 3 reach the same quality bar on 8 Gaussians
# in a small fraction of the paper settings' time. The book passes the paper's settings where it means them.
_DEFAULTS = {
    "gan": dict(width=512, n_critic=1, optimizer="adam", lr_g=1e-4, lr_d=1e-4, betas=(0.5, 0.9)),
    "wgan-clip": dict(width=512, n_critic=5, optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5, betas=(0.5, 0.9)),
    "wgan-gp": dict(width=128, n_critic=3, optimizer="adam", lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.9)),
    # LSGAN and hinge: the GAN's toy settings, so that the objectives compare at equal budgets.
    "lsgan": dict(width=512, n_critic=1, optimizer="adam", lr_g=1e-4, lr_d=1e-4, betas=(0.5, 0.9)),
    "hinge": dict(width=512, n_critic=1, optimizer="adam", lr_g=1e-4, lr_d=1e-4, betas=(0.5, 0.9)),
}
# The objective-specific settings' defaults, filled in only for the objective they apply to
# (objectives.OPTIONS); set for another objective they are an error.
_OPTION_DEFAULTS = dict(generator_loss="non_saturating", label_smoothing=0.0, clip=0.01, penalty_weight=0.1,
                        one_sided=False, targets=(0.0, 1.0, 1.0))

Data = _data.Data


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run. ``None`` fields take the objective's defaults (``resolved()``)."""

    objective: str = "wgan-gp"
    steps: int = 1000                      # generator iterations
    batch_size: int = 256
    n_critic: Optional[int] = None         # critic steps per generator step
    optimizer: Optional[str] = None        # "adam" or "rmsprop" (the critic's, and the generator's unless ...)
    generator_optimizer: Optional[str] = None  # ... this says otherwise (e.g. Adam on the critic only)
    lr_g: Optional[float] = None
    lr_d: Optional[float] = None
    betas: Optional[tuple] = None          # Adam's (beta1, beta2)
    # objective-specific (None: the objective's default; set for an objective it does not apply to: an error)
    generator_loss: Optional[str] = None   # "gan": "non_saturating" (default), "saturating" or "feature_matching"
    label_smoothing: Optional[float] = None  # "gan": one-sided, real label 1 - alpha (default 0)
    penalty_weight: Optional[float] = None  # "wgan-gp": lambda, 0.1 as in the WGAN-GP authors' toy script (paper: 10)
    one_sided: Optional[bool] = None       # "wgan-gp": penalise only gradient norms above 1 (default False)
    clip: Optional[float] = None           # "wgan-clip": c (default 0.01)
    targets: Optional[tuple] = None        # "lsgan": labels (a, b, c) = fake, real, generator's (default (0, 1, 1))
    # for every objective
    spectral_norm: bool = False            # spectrally normalised critic layers (W / sigma(W), nets.critic)
    instance_noise: float = 0.0            # sigma of N(0, sigma^2) noise on critic inputs, annealed to 0
    pack: int = 1                          # PacGAN: the critic scores this many samples at once
    noise_dim: int = 2
    width: Optional[int] = None          # hidden units per layer (512; 128 for WGAN-GP)
    depth: int = 3
    log_every: int = 100
    eval_samples: int = 1000               # points for W1 / mode coverage at each log (0: skip them)
    snapshots: int = 0                     # keep G(z) of this many fixed z at each log (samples over time)
    seed: int = 0
    progress: bool = True
    n_critic_early: int = 0                # if > 0: critic steps at generator steps 1..25 and every 500th
    log_start: bool = False                # also log at step 0, the untrained generator (losses NaN there)

    def resolved(self) -> "TrainConfig":
        """This config with the objective's defaults filled in and every field checked."""
        checks.choice("objective", self.objective, OBJECTIVES)
        applies = objectives.OPTIONS[self.objective]
        objectives.refuse_foreign_options(self.objective, {k: getattr(self, k) for k in _OPTION_DEFAULTS})
        filled = {k: v for k, v in _DEFAULTS[self.objective].items() if getattr(self, k) is None}
        filled.update({k: _OPTION_DEFAULTS[k] for k in applies if getattr(self, k) is None})
        cfg = replace(self, **filled)
        if cfg.generator_optimizer is None:
            cfg = replace(cfg, generator_optimizer=cfg.optimizer)
        cfg._check()
        # plain floats from here on: (0, 0.9) written plainly, or an np.float64 rate, reach torch as floats
        plain = {k: float(getattr(cfg, k)) for k in ("clip", "penalty_weight", "label_smoothing")
                 if getattr(cfg, k) is not None}
        if cfg.targets is not None:
            plain["targets"] = tuple(float(t) for t in cfg.targets)
        return replace(cfg, betas=checks.betas(cfg.betas), lr_g=float(cfg.lr_g), lr_d=float(cfg.lr_d),
                       instance_noise=float(cfg.instance_noise), **plain)

    def objective_losses(self) -> objectives.Objective:
        """The resolved config's objective: its critic and generator losses (``gan_lab.objectives``)."""
        kwargs = {k: getattr(self, k) for k in ("generator_loss", "label_smoothing", "targets")
                  if getattr(self, k) is not None}
        return objectives.objective(self.objective, **kwargs)

    def _check(self) -> None:
        for name in ("steps", "batch_size", "noise_dim", "width", "log_every", "n_critic", "pack"):
            checks.integer(name, getattr(self, name), 1)
        for name in ("n_critic_early", "depth", "eval_samples", "snapshots"):
            checks.integer(name, getattr(self, name), 0)
        checks.seed("seed", self.seed)
        for name in ("lr_g", "lr_d"):
            checks.positive_number(name, getattr(self, name))
        if self.clip is not None:
            checks.positive_number("clip", self.clip)
        if self.penalty_weight is not None:
            checks.number_at_least("penalty_weight", self.penalty_weight, 0.0)
        checks.number_at_least("instance_noise", self.instance_noise, 0.0)
        for name in ("optimizer", "generator_optimizer"):
            checks.choice(name, getattr(self, name), OPTIMIZERS)
        for name in ("log_start", "progress", "spectral_norm"):
            checks.boolean(name, getattr(self, name))
        if self.one_sided is not None:
            checks.boolean("one_sided", self.one_sided)
        checks.betas(self.betas)
        if self.batch_size % self.pack:
            raise ValueError(f"batch_size={self.batch_size} must be a multiple of pack={self.pack} "
                             "(the critic scores the batch in packs)")
        self.objective_losses()   # checks generator_loss, label_smoothing, targets


@dataclass
class TrainResult:
    """The trained ``generator`` and ``critic`` (the discriminator for ``"gan"``), the resolved ``config``,
    the ``history`` (lists keyed by name, one entry per log: step, loss_d, loss_g, w1, ...), ``seconds``,
    and ``snapshots``: (step, G(z)) for a fixed batch of z at each log when ``config.snapshots`` > 0."""

    generator: nn.Module
    critic: nn.Module
    config: TrainConfig
    history: dict = field(default_factory=dict)
    seconds: float = 0.0
    snapshots: list = field(default_factory=list)
    diverged: Optional[str] = None         # why training stopped on NaN/Inf (train_seeds only; train raises)
    stopped: bool = False                  # on_log raised StopTraining
    start_step: int = 0                    # the checkpoint's step when resumed, else 0

    @torch.no_grad()
    def sample(self, n: int, *, seed: Optional[int] = None) -> torch.Tensor:
        """n generated points G(z), z ~ N(0, I), on the CPU."""
        g = settings.rng(seed) if seed is not None else None
        device = next(self.generator.parameters()).device
        z = torch.randn(n, self.config.noise_dim, generator=g).to(device)
        return self.generator(z).cpu()


def _config(config: Optional[TrainConfig], overrides: dict, on_log) -> TrainConfig:
    cfg = loop.configure(config, TrainConfig, overrides)
    loop.check_on_log(on_log)
    return cfg.resolved()


def train(data: Data, config: Optional[TrainConfig] = None, *, generator: Optional[nn.Module] = None,
          critic: Optional[nn.Module] = None, device: Optional[Union[str, torch.device]] = None,
          on_log: Optional[Callable[[TrainResult], dict]] = None,
          checkpoint_path: Optional[Union[str, "os.PathLike[str]"]] = None, resume: Union[bool, str] = False,
          checkpoint_seconds: float = 60.0, **overrides) -> TrainResult:
    """Train a GAN on ``data`` (a name from ``gan_lab.data``, an (n, d) tensor, or a sampler).

    ``config`` fields can be overridden by keyword, e.g. ``train("8gaussians", objective="gan", steps=500)``.
    Networks default to the toy MLPs (``nets.generator`` / ``nets.critic``) built after seeding with
    ``config.seed``; batches, noise and interpolation weights come from a generator seeded with it too, so
    the same seed reproduces a run on the CPU. ``on_log(result)``, if given, is called at every log and
    returns a dict of extra numbers to record in the history (e.g. a generator's parameter), or raises
    ``StopTraining`` to end the run early.
    With ``checkpoint_path`` the run is saved (atomically) at a log once ``checkpoint_seconds`` have passed
    since the last save, and at the end; ``resume=True`` continues that file exactly (its configuration and
    data must be this run's), ``resume="auto"`` does so if the file exists.
    Bad configuration raises ``ValueError`` before any work;
    a NaN/Inf loss raises ``TrainingDiverged`` carrying the partial result.
    """
    cfg = _config(config, overrides, on_log)
    saving = _Checkpointing.check(checkpoint_path, resume, checkpoint_seconds)
    for arg, net in (("generator", generator), ("critic", critic)):
        if net is not None and not isinstance(net, nn.Module):
            raise ValueError(f"{arg} must be a torch.nn.Module or None, got {type(net).__name__}")
    real = _data.sampler(data)
    dim = real.dim
    dev = settings.resolve_device(device)
    settings.seed_everything(cfg.seed)
    G = generator if generator is not None else nets.generator(dim, cfg.noise_dim, width=cfg.width, depth=cfg.depth)
    D = critic if critic is not None else default_critic(dim, cfg)
    G, D = G.to(dev), D.to(dev)
    if generator is not None:
        nets.check_fits("generator", G, cfg.noise_dim, [(2, dim)], dev)
    if critic is not None:
        nets.check_fits("critic", D, dim * cfg.pack, [(2,), (2, 1)], dev)
        if cfg.generator_loss == "feature_matching" and not callable(getattr(D, "features", None)):
            raise ValueError("generator_loss='feature_matching' needs a critic with a features(x) method (its "
                             f"hidden activations, as nets.MLP has); got a {type(D).__name__} without one")
    (result,) = _train_stack(real, [cfg], G, D, dev, on_log, saving, _data_tag(data))
    if result.diverged is not None:
        raise TrainingDiverged(result.diverged, result)
    return result


def train_seeds(data: Data, config: Optional[TrainConfig] = None, *, seeds: Sequence[int],
                device: Optional[Union[str, torch.device]] = None,
                on_log: Optional[Callable[[TrainResult], dict]] = None,
                checkpoint_path: Optional[Union[str, "os.PathLike[str]"]] = None, resume: Union[bool, str] = False,
                checkpoint_seconds: float = 60.0, **overrides) -> list[TrainResult]:
    """Train one configuration with several seeds as one batched computation; one ``TrainResult`` per seed.

    Seed k's run is the run ``train(data, config, seed=seeds[k], **overrides)`` would do: the same initial
    networks, batches, noise and interpolation weights, drawn from its own generator. The K generators and
    critics are stacked (``nets.StackedMLP``) so each layer is one batched matrix product for all seeds;
    the losses are summed over seeds, which leaves each seed's gradients as they are. Results equal separate
    runs up to floating-point summation order. Each result's ``seconds`` is the wall time of the whole batch.
    A seed whose loss becomes NaN/Inf stops there (its ``diverged`` says why) while the others train on;
    nothing is raised. ``on_log`` is called per seed with copies of that seed's networks.
    ``checkpoint_path`` / ``resume`` / ``checkpoint_seconds`` as in ``train`` (one file for all seeds; no
    checkpoint is written once a seed has diverged, so the last good one stays).
    """
    cfg = _config(config, overrides, on_log)
    saving = _Checkpointing.check(checkpoint_path, resume, checkpoint_seconds)
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (list, tuple, range)):
        raise ValueError(f"seeds must be a non-empty list of non-negative integers, got {seeds!r}")
    seeds = list(seeds)
    if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or not 0 <= s <= settings.SEED_LIMIT
                        for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative integers below 2**63, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds!r}")
    real = _data.sampler(data)
    dev = settings.resolve_device(device)
    cfgs = [replace(cfg, seed=s) for s in seeds]
    gens, crits = [], []
    for c in cfgs:  # the same construction order as train(), so seed k starts from the same networks
        settings.seed_everything(c.seed)
        gens.append(nets.generator(real.dim, c.noise_dim, width=c.width, depth=c.depth))
        crits.append(default_critic(real.dim, c))
    G, D = nets.StackedMLP(gens).to(dev), nets.StackedMLP(crits).to(dev)
    return _train_stack(real, cfgs, G, D, dev, on_log, saving, _data_tag(data))


def _data_tag(data: Data) -> str:
    """What a checkpoint records of the data, so a run is never resumed on other data: the data set's
    name, a tensor's SHA-256, or "callable" (a sampler function cannot be fingerprinted)."""
    if isinstance(data, str):
        return data
    if isinstance(data, torch.Tensor):
        t = data.detach().cpu().contiguous()
        return "tensor:" + hashlib.sha256(t.view(torch.uint8).numpy().tobytes()).hexdigest()[:32]
    return "callable"


_TRAINER = "gan_lab.train"


@dataclass(frozen=True)
class _Checkpointing:
    """Where and how often ``_train_stack`` saves its run state, and whether it starts from a saved one."""

    path: Optional[str] = None
    resume: Union[bool, str] = False
    seconds: float = 60.0

    @staticmethod
    def check(path, resume, seconds) -> "_Checkpointing":
        if resume not in (False, True, "auto") or isinstance(resume, (int, float)) and not isinstance(resume, bool):
            raise ValueError(f"resume must be True, False or 'auto', got {resume!r}")
        seconds = checks.number_at_least("checkpoint_seconds", seconds, 0.0)
        if path is None:
            if resume is True:
                raise ValueError("resume=True needs a checkpoint_path")
            return _Checkpointing(None, False, seconds)
        return _Checkpointing(_checkpoint.check_writable(path), resume, seconds)

    def load(self, cfgs: list[TrainConfig], data_tag: str) -> Optional[dict]:
        """The saved state to resume from (checked to be this run's), or None to start afresh."""
        if self.path is None or self.resume is False or (self.resume == "auto" and not os.path.exists(self.path)):
            return None
        state = _checkpoint.load_checkpoint(self.path)
        if state.get("trainer") != _TRAINER:
            raise _checkpoint.CheckpointError(f"{self.path!r} is a gan_lab checkpoint but not one of train / "
                                              f"train_seeds (trainer {state.get('trainer')!r})")
        mine = [{k: v for k, v in asdict(c).items() if k != "progress"} for c in cfgs]
        saved = [{k: v for k, v in c.items() if k != "progress"} for c in state["configs"]]
        if saved != mine:
            diffs = sorted({k for a, b in zip(saved, mine) for k in set(a) | set(b) if a.get(k) != b.get(k)})
            if len(saved) != len(mine):
                diffs = [f"{len(saved)} seed(s) saved, {len(mine)} given"]
            raise ValueError(f"cannot resume from {self.path!r}: it was written by another run (differs in "
                             f"{', '.join(diffs)}); only progress may change on resume")
        if state["data"] != data_tag:
            raise ValueError(f"cannot resume from {self.path!r}: it was trained on other data "
                             f"({state['data'][:40]!r}, this run's is {data_tag[:40]!r})")
        if state["seed_offset"] != settings.seed_offset():
            raise ValueError(f"cannot resume from {self.path!r}: it was written with GAN_LAB_SEED_OFFSET="
                             f"{state['seed_offset']}, this run has {settings.seed_offset()}")
        return state


def default_critic(dim: int, cfg: TrainConfig) -> nets.MLP:
    """The critic ``train`` builds for ``cfg`` on d-D data (``dim``): ``nets.critic`` of ``cfg.width`` x
    ``cfg.depth`` on ``cfg.pack`` concatenated points, spectrally normalised if ``cfg.spectral_norm``."""
    if cfg.spectral_norm:
        return nets.critic(dim * cfg.pack, width=cfg.width, depth=cfg.depth, spectral_norm=True)
    return nets.critic(dim * cfg.pack, width=cfg.width, depth=cfg.depth)


def _train_stack(sample_real: _data.Sampler, cfgs: list[TrainConfig], G: nn.Module, D: nn.Module,
                 dev: torch.device, on_log, saving: _Checkpointing = _Checkpointing(),
                 data_tag: str = "callable") -> list[TrainResult]:
    """The loop for K = len(cfgs) seeds. With K > 1, G and D are ``StackedMLP``s mapping (K, n, .) to
    (K, n, .); with K = 1 they may be any modules mapping (n, .) to (n, .)."""
    saved = saving.load(cfgs, data_tag)   # before any work: a wrong file is refused at once
    cfg, K = cfgs[0], len(cfgs)
    name, dim = sample_real.name, sample_real.dim
    stacked = isinstance(G, nets.StackedMLP)
    g_fn = G if stacked else (lambda x: G(x[0]).unsqueeze(0))   # (K, n, .) -> (K, n, .)
    d_fn = D if stacked else (lambda x: D(x[0]).unsqueeze(0))
    h_fn = D.features if stacked else (lambda x: D.features(x[0]).unsqueeze(0))   # feature matching only
    opt_g = loop.optimizer(cfg.generator_optimizer, G.parameters(), cfg.lr_g, cfg.betas)
    opt_d = loop.optimizer(cfg.optimizer, D.parameters(), cfg.lr_d, cfg.betas)
    game = cfg.objective_losses()
    rngs = [settings.stream(c.seed, "train") for c in cfgs]

    def noise(n: int, stream: str, step: int = 0) -> torch.Tensor:
        """(K, n, noise_dim): each seed's z from its own stream (settings.STREAMS) at ``step``."""
        return torch.stack([torch.randn(n, c.noise_dim, generator=settings.stream(c.seed, stream, step))
                            for c in cfgs]).to(dev)

    # A fixed real evaluation set per seed, from its own stream so that evaluation does not shift training's.
    evaluate_w1 = cfg.eval_samples > 0 and dim == 2
    eval_real = [sample_real(cfg.eval_samples, settings.stream(c.seed, "eval_real")) if evaluate_w1
                 else None for c in cfgs]
    track_modes = name in ("8gaussians", "25gaussians") and cfg.eval_samples > 0
    results = []
    for c in cfgs:
        history: dict[str, list] = {k: [] for k in ("step", "loss_d", "loss_g", "estimate", "penalty", "seconds")}
        if evaluate_w1:
            history["w1"] = []
        if track_modes:
            history["modes"], history["hq_fraction"] = [], []
        results.append(TrainResult(G if not stacked else None, D if not stacked else None, c, history))
    z_fixed = noise(cfg.snapshots, "snapshot_noise")
    alive = [True] * K
    run_state = loop.RunState({"generator": G, "critic": D, "opt_g": opt_g, "opt_d": opt_d}, [], rngs, on_log)
    first, seconds_before = 1, 0.0
    if saved is not None:
        try:
            run_state.restore(saved)
        except RuntimeError as err:
            raise _checkpoint.CheckpointError(f"cannot resume from {saving.path!r}: its networks do not fit this "
                                              f"run's ({str(err).strip().splitlines()[0]})") from None
        for r, h, snaps, why, stop in zip(results, saved["histories"], saved["snapshots"], saved["diverged"],
                                          saved["stopped"]):
            r.history = {k: list(v) for k, v in h.items()}
            r.snapshots = [(int(st), x) for st, x in snaps]
            r.diverged, r.stopped, r.start_step = why, stop, int(saved["step"])
        alive = [bool(a) for a in saved["alive"]]
        first, seconds_before = int(saved["step"]) + 1, float(saved["seconds"])

    def unstack() -> None:
        if stacked:
            for r, g_k, d_k in zip(results, G.unstack(), D.unstack()):
                r.generator, r.critic = g_k, d_k

    noisy = cfg.instance_noise > 0

    def draw(n: int, with_eps: bool) -> tuple:
        """Each seed's real batch, noise z (and interpolation weights, and instance noise for the real and
        the fake batch), in the order train() draws them."""
        reals, zs, epss, jitters = [], [], [], []
        for c, rng in zip(cfgs, rngs):
            reals.append(sample_real(n, rng))
            zs.append(torch.randn(n, c.noise_dim, generator=rng))
            if with_eps:
                epss.append(torch.rand(n, 1, generator=rng))
            if noisy:
                jitters.append(torch.randn(2 * n, dim, generator=rng))
        stack = lambda ts: torch.stack(ts).to(dev, non_blocking=True) if ts else None  # noqa: E731
        return stack(reals), stack(zs), stack(epss), stack(jitters)

    B, P = cfg.batch_size, cfg.pack
    wgan = cfg.objective in objectives.WASSERSTEIN
    use_penalty = game.lipschitz == "penalty" and cfg.penalty_weight > 0

    def packed(x: torch.Tensor) -> torch.Tensor:
        """(K, n, d) -> (K, n / pack, pack d): each row of the critic's input is ``pack`` samples side by side."""
        return x if P == 1 else x.reshape(x.shape[0], x.shape[1] // P, P * dim)
    start = time.perf_counter() - seconds_before
    last_save = time.perf_counter()

    def save(step: int) -> None:
        """Write the run state after generator step ``step``, unless a network holds NaN/Inf (a diverged
        seed): then the last good file stays, and a resume re-runs the same steps to the same end."""
        nonlocal last_save
        if not all(bool(torch.isfinite(p).all()) for net in (G, D) for p in net.parameters()):
            return
        _checkpoint.save_checkpoint(saving.path, run_state.state(
            trainer=_TRAINER, step=step, configs=[asdict(c) for c in cfgs], data=data_tag,
            seed_offset=settings.seed_offset(), histories=[r.history for r in results],
            snapshots=[[[st, x] for st, x in r.snapshots] for r in results], diverged=[r.diverged for r in results],
            stopped=[r.stopped for r in results], alive=alive, seconds=time.perf_counter() - start))
        last_save = time.perf_counter()

    def log(step: int, loss_d, loss_g, estimate, penalty) -> None:
        """Record step ``step`` for every live seed: losses (None before training), W1, modes, snapshots, on_log."""
        gen = None
        if evaluate_w1 or track_modes:
            with torch.no_grad():
                gen = g_fn(noise(cfg.eval_samples, "eval_noise", step)).cpu()
        snaps = None
        if cfg.snapshots:
            with torch.no_grad():
                snaps = g_fn(z_fixed).cpu()
        if on_log is not None:
            unstack()
        for k, r in enumerate(results):
            if not alive[k]:
                continue
            h = r.history
            if gen is not None and not torch.isfinite(gen[k]).all():
                alive[k] = False
                r.diverged = (f"training diverged at generator step {step}: the generator's "
                              "samples contain NaN or Inf (lower the learning rates)")
                continue
            h["step"].append(step)
            nan = float("nan")   # step 0 (log_start) has no losses yet
            h["loss_d"].append(float(loss_d[k].detach()) if loss_d is not None else nan)
            h["loss_g"].append(float(loss_g[k].detach()) if loss_g is not None else nan)
            h["estimate"].append(float(estimate[k]) if wgan and estimate is not None else nan)
            h["penalty"].append(float(penalty[k].detach()) if penalty is not None else nan)
            if evaluate_w1:
                h["w1"].append(metrics.wasserstein1(gen[k], eval_real[k]))
            if track_modes:
                cov = metrics.mode_coverage(gen[k], name)
                h["modes"].append(cov.modes_covered)
                h["hq_fraction"].append(cov.high_quality_fraction)
            if snaps is not None:
                r.snapshots.append((step, snaps[k]))
            if on_log is not None:
                extra, stop = loop.log_extras(on_log, r, step)
                if stop:
                    alive[k], r.stopped = False, True
                for key, value in extra.items():
                    h.setdefault(key, []).append(value)
            h["seconds"].append(time.perf_counter() - start)

    if cfg.log_start and saved is None:
        log(0, None, None, None, None)
    desc = cfg.objective if K == 1 else f"{cfg.objective} x{K} seeds"
    bar = tqdm(range(first, cfg.steps + 1) if any(alive) else range(0), disable=not cfg.progress, desc=desc,
               leave=False, initial=first - 1, total=cfg.steps)
    done = first - 1
    for step in bar:
        # ---- critic / discriminator: n_critic steps -------------------------------------------------
        early = cfg.n_critic_early > 0 and (step <= 25 or step % 500 == 0)
        sigma = cfg.instance_noise * (1 - (step - 1) / cfg.steps)   # annealed linearly towards 0
        for _ in range(cfg.n_critic_early if early else cfg.n_critic):
            real, z, eps, jitter = draw(B, use_penalty)
            with torch.no_grad():
                fake = g_fn(z)
            if noisy:                                             # instance noise on both inputs
                real, fake = real + sigma * jitter[:, :B], fake + sigma * jitter[:, B:]
            real, fake = packed(real), packed(fake)
            n = B // P                                            # critic inputs per half
            scores = d_fn(torch.cat([real, fake], dim=1))        # one pass over both halves
            real_s, fake_s = scores[:, :n], scores[:, n:]
            estimate = (real_s.detach().mean(dim=(1, 2)) - fake_s.detach().mean(dim=(1, 2)))  # E f(x) - E f(G(z))
            loss_d = torch.stack([game.critic_loss(r, f) for r, f in zip(real_s, fake_s)])
            penalty = None
            if use_penalty:   # per-sample terms over all K*n interpolates, then each seed's mean
                width_in = P * dim
                flat_d = lambda x: d_fn(x.view(K, n, width_in)).view(K * n, -1)  # noqa: E731
                penalty = losses.gradient_penalty(flat_d, real.reshape(K * n, width_in),
                                                  fake.reshape(K * n, width_in), one_sided=cfg.one_sided,
                                                  eps=eps[:, :n].reshape(K * n, 1),
                                                  reduction="none").view(K, n).mean(dim=1)
            total_d = loss_d + cfg.penalty_weight * penalty if penalty is not None else loss_d
            opt_d.zero_grad(set_to_none=True)
            total_d.sum().backward()      # the sum over seeds leaves each seed's gradient as it is
            opt_d.step()
            if game.lipschitz == "clip":
                losses.clip_weights(D, cfg.clip)

        # ---- generator: one step against a frozen critic ----------------------------------------------
        D.requires_grad_(False)
        zs, jitters, reals, real_jitters = [], [], [], []
        for c, rng in zip(cfgs, rngs):
            zs.append(torch.randn(B, c.noise_dim, generator=rng))
            if noisy:
                jitters.append(torch.randn(B, dim, generator=rng))
            if game.feature_matching:       # a real batch to match, after z: other runs draw as before
                reals.append(sample_real(B, rng))
                if noisy:
                    real_jitters.append(torch.randn(B, dim, generator=rng))
        fake = g_fn(torch.stack(zs).to(dev))
        if noisy:
            fake = fake + sigma * torch.stack(jitters).to(dev)
        if game.feature_matching:           # ||E h(x) - E h(G(z))||^2 on the critic's last hidden layer
            real = torch.stack(reals).to(dev)
            if noisy:
                real = real + sigma * torch.stack(real_jitters).to(dev)
            with torch.no_grad():
                real_h = h_fn(packed(real))
            loss_g = torch.stack([game.generator_loss(r, f) for r, f in zip(real_h, h_fn(packed(fake)))])
        else:
            gen_s = d_fn(packed(fake))
            loss_g = torch.stack([game.generator_loss(s) for s in gen_s])
        opt_g.zero_grad(set_to_none=True)
        loss_g.sum().backward()
        opt_g.step()
        D.requires_grad_(True)

        finite = torch.isfinite(total_d.detach() + loss_g.detach()).tolist()
        for k in range(K):
            if alive[k] and not finite[k]:
                alive[k] = False
                results[k].diverged = (
                    f"training diverged at generator step {step}: critic loss {float(total_d[k].detach()):.4g}, "
                    f"generator loss {float(loss_g[k].detach()):.4g} (lower the learning rates, or check the data)")

        if (step % cfg.log_every == 0 or step == cfg.steps) and any(alive):
            log(step, loss_d, loss_g, estimate, penalty)
            if saving.path is not None and step < cfg.steps and time.perf_counter() - last_save >= saving.seconds:
                save(step)
        done = step
        if not any(alive):
            break
    if saving.path is not None:
        save(done)
    seconds = time.perf_counter() - start
    unstack()
    for r in results:
        r.seconds = seconds
    return results
