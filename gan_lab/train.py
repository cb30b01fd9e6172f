"""One training loop for every objective in the book.

    for step in 1..steps:                          (generator iterations)
        repeat n_critic times:                     (critic / discriminator steps)
            x ~ p_data, z ~ N(0, I)
            loss_d = objective's critic loss on x and G(z)   (+ lam * penalty for WGAN-GP)
            update D (then clip its weights for WGAN with clipping)
        z ~ N(0, I);  loss_g = objective's generator loss on D(G(z));  update G

Objectives: ``"gan"`` (discriminator on logits, saturating or non-saturating generator loss),
``"wgan-clip"`` (Arjovsky et al., 2017: RMSProp, weight clipping) and ``"wgan-gp"`` (Gulrajani et al.,
2017: Adam, gradient penalty). Every ``log_every`` steps the history records the losses and, on 2-D data,
the exact W1 between generated and real samples, and mode coverage on Gaussian mixtures.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Callable, Optional, Sequence, Union

import torch
from torch import nn
from tqdm.auto import tqdm

from . import data as _data
from . import losses, metrics, nets, settings

__all__ = ["TrainConfig", "TrainResult", "TrainingDiverged", "StopTraining", "train", "train_seeds", "OBJECTIVES",
           "OPTIMIZERS"]

OBJECTIVES = ("gan", "wgan-clip", "wgan-gp")
OPTIMIZERS = ("adam", "rmsprop")

# Per-objective defaults for the fields left as None. GAN and WGAN-clip: the toy settings of the WGAN-GP
# authors' released toy script (3 x 512 nets; the optimisers and rates their papers give). WGAN-GP: faster toy
# settings than that script's (3 x 512, lr 1e-4, n_critic 5), chosen with
# benchmarks/time_to_quality.py: 3 x 128 nets, lr 1e-3, n_critic 3 reach the same quality bar on 8 Gaussians
# in a small fraction of the paper settings' time. The book passes the paper's settings where it means them.
_DEFAULTS = {
    "gan": dict(width=512, n_critic=1, optimizer="adam", lr_g=1e-4, lr_d=1e-4, betas=(0.5, 0.9)),
    "wgan-clip": dict(width=512, n_critic=5, optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5, betas=(0.5, 0.9)),
    "wgan-gp": dict(width=128, n_critic=3, optimizer="adam", lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.9)),
}

Data = Union[str, torch.Tensor, Callable[[int, torch.Generator], torch.Tensor]]
_INTEGER_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


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
    generator_loss: str = "non_saturating"  # "gan" only: or "saturating"
    penalty_weight: float = 0.1            # lambda of WGAN-GP: 0.1 as in the WGAN-GP authors' toy script (their paper: 10)
    one_sided: bool = False                # WGAN-GP: penalise only gradient norms above 1
    clip: float = 0.01                     # WGAN-clip: c
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
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; use one of {OBJECTIVES}")
        filled = {k: v for k, v in _DEFAULTS[self.objective].items() if getattr(self, k) is None}
        cfg = replace(self, **filled)
        if cfg.generator_optimizer is None:
            cfg = replace(cfg, generator_optimizer=cfg.optimizer)
        cfg._check()
        # plain floats from here on: (0, 0.9) written plainly, or an np.float64 rate, reach torch as floats
        return replace(cfg, betas=(float(cfg.betas[0]), float(cfg.betas[1])), lr_g=float(cfg.lr_g),
                       lr_d=float(cfg.lr_d), clip=float(cfg.clip), penalty_weight=float(cfg.penalty_weight))

    def _check(self) -> None:
        def positive_int(name: str, minimum: int = 1) -> None:
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")

        for name in ("steps", "batch_size", "noise_dim", "width", "log_every"):
            positive_int(name)
        positive_int("n_critic")
        positive_int("n_critic_early", 0)
        positive_int("depth", 0)
        positive_int("eval_samples", 0)
        positive_int("snapshots", 0)
        positive_int("seed", 0)
        if self.seed > settings.SEED_LIMIT:
            raise ValueError(f"seed must be below 2**63 (torch's generators take no larger), got {self.seed!r}")
        for name in ("lr_g", "lr_d", "clip"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"{name} must be a positive finite number, got {v!r}")
        if isinstance(self.penalty_weight, bool) or not isinstance(self.penalty_weight, (int, float)) \
                or not math.isfinite(self.penalty_weight) or self.penalty_weight < 0:
            raise ValueError(f"penalty_weight must be a finite number >= 0, got {self.penalty_weight!r}")
        for name in ("optimizer", "generator_optimizer"):
            if getattr(self, name) not in OPTIMIZERS:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; use one of {OPTIMIZERS}")
        if self.generator_loss not in losses.GENERATOR_LOSSES:
            raise ValueError(f"unknown generator_loss {self.generator_loss!r}; use one of {losses.GENERATOR_LOSSES}")
        for name in ("log_start", "one_sided", "progress"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        b = self.betas
        if not (isinstance(b, (tuple, list)) and len(b) == 2
                and all(isinstance(x, (int, float)) and not isinstance(x, bool) and 0 <= x < 1 for x in b)):
            raise ValueError(f"betas must be two numbers in [0, 1), got {b!r}")


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

    @torch.no_grad()
    def sample(self, n: int, *, seed: Optional[int] = None) -> torch.Tensor:
        """n generated points G(z), z ~ N(0, I), on the CPU."""
        g = settings.rng(seed) if seed is not None else None
        device = next(self.generator.parameters()).device
        z = torch.randn(n, self.config.noise_dim, generator=g).to(device)
        return self.generator(z).cpu()


class TrainingDiverged(FloatingPointError):
    """A loss became NaN or Inf. ``result`` holds the run up to that point (nets and history)."""

    def __init__(self, message: str, result: TrainResult) -> None:
        super().__init__(message)
        self.result = result


class StopTraining(Exception):
    """Raise this from ``on_log`` to end training after the current log (e.g. once a quality bar is met).
    ``train`` then returns the result as it stands; the history keeps this last log."""


def _real_sampler(data: Data, arg: str = "data") -> tuple[Callable[[int, torch.Generator], torch.Tensor],
                                                          Optional[str], int]:
    """A function (n, generator) -> (n, d) real points, the data set's name if it has one, and d.
    ``arg`` is the argument's name in the caller, for the error messages."""
    if isinstance(data, str):
        if data not in _data.NAMES:
            raise ValueError(f"unknown data set {arg}={data!r}; known: {', '.join(_data.NAMES)}")
        dim = _data.sample(data, 1, seed=0).shape[1]
        return (lambda n, g: _data.sample(data, n, generator=g)), data, dim
    if isinstance(data, torch.Tensor):
        if data.is_complex() or not (data.is_floating_point() or data.dtype in _INTEGER_DTYPES):
            raise ValueError(f"{arg} tensor must hold real numbers, got dtype {data.dtype}")
        if data.dim() != 2 or data.shape[0] == 0:
            raise ValueError(f"{arg} tensor must have shape (n, d) with n > 0, got {tuple(data.shape)}")
        if not torch.isfinite(data).all():
            bad = (~torch.isfinite(data)).nonzero()[0].tolist()
            raise ValueError(f"{arg} contains NaN or Inf (first at index {bad}: {data[bad[0], bad[1]].item()})")
        points = data.detach().to(torch.float32).cpu()
        return (lambda n, g: points[torch.randint(len(points), (n,), generator=g)]), None, points.shape[1]
    if callable(data):
        probe = data(2, torch.Generator().manual_seed(0))
        if not isinstance(probe, torch.Tensor) or probe.dim() != 2 or probe.shape[0] != 2:
            shape = tuple(probe.shape) if isinstance(probe, torch.Tensor) else type(probe).__name__
            raise ValueError(f"a {arg} callable must return an (n, d) tensor for (n, generator); for n = 2 it "
                             f"returned {shape}")
        if probe.is_complex() or not probe.is_floating_point():
            raise ValueError(f"the {arg} callable must return real floating-point points, got dtype {probe.dtype}")
        if not torch.isfinite(probe).all():
            raise ValueError(f"the {arg} callable returned NaN or Inf: {probe.tolist()}")
        dim = probe.shape[1]

        def checked(n: int, g: torch.Generator) -> torch.Tensor:   # a shape compare per batch: free
            x = data(n, g)
            if not isinstance(x, torch.Tensor) or tuple(x.shape) != (n, dim):
                shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
                raise ValueError(f"the {arg} callable returned {shape} for n = {n}; it must return ({n}, {dim})")
            return x

        return checked, None, dim
    raise ValueError(f"{arg} must be a data-set name, an (n, d) tensor or a callable, got {type(data).__name__}")


def _optimizer(cfg: TrainConfig, params, lr: float, kind: str) -> torch.optim.Optimizer:
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    try:  # the fused kernel does the whole Adam update in one pass over the parameters
        return torch.optim.Adam(params, lr=lr, betas=tuple(cfg.betas), fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, betas=tuple(cfg.betas))


def _config(config: Optional[TrainConfig], overrides: dict, on_log) -> TrainConfig:
    base = config if config is not None else TrainConfig()
    if not isinstance(base, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(base).__name__}: {base!r:.80}")
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown training option(s) {unknown}; known: {sorted(known)}")
    if on_log is not None and not callable(on_log):
        raise ValueError(f"on_log must be a callable taking the result, got {on_log!r}")
    return replace(base, **overrides).resolved()


def train(data: Data, config: Optional[TrainConfig] = None, *, generator: Optional[nn.Module] = None,
          critic: Optional[nn.Module] = None, device: Optional[Union[str, torch.device]] = None,
          on_log: Optional[Callable[[TrainResult], dict]] = None, **overrides) -> TrainResult:
    """Train a GAN on ``data`` (a name from ``gan_lab.data``, an (n, d) tensor, or a sampler).

    ``config`` fields can be overridden by keyword, e.g. ``train("8gaussians", objective="gan", steps=500)``.
    Networks default to the toy MLPs (``nets.generator`` / ``nets.critic``) built after seeding with
    ``config.seed``; batches, noise and interpolation weights come from a generator seeded with it too, so
    the same seed reproduces a run on the CPU. ``on_log(result)``, if given, is called at every log and
    returns a dict of extra numbers to record in the history (e.g. a generator's parameter), or raises
    ``StopTraining`` to end the run early.
    Bad configuration raises ``ValueError`` before any work;
    a NaN/Inf loss raises ``TrainingDiverged`` carrying the partial result.
    """
    cfg = _config(config, overrides, on_log)
    for arg, net in (("generator", generator), ("critic", critic)):
        if net is not None and not isinstance(net, nn.Module):
            raise ValueError(f"{arg} must be a torch.nn.Module or None, got {type(net).__name__}")
    sample_real, name, dim = _real_sampler(data)
    dev = settings.resolve_device(device)
    settings.seed_everything(cfg.seed)
    G = generator if generator is not None else nets.generator(dim, cfg.noise_dim, width=cfg.width, depth=cfg.depth)
    D = critic if critic is not None else nets.critic(dim, width=cfg.width, depth=cfg.depth)
    G, D = G.to(dev), D.to(dev)
    if generator is not None:
        nets.check_fits("generator", G, cfg.noise_dim, [(2, dim)], dev)
    if critic is not None:
        nets.check_fits("critic", D, dim, [(2,), (2, 1)], dev)
    (result,) = _train_stack(sample_real, name, dim, [cfg], G, D, dev, on_log)
    if result.diverged is not None:
        raise TrainingDiverged(result.diverged, result)
    return result


def train_seeds(data: Data, config: Optional[TrainConfig] = None, *, seeds: Sequence[int],
                device: Optional[Union[str, torch.device]] = None,
                on_log: Optional[Callable[[TrainResult], dict]] = None, **overrides) -> list[TrainResult]:
    """Train one configuration with several seeds as one batched computation; one ``TrainResult`` per seed.

    Seed k's run is the run ``train(data, config, seed=seeds[k], **overrides)`` would do: the same initial
    networks, batches, noise and interpolation weights, drawn from its own generator. The K generators and
    critics are stacked (``nets.StackedMLP``) so each layer is one batched matrix product for all seeds;
    the losses are summed over seeds, which leaves each seed's gradients as they are. Results equal separate
    runs up to floating-point summation order. Each result's ``seconds`` is the wall time of the whole batch.
    A seed whose loss becomes NaN/Inf stops there (its ``diverged`` says why) while the others train on;
    nothing is raised. ``on_log`` is called per seed with copies of that seed's networks.
    """
    cfg = _config(config, overrides, on_log)
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (list, tuple, range)):
        raise ValueError(f"seeds must be a non-empty list of non-negative integers, got {seeds!r}")
    seeds = list(seeds)
    if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or not 0 <= s <= settings.SEED_LIMIT
                        for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative integers below 2**63, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds!r}")
    sample_real, name, dim = _real_sampler(data)
    dev = settings.resolve_device(device)
    cfgs = [replace(cfg, seed=s) for s in seeds]
    gens, crits = [], []
    for c in cfgs:  # the same construction order as train(), so seed k starts from the same networks
        settings.seed_everything(c.seed)
        gens.append(nets.generator(dim, c.noise_dim, width=c.width, depth=c.depth))
        crits.append(nets.critic(dim, width=c.width, depth=c.depth))
    G, D = nets.StackedMLP(gens).to(dev), nets.StackedMLP(crits).to(dev)
    return _train_stack(sample_real, name, dim, cfgs, G, D, dev, on_log)


def _train_stack(sample_real, name: Optional[str], dim: int, cfgs: list[TrainConfig], G: nn.Module,
                 D: nn.Module, dev: torch.device, on_log) -> list[TrainResult]:
    """The loop for K = len(cfgs) seeds. With K > 1, G and D are ``StackedMLP``s mapping (K, n, .) to
    (K, n, .); with K = 1 they may be any modules mapping (n, .) to (n, .)."""
    cfg, K = cfgs[0], len(cfgs)
    stacked = isinstance(G, nets.StackedMLP)
    g_fn = G if stacked else (lambda x: G(x[0]).unsqueeze(0))   # (K, n, .) -> (K, n, .)
    d_fn = D if stacked else (lambda x: D(x[0]).unsqueeze(0))
    opt_g = _optimizer(cfg, G.parameters(), cfg.lr_g, cfg.generator_optimizer)
    opt_d = _optimizer(cfg, D.parameters(), cfg.lr_d, cfg.optimizer)
    rngs = [settings.rng(c.seed) for c in cfgs]

    def noise(n: int, offset: int) -> torch.Tensor:
        """(K, n, noise_dim): each seed's z from its own evaluation stream (seed + offset)."""
        return torch.stack([torch.randn(n, c.noise_dim, generator=settings.rng(c.seed + offset))
                            for c in cfgs]).to(dev)

    # A fixed real evaluation set per seed, from its own stream so that evaluation does not shift training's.
    evaluate_w1 = cfg.eval_samples > 0 and dim == 2
    eval_real = [sample_real(cfg.eval_samples, settings.rng(c.seed + 10_000)) if evaluate_w1
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
    z_fixed = noise(cfg.snapshots, 30_000)
    alive = [True] * K

    def unstack() -> None:
        if stacked:
            for r, g_k, d_k in zip(results, G.unstack(), D.unstack()):
                r.generator, r.critic = g_k, d_k

    def draw(n: int, with_eps: bool) -> tuple:
        """Each seed's real batch, noise (and interpolation weights), in the order train() draws them."""
        reals, zs, epss = [], [], []
        for c, rng in zip(cfgs, rngs):
            reals.append(sample_real(n, rng))
            zs.append(torch.randn(n, c.noise_dim, generator=rng))
            if with_eps:
                epss.append(torch.rand(n, 1, generator=rng))
        stack = lambda ts: torch.stack(ts).to(dev, non_blocking=True) if ts else None  # noqa: E731
        return stack(reals), stack(zs), stack(epss)

    B, wgan = cfg.batch_size, cfg.objective != "gan"
    use_penalty = cfg.objective == "wgan-gp" and cfg.penalty_weight > 0
    start = time.perf_counter()

    def log(step: int, loss_d, loss_g, estimate, penalty) -> None:
        """Record step ``step`` for every live seed: losses (None before training), W1, modes, snapshots, on_log."""
        gen = None
        if evaluate_w1 or track_modes:
            with torch.no_grad():
                gen = g_fn(torch.stack([torch.randn(cfg.eval_samples, c.noise_dim,
                                                    generator=settings.rng(c.seed + 20_000 + step))
                                        for c in cfgs]).to(dev)).cpu()
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
                try:
                    extra = on_log(r)
                except StopTraining:
                    extra, alive[k], r.stopped = {}, False, True
                for key, value in (extra or {}).items():
                    h.setdefault(key, []).append(value)
            h["seconds"].append(time.perf_counter() - start)

    if cfg.log_start:
        log(0, None, None, None, None)
    desc = cfg.objective if K == 1 else f"{cfg.objective} x{K} seeds"
    bar = tqdm(range(1, cfg.steps + 1) if any(alive) else range(0), disable=not cfg.progress, desc=desc,
               leave=False)
    for step in bar:
        # ---- critic / discriminator: n_critic steps -------------------------------------------------
        early = cfg.n_critic_early > 0 and (step <= 25 or step % 500 == 0)
        for _ in range(cfg.n_critic_early if early else cfg.n_critic):
            real, z, eps = draw(B, use_penalty)
            with torch.no_grad():
                fake = g_fn(z)
            scores = d_fn(torch.cat([real, fake], dim=1))        # one pass over both halves
            real_s, fake_s = scores[:, :B], scores[:, B:]
            estimate = (real_s.detach().mean(dim=(1, 2)) - fake_s.detach().mean(dim=(1, 2)))  # E f(x) - E f(G(z))
            if wgan:
                loss_d = torch.stack([losses.critic_loss(r, f) for r, f in zip(real_s, fake_s)])
                penalty = None
                if use_penalty:   # per-sample terms over all K*B interpolates, then each seed's mean
                    flat_d = lambda x: d_fn(x.view(K, B, dim)).view(K * B, -1)  # noqa: E731
                    penalty = losses.gradient_penalty(flat_d, real.view(K * B, dim), fake.view(K * B, dim),
                                                      one_sided=cfg.one_sided, eps=eps.view(K * B, 1),
                                                      reduction="none").view(K, B).mean(dim=1)
                total_d = loss_d + cfg.penalty_weight * penalty if penalty is not None else loss_d
            else:
                loss_d = total_d = torch.stack([losses.discriminator_loss(r, f) for r, f in zip(real_s, fake_s)])
                penalty = None
            opt_d.zero_grad(set_to_none=True)
            total_d.sum().backward()      # the sum over seeds leaves each seed's gradient as it is
            opt_d.step()
            if cfg.objective == "wgan-clip":
                losses.clip_weights(D, cfg.clip)

        # ---- generator: one step against a frozen critic ----------------------------------------------
        D.requires_grad_(False)
        z = torch.stack([torch.randn(B, c.noise_dim, generator=rng) for c, rng in zip(cfgs, rngs)]).to(dev)
        gen_s = d_fn(g_fn(z))
        loss_g = torch.stack([losses.wasserstein_generator_loss(s) if wgan
                              else losses.generator_loss(s, cfg.generator_loss) for s in gen_s])
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
        if not any(alive):
            break
    seconds = time.perf_counter() - start
    unstack()
    for r in results:
        r.seconds = seconds
    return results
