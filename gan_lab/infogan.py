"""InfoGAN (Chen et al. 2016): a GAN whose generator input carries a code c that a recognition network Q must
read back from G(z, c), trained without labels; then: does the learned categorical code sort real images by
an attribute nobody named (chapter 7's question, whether a GAN classifies without labels)?

The latent input is (z, c_cat, c_cont): z ~ N(0, I) of ``noise_dim``, a categorical code c_cat ~ U{0..K-1}
(fed to G one-hot) and ``n_continuous`` codes c_cont ~ U[-1, 1]. Q shares the critic's convolutional trunk h
(as in the paper) and adds a small head: Q(h(x)) = (logits of c_cat, mean mu and log-std of c_cont). The
mutual-information lower bound L_I = H(c) + E[log Q(c | G(z, c))] <= I(c; G(z, c)) is maximised by G and Q
together (``losses.mutual_information_lower_bound``; for the continuous codes ``losses.gaussian_code_loss``):

    for step in 1..steps:
        repeat n_critic times:                                     (one CPU generator, in this order)
            x = images[i_1..i_B], i ~ U{1..N};  z ~ N(0, I);  c_cat ~ U{0..K-1};  c_cont ~ U[-1, 1];  eps ~ U[0, 1]
            x~ = G(z, c)                                           (no gradient to G)
            L_info = CE(Q(h(x~)), c_cat) + lambda_cont * NLL(c_cont | Q(h(x~)))
            loss_d = L_D(f(x), f(x~)) [+ penalty_weight * E[(||grad f(x_hat)||_2 - 1)^2]] + lambda * L_info
            one step of the critic's Adam (trunk h and head f) and of Q's Adam (Q's head)
        z, c_cat, c_cont fresh;  x~ = G(z, c)
        loss_g = L_G(f(x~)) + lambda * L_info(x~)                  (critic and Q frozen)
        one step of G's Adam
        every checkpoint_every steps: the three nets, three optimisers, the generator's state, the history

L_D and L_G are any objective of ``gan_lab.objectives`` by name. The default is the paper's: the standard
GAN (non-saturating generator loss), one critic step per generator step, Adam(1e-3, betas (0.5, 0.999))
for all three players (the paper gives G and Q 1e-3, D 2e-4 on MNIST). Measured on the 16 px shapes (3
shapes, one colour, K = 3, 300 images each, one CPU thread, 800 steps, 8 to 11 s a run) on 15 seeds
(0-4 at seed offsets 0, 1000 and 2000): the bound on G's own samples reached 1.052 to 1.0985 nats (log 3 =
1.0986) on every seed, and Q's code sorted fresh real images by shape (cluster accuracy 1.0) on 11 of them;
on the other 4 (0.57 to 0.71) two codes drew the same shape, so a readable code is not always the shape. With
info_weight = 0 (2 seeds) the bound stayed near 0 (-0.15, -0.001) and G drew the same mix of shapes for every
code (code vs drawn shape: cluster accuracy 0.36). WGAN-GP at its paper's settings
(``objective="wgan-gp", n_critic=5, lr=1e-4, betas=(0, 0.9)``) costs 13 times as much a step (five
critic steps, each with a double backward) and after 300 steps (100 s) had raised the bound on its own
samples to 0.86 nats while Q still put every real image in one category. Either way the critic has no
batch norm (``convnets.Critic`` never has one), so Q reads features of one image that do not depend on the
rest of its batch; the paper's DCGAN discriminator had batch norm.

Why a loop of its own, not a row of the ``objectives`` table: InfoGAN has a third network, Q, with its
own optimiser and its own loss, and that loss sits on *both* sides: it is added to the critic's step (it
trains Q and the shared trunk) and to the generator's step (G is rewarded for codes Q can read). Its
latent input is not just z (one-hot codes, uniform codes) and its batch must carry the codes that made
it. ``images.train_images`` has one loss per player and z alone; bending it to this would put InfoGAN's
branches into the loop every other chapter reads. The pieces are shared: ``convnets`` for G and f,
``objectives`` for L_D and L_G, ``losses`` for the penalty and the code losses, ``loop`` for the optimisers,
stopping and the run state, ``checkpoint`` for atomic files, ``settings.stream`` for the random numbers.

Q's head on the critic's trunk. ``convnets.Critic`` is body -> (mean over positions for ``resnet``) ->
head; ``critic_features`` runs it up to the head, and ``f(x) = critic.head(critic_features(critic, x))`` is
exactly ``critic(x)`` (tested), so one pass over [real, fake] gives the scores and Q's input.

Random numbers: the loop's every draw (batch indices, z, codes, eps) comes from ``settings.stream(seed,
"train")`` in the order above; the networks are built from ``seed`` on a forked copy of torch's global
generator (which stays where it was). On the CPU the same seed gives bit-identical weights, and a run
resumed from a checkpoint is bit for bit the run that was not interrupted. Float32 throughout (no mixed
precision) and one process (no data parallelism): this chapter's runs are small.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, NamedTuple, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import nn
from tqdm.auto import tqdm

from . import checkpoint as _checkpoint
from . import checks, convnets, loop, losses, objectives, settings
from .loop import StopTraining, TrainingDiverged

__all__ = ["InfoGANConfig", "InfoGANResult", "QHead", "Latent", "sample_latent", "generator_input",
           "critic_features", "build_networks", "train_infogan", "infer_codes", "generate", "code_traversal",
           "contingency", "cluster_accuracy", "purity", "RESUMABLE_FIELDS", "StopTraining", "TrainingDiverged"]

# Fields that may differ between a checkpoint and the run that resumes it: they do not change the numbers.
RESUMABLE_FIELDS = ("steps", "progress", "checkpoint_every")
_TRAINER = "gan_lab.infogan.train_infogan"
_HISTORY = ("step", "loss_d", "loss_g", "penalty", "info_loss", "mi_bound", "mi_bound_continuous", "seconds")
_CHECKPOINT_KEYS = ("trainer", "step", "config", "seed_offset", "history", "seconds")
# The Lipschitz settings this loop handles, with their defaults, for the objective they apply to.
_OPTION_DEFAULTS = dict(penalty_weight=10.0, clip=0.01)
_LOG_STD_RANGE = (-5.0, 2.0)   # Q's log sigma is clamped here: sigma in [0.0067, 7.4]


@dataclass(frozen=True)
class InfoGANConfig:
    """Everything that defines an InfoGAN run; checked on construction (``ValueError`` naming the bad value)."""

    size: int = 16                      # images are 3 x size x size; 16, 32 or 64
    width: int = 16                     # channels of the first critic / last generator block
    kind: str = "dcgan"                 # "dcgan" or "resnet" (convnets)
    generator: Optional[str] = None     # None: the kind's generator; or one of convnets.GENERATORS
    critic_norm: str = "none"           # "none", "layer" or "spectral" (never batch norm in the critic)
    objective: str = "gan"              # gan_lab.objectives.NAMES (the paper's; module docstring)
    penalty_weight: Optional[float] = None  # "wgan-gp": lambda of the penalty (default 10)
    clip: Optional[float] = None        # "wgan-clip": c (default 0.01)
    noise_dim: int = 16                 # z: incompressible noise
    n_categories: int = 3               # K of the categorical code c_cat (>= 2)
    n_continuous: int = 1               # continuous codes c_cont ~ U[-1, 1] (0: none)
    info_weight: float = 1.0            # lambda on the categorical term (the paper's 1 for discrete codes)
    continuous_weight: float = 0.1      # lambda_cont: relative weight of the continuous NLL (the paper's
                                        # smaller lambda for continuous codes, so L_I keeps the GAN's scale)
    q_width: int = 128                  # hidden units of Q's head
    steps: int = 1000                   # generator iterations
    batch_size: int = 32
    n_critic: int = 1                   # critic (and Q) steps per generator step (WGAN-GP: 5)
    lr: float = 1e-3                    # Adam, all three players (WGAN-GP: 1e-4)
    betas: tuple = (0.5, 0.999)         # (WGAN-GP: (0, 0.9))
    seed: int = 0
    log_every: int = 100
    checkpoint_every: int = 1000        # with a checkpoint_path; 0: only at the end
    progress: bool = True               # tqdm bar

    def __post_init__(self) -> None:
        checks.choice("objective", self.objective, objectives.NAMES)
        objectives.refuse_foreign_options(self.objective, {k: getattr(self, k) for k in _OPTION_DEFAULTS})
        for name, default in _OPTION_DEFAULTS.items():
            if name in objectives.OPTIONS[self.objective] and getattr(self, name) is None:
                object.__setattr__(self, name, default)
        for name in ("width", "noise_dim", "q_width", "steps", "n_critic", "log_every"):
            checks.integer(name, getattr(self, name), 1)
        checks.integer("n_categories", self.n_categories, 2)   # K = 1 carries no information (log 1 = 0)
        checks.integer("n_continuous", self.n_continuous, 0)
        checks.integer("batch_size", self.batch_size, 2)       # the generator's batch norm needs two samples
        checks.integer("checkpoint_every", self.checkpoint_every, 0)
        checks.seed("seed", self.seed)
        if type(self.size) is not int or self.size not in convnets.SIZES:
            raise ValueError(f"size must be one of {convnets.SIZES}, got {self.size!r}")
        checks.choice("kind", self.kind, convnets.KINDS)
        if self.generator is not None:
            checks.choice("generator", self.generator, convnets.GENERATORS)
        checks.choice("critic_norm", self.critic_norm, convnets.NORMS)
        if self.penalty_weight is not None:
            checks.number_at_least("penalty_weight", self.penalty_weight, 0.0)
        if self.clip is not None:
            checks.positive_number("clip", self.clip)
        checks.number_at_least("info_weight", self.info_weight, 0.0)
        checks.number_at_least("continuous_weight", self.continuous_weight, 0.0)
        checks.positive_number("lr", self.lr)
        checks.boolean("progress", self.progress)
        # plain Python numbers from here on: the config goes into checkpoints
        object.__setattr__(self, "betas", checks.betas(self.betas))
        for name in ("lr", "info_weight", "continuous_weight", "penalty_weight", "clip"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, float(getattr(self, name)))
        for name in ("size", "width", "noise_dim", "n_categories", "n_continuous", "q_width", "steps", "batch_size",
                     "n_critic", "seed", "log_every", "checkpoint_every"):
            object.__setattr__(self, name, int(getattr(self, name)))

    @property
    def latent_dim(self) -> int:
        """The generator's input size: noise_dim + K + n_continuous."""
        return self.noise_dim + self.n_categories + self.n_continuous


# ---- latent codes ---------------------------------------------------------------------------------------

class Latent(NamedTuple):
    """One batch of G's inputs: ``z`` (n, noise_dim) ~ N(0, I), ``categories`` (n,) int64 ~ U{0..K-1},
    ``continuous`` (n, n_continuous) ~ U[-1, 1]."""

    z: torch.Tensor
    categories: torch.Tensor
    continuous: torch.Tensor


def sample_latent(n: int, config: InfoGANConfig, generator: Optional[torch.Generator] = None) -> Latent:
    """n draws of (z, c_cat, c_cont) from the prior, from ``generator``, in that order (the loop's)."""
    n = checks.integer("n", n, 1)
    if not isinstance(config, InfoGANConfig):
        raise ValueError(f"config must be an InfoGANConfig, got {type(config).__name__}")
    z = torch.randn(n, config.noise_dim, generator=generator)
    c = torch.randint(config.n_categories, (n,), generator=generator)
    u = torch.rand(n, config.n_continuous, generator=generator) * 2 - 1
    return Latent(z, c, u)


def generator_input(z: torch.Tensor, categories: torch.Tensor, continuous: torch.Tensor,
                    n_categories: int) -> torch.Tensor:
    """[z, one_hot(c_cat), c_cont] concatenated: the (n, noise_dim + K + n_continuous) input of G."""
    k = checks.integer("n_categories", n_categories, 2)
    if not isinstance(z, torch.Tensor) or z.dim() != 2 or not z.is_floating_point():
        raise ValueError(f"z must be a floating-point (n, noise_dim) tensor, got {_describe(z)}")
    n = len(z)
    if not isinstance(categories, torch.Tensor) or categories.dtype != torch.int64 or tuple(categories.shape) != (n,):
        raise ValueError(f"categories must be an int64 tensor of shape ({n},), got {_describe(categories)}")
    if n and (int(categories.min()) < 0 or int(categories.max()) >= k):
        raise ValueError(f"categories must lie in [0, {k}), got values in [{int(categories.min())}, "
                         f"{int(categories.max())}]")
    if not isinstance(continuous, torch.Tensor) or continuous.dim() != 2 or len(continuous) != n \
            or not continuous.is_floating_point():
        raise ValueError(f"continuous must be a floating-point ({n}, n_continuous) tensor, got {_describe(continuous)}")
    one_hot = F.one_hot(categories.to(z.device), k).to(z.dtype)
    return torch.cat([z, one_hot, continuous.to(z)], dim=1)


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"{value.dtype} tensor of shape {tuple(value.shape)}"
    return type(value).__name__


# ---- networks -------------------------------------------------------------------------------------------

def critic_features(critic: convnets.Critic, x: torch.Tensor) -> torch.Tensor:
    """h(x): the critic's features just before its last linear layer, shape (n, critic.head.in_features), so
    that ``critic.head(h(x)).view(-1)`` is ``critic(x)``. ``dcgan``: the flattened last conv map; ``resnet``: the
    mean over positions of the last block's ReLU."""
    if not isinstance(critic, convnets.Critic):
        raise ValueError(f"critic must be a convnets.Critic, got {type(critic).__name__}")
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != (3, critic.size, critic.size):
        raise ValueError(f"critic_features takes images of shape (n, 3, {critic.size}, {critic.size}), "
                         f"got {_describe(x)}")
    return critic.features(x)   # convnets' phi(x); checked here first for this function's own message


class QHead(nn.Module):
    """Q's own layers on the critic's features h: Linear -> LeakyReLU(0.2) -> Linear to K logits, then (if
    there are continuous codes) d means mu and d log-stds, log sigma clamped to [-5, 2] (``losses.
    gaussian_code_loss`` would otherwise reward a collapsing sigma without bound). ``forward(h)`` returns
    (logits (n, K), mu (n, d), log_sigma (n, d)); with d = 0 the last two are (n, 0)."""

    def __init__(self, features: int, n_categories: int, n_continuous: int, width: int = 128) -> None:
        super().__init__()
        features = checks.integer("features", features, 1)
        self.n_categories = checks.integer("n_categories", n_categories, 2)
        self.n_continuous = checks.integer("n_continuous", n_continuous, 0)
        width = checks.integer("width", width, 1)
        self.net = nn.Sequential(nn.Linear(features, width), convnets.LeakyReLU(0.2),
                                 nn.Linear(width, self.n_categories + 2 * self.n_continuous))

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.net(h)
        k, d = self.n_categories, self.n_continuous
        return out[:, :k], out[:, k:k + d], out[:, k + d:].clamp(*_LOG_STD_RANGE)


def build_networks(config: InfoGANConfig) -> tuple[nn.Module, convnets.Critic, QHead]:
    """The untrained (G, f, Q) of ``config``, built in that order from ``config.seed`` (plus the seed offset)
    on a forked copy of torch's global generator, which is left where it was.
    G = ``convnets.generator_for(config.generator or config.kind, noise_dim + K + n_continuous, size, width)``,
    f = ``convnets.Critic(size, width, kind, critic_norm)``, Q = ``QHead`` on f's features."""
    if not isinstance(config, InfoGANConfig):
        raise ValueError(f"config must be an InfoGANConfig, got {type(config).__name__}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.shifted_seed(config.seed))
        G = convnets.generator_for(config.generator or config.kind, config.latent_dim, config.size, config.width)
        D = convnets.Critic(config.size, config.width, config.kind, config.critic_norm)
        Q = QHead(D.head.in_features, config.n_categories, config.n_continuous, config.q_width)
    return G, D, Q


# ---- result ---------------------------------------------------------------------------------------------

@dataclass
class InfoGANResult:
    """The trained ``generator``, ``critic`` and ``q``, the ``config`` and the ``history`` (lists, one entry per
    log: step; loss_d (the critic's loss without penalty and info term), loss_g (likewise); penalty (NaN
    without one); info_loss = CE + lambda_cont NLL, mi_bound = log K - CE (nats, <= log K) and
    mi_bound_continuous = d log 2 - NLL (H of U[-1, 1]^d minus Q's NLL; NaN with d = 0), all on the
    generator step's batch, which Q has not trained on; seconds of training so far), ``seconds`` (this call's
    wall time), ``start_step`` (the checkpoint's step when resumed, else 0) and ``stopped`` (``on_log`` raised
    ``StopTraining``)."""

    generator: nn.Module
    critic: convnets.Critic
    q: QHead
    config: InfoGANConfig
    history: dict = field(default_factory=dict)
    seconds: float = 0.0
    start_step: int = 0
    stopped: bool = False


# ---- checks, done before any work -----------------------------------------------------------------------

def _check_images(images, size: int) -> None:
    if not isinstance(images, torch.Tensor) or not images.is_floating_point() or images.dim() != 4 \
            or images.shape[0] == 0 or tuple(images.shape[1:]) != (3, size, size):
        raise ValueError(f"images must be a float tensor of shape (n, 3, {size}, {size}) in [-1, 1] with n > 0 "
                         f"(gan_lab.data.to_tensor makes one), got {_describe(images)}")
    if not bool(torch.isfinite(images).all()):
        raise ValueError(f"images contain NaN or Inf (first at index {(~torch.isfinite(images)).nonzero()[0].tolist()})")
    lo, hi = float(images.min()), float(images.max())
    if lo < -1 or hi > 1:
        raise ValueError(f"images must lie in [-1, 1], got values in [{lo:.4g}, {hi:.4g}]")


def _step(loss: torch.Tensor, *optimisers: torch.optim.Optimizer) -> None:
    for opt in optimisers:
        opt.zero_grad(set_to_none=True)
    loss.backward()
    for opt in optimisers:
        opt.step()


# ---- the loop -------------------------------------------------------------------------------------------

def train_infogan(images: torch.Tensor, config: Optional[InfoGANConfig] = None, *,
                  checkpoint_path: Optional[Union[str, "os.PathLike[str]"]] = None,
                  resume: Union[bool, str] = False,
                  on_log: Optional[Callable[[InfoGANResult], Optional[dict]]] = None,
                  device: Optional[Union[str, torch.device]] = None, **overrides) -> InfoGANResult:
    """Train InfoGAN on ``images`` (a float tensor (n, 3, size, size) in [-1, 1]; labels are never seen).

    ``config`` fields can be overridden by keyword (``train_infogan(x, steps=50, n_categories=6)``). The
    algorithm is in the module docstring. With ``checkpoint_path`` the run is saved atomically every
    ``checkpoint_every`` steps and at the end; ``resume=True`` continues from that file bit for bit (its
    config must equal this one except ``RESUMABLE_FIELDS``), ``resume="auto"`` resumes if the file exists.
    ``on_log(result)`` is called at each log and may return a dict of extra numbers for the history, or raise
    ``StopTraining``. Everything is checked before any work (``ValueError``); a NaN/Inf loss at a log raises
    ``TrainingDiverged`` carrying the partial result.
    """
    cfg = loop.configure(config, InfoGANConfig, overrides)
    loop.check_on_log(on_log)
    _check_images(images, cfg.size)
    dev = settings.resolve_device(device)
    if resume not in (False, True, "auto") or (isinstance(resume, (int, float)) and not isinstance(resume, bool)):
        raise ValueError(f"resume must be True, False or 'auto', got {resume!r}")
    state = None
    if checkpoint_path is not None:
        checkpoint_path = _checkpoint.check_writable(checkpoint_path)
        if resume is True or (resume == "auto" and os.path.exists(checkpoint_path)):
            state = loop.resume_state(checkpoint_path, cfg, trainer=_TRAINER, keys=_CHECKPOINT_KEYS,
                                       resumable=RESUMABLE_FIELDS)
    elif resume is True:
        raise ValueError("resume=True needs a checkpoint_path")

    G, D, Q = (net.to(dev) for net in build_networks(cfg))
    opt_g = loop.optimizer("adam", G.parameters(), cfg.lr, cfg.betas)
    opt_d = loop.optimizer("adam", D.parameters(), cfg.lr, cfg.betas)
    opt_q = loop.optimizer("adam", Q.parameters(), cfg.lr, cfg.betas)
    rng = settings.stream(cfg.seed, "train")
    run_state = loop.RunState({"generator": G, "critic": D, "q": Q, "opt_g": opt_g, "opt_d": opt_d, "opt_q": opt_q},
                              [], rng)
    game = objectives.objective(cfg.objective)
    result = InfoGANResult(G, D, Q, cfg, {k: [] for k in _HISTORY})
    start, seconds_before = 0, 0.0
    if state is not None:
        start, seconds_before = loop.restore_run(run_state, state, checkpoint_path, result)
    data = images.detach().to(dev, torch.float32)
    N, B, K = len(data), cfg.batch_size, cfg.n_categories
    use_penalty = game.lipschitz == "penalty" and cfg.penalty_weight > 0
    h_continuous = cfg.n_continuous * math.log(2.0)    # entropy of U[-1, 1]^d, nats

    def info_terms(h_fake: torch.Tensor, latent: Latent) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(L_info = CE + lambda_cont NLL, CE, NLL) of Q on features of G(z, c)."""
        logits, mean, log_std = Q(h_fake)
        ce = losses.categorical_code_loss(logits, latent.categories)
        if cfg.n_continuous:
            nll = losses.gaussian_code_loss(mean, log_std, latent.continuous)
            return ce + cfg.continuous_weight * nll, ce, nll
        return ce, ce, torch.full((), float("nan"))

    def draw(n: int) -> Latent:
        latent = sample_latent(n, cfg, rng)
        return Latent(*(t.to(dev) for t in latent))

    def save(step: int, elapsed: float) -> None:
        if not all(bool(torch.isfinite(p).all()) for net in (G, D, Q) for p in net.parameters()):
            raise TrainingDiverged(f"training diverged by generator step {step}: the networks hold NaN or infinite "
                                   f"weights, so {checkpoint_path!r} was not overwritten (lower lr)", result)
        _checkpoint.save_checkpoint(checkpoint_path, run_state.state(
            trainer=_TRAINER, step=step, config=asdict(cfg), seed_offset=settings.seed_offset(),
            history=result.history, seconds=elapsed))

    G.train(), D.train(), Q.train()
    begin = time.perf_counter()
    bar = tqdm(range(start + 1, cfg.steps + 1), initial=start, total=cfg.steps, disable=not cfg.progress,
               desc=f"InfoGAN {cfg.objective} K={K}", leave=False)
    for step in bar:
        # ---- critic and Q: n_critic steps on L_D [+ penalty] + lambda * L_info on G's samples ------------
        for _ in range(cfg.n_critic):
            idx = torch.randint(N, (B,), generator=rng)
            latent = draw(B)
            eps = torch.rand(B, 1, 1, 1, generator=rng).to(dev) if use_penalty else None
            real = data[idx.to(dev)]
            with torch.no_grad():
                fake = G(generator_input(*latent, K))
            h = critic_features(D, torch.cat([real, fake]))
            scores = D.head(h).view(-1)
            loss_d = game.critic_loss(scores[:B], scores[B:])
            info_d, _, _ = info_terms(h[B:], latent)
            total = loss_d + cfg.info_weight * info_d
            penalty = None
            if use_penalty:
                penalty = losses.gradient_penalty(D, real, fake, eps=eps)
                total = total + cfg.penalty_weight * penalty
            _step(total, opt_d, opt_q)
            if game.lipschitz == "clip":
                losses.clip_weights(D, cfg.clip)

        # ---- generator: L_G + lambda * L_info against a frozen critic and Q ------------------------------
        latent = draw(B)
        D.requires_grad_(False), Q.requires_grad_(False)
        h = critic_features(D, G(generator_input(*latent, K)))
        loss_g = game.generator_loss(D.head(h).view(-1))
        info_g, ce, nll = info_terms(h, latent)
        _step(loss_g + cfg.info_weight * info_g, opt_g)
        D.requires_grad_(True), Q.requires_grad_(True)

        # ---- bookkeeping ----------------------------------------------------------------------------------
        last = step == cfg.steps
        logging = step % cfg.log_every == 0 or last
        if logging:
            hist = result.history
            values = {"loss_d": float(loss_d.detach()), "loss_g": float(loss_g.detach()),
                      "penalty": float(penalty.detach()) if penalty is not None else float("nan"),
                      "info_loss": float(info_g.detach()), "mi_bound": math.log(K) - float(ce.detach()),
                      "mi_bound_continuous": h_continuous - float(nll.detach()) if cfg.n_continuous else float("nan")}
            hist["step"].append(step)
            for key, value in values.items():
                hist[key].append(value)
            hist["seconds"].append(seconds_before + time.perf_counter() - begin)
            bar.set_postfix(mi=f"{values['mi_bound']:.3g}", refresh=False)
            result.seconds = time.perf_counter() - begin
            if not all(math.isfinite(values[k]) for k in ("loss_d", "loss_g", "info_loss")):
                raise TrainingDiverged(f"training diverged at generator step {step}: critic loss {values['loss_d']:.4g}, "
                                       f"generator loss {values['loss_g']:.4g}, info loss {values['info_loss']:.4g} "
                                       "(lower lr)", result)
            if on_log is not None:
                extra, result.stopped = loop.log_extras(on_log, result, step)
                for key, value in extra.items():
                    hist.setdefault(key, []).append(value)
        if checkpoint_path is not None and (last or result.stopped
                                            or (cfg.checkpoint_every and step % cfg.checkpoint_every == 0)):
            save(step, seconds_before + time.perf_counter() - begin)
        if result.stopped:
            break
    bar.close()
    result.seconds = time.perf_counter() - begin
    return result


# ---- using a trained InfoGAN ----------------------------------------------------------------------------

def _check_result(result) -> None:
    if not isinstance(result, InfoGANResult):
        raise ValueError(f"result must be an InfoGANResult (from train_infogan), got {type(result).__name__}")


@torch.no_grad()
def infer_codes(result: InfoGANResult, images: torch.Tensor, *,
                batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Q's reading of ``images`` (float (n, 3, size, size) in [-1, 1]): (argmax_c Q(c | x), int64 (n,); the
    means mu of the continuous codes, float (n, n_continuous)), on the CPU. Networks in eval mode."""
    _check_result(result)
    _check_images(images, result.config.size)
    batch_size = checks.integer("batch_size", batch_size, 1)
    dev = next(result.critic.parameters()).device
    modes = result.critic.training, result.q.training
    result.critic.eval(), result.q.eval()
    try:
        cats, means = [], []
        for x in images.split(batch_size):
            logits, mean, _ = result.q(critic_features(result.critic, x.to(dev, torch.float32)))
            cats.append(logits.argmax(dim=1).cpu())
            means.append(mean.float().cpu())
    finally:
        result.critic.train(modes[0]), result.q.train(modes[1])
    return torch.cat(cats), torch.cat(means)


@torch.no_grad()
def generate(result: InfoGANResult, codes: torch.Tensor, continuous: Optional[torch.Tensor] = None, *,
             seed: int = 0, shared_noise: bool = False) -> torch.Tensor:
    """G(z, c) for the chosen categorical ``codes`` (int64 (n,), in [0, K)) and ``continuous`` values
    ((n, n_continuous); None: 0, the prior's centre), z ~ N(0, I) from ``settings.rng(seed)``; with
    ``shared_noise`` one z for all n (only the codes vary). Images in [-1, 1], (n, 3, size, size), on the CPU,
    batch norm in eval mode."""
    _check_result(result)
    cfg = result.config
    if not isinstance(codes, torch.Tensor) or codes.dtype != torch.int64 or codes.dim() != 1 or len(codes) == 0:
        raise ValueError(f"codes must be a non-empty int64 tensor of shape (n,), got {_describe(codes)}")
    n = len(codes)
    if continuous is None:
        continuous = torch.zeros(n, cfg.n_continuous)
    elif not isinstance(continuous, torch.Tensor) or tuple(continuous.shape) != (n, cfg.n_continuous) \
            or not continuous.is_floating_point():
        raise ValueError(f"continuous must be a float tensor of shape ({n}, {cfg.n_continuous}), "
                         f"got {_describe(continuous)}")
    checks.seed("seed", seed)
    checks.boolean("shared_noise", shared_noise)
    g = settings.rng(seed)
    z = torch.randn(1 if shared_noise else n, cfg.noise_dim, generator=g).expand(n, -1)
    x_in = generator_input(z, codes.cpu(), continuous.float().cpu(), cfg.n_categories)   # checks the codes' range
    dev = next(result.generator.parameters()).device
    was_training = result.generator.training
    result.generator.eval()
    try:
        return result.generator(x_in.to(dev)).float().cpu()
    finally:
        result.generator.train(was_training)


def code_traversal(result: InfoGANResult, values, *, dim: int = 0, seed: int = 0) -> torch.Tensor:
    """The figure "c_cat along rows, one continuous code along columns": (K * len(values), 3, size, size)
    images, row k = category k, column j = continuous code ``dim`` set to ``values[j]`` (the others 0), one z
    for the whole grid. Row-major, for ``images.image_grid(x, ncols=len(values))``. A run without continuous
    codes has nothing to vary along the columns: use ``generate(result, torch.arange(K), shared_noise=True)``."""
    _check_result(result)
    cfg = result.config
    vals = torch.as_tensor(values, dtype=torch.float32) if not isinstance(values, torch.Tensor) else values.float()
    if vals.dim() != 1 or len(vals) == 0 or not bool(torch.isfinite(vals).all()):
        raise ValueError(f"values must be a non-empty 1-D sequence of finite numbers, got {values!r}")
    if cfg.n_continuous == 0:
        raise ValueError("code_traversal varies a continuous code, and this run has n_continuous=0; "
                         "use generate(result, torch.arange(K), shared_noise=True)")
    dim = checks.integer("dim", dim, 0)
    if dim >= cfg.n_continuous:
        raise ValueError(f"dim must be < n_continuous = {cfg.n_continuous}, got {dim}")
    K, m = cfg.n_categories, len(vals)
    codes = torch.arange(K).repeat_interleave(m)
    continuous = torch.zeros(K * m, cfg.n_continuous)
    continuous[:, dim] = vals.repeat(K)
    return generate(result, codes, continuous, seed=seed, shared_noise=True)


# ---- scoring a clustering against true labels -----------------------------------------------------------

def _labels(name: str, x) -> np.ndarray:
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.dtype.kind not in "iu" or a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of integers, got dtype {a.dtype} and shape {a.shape}")
    if a.min() < 0:
        raise ValueError(f"{name} must be non-negative integers, got {int(a.min())} at index {int(a.argmin())}")
    return a.astype(np.int64)


def contingency(predicted, labels) -> np.ndarray:
    """The (clusters, labels) table of counts: entry [k, y] = #{i : predicted_i = k, labels_i = y}, with
    max(predicted) + 1 rows and max(labels) + 1 columns."""
    p, y = _labels("predicted", predicted), _labels("labels", labels)
    if len(p) != len(y):
        raise ValueError(f"predicted and labels must have the same length, got {len(p)} and {len(y)}")
    table = np.zeros((p.max() + 1, y.max() + 1), dtype=np.int64)
    np.add.at(table, (p, y), 1)
    return table


def cluster_accuracy(predicted, labels) -> float:
    """max over one-to-one maps pi (clusters -> labels) of (1/n) #{i : pi(predicted_i) = labels_i}: the
    accuracy of the clustering under its best relabelling (Hungarian algorithm on the contingency table,
    ``scipy.optimize.linear_sum_assignment``). 1 for any relabelling of the truth; a cluster left without a
    label (more clusters than labels) counts as wrong. For K balanced classes a constant prediction scores 1/K."""
    table = contingency(predicted, labels)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / table.sum())


def purity(predicted, labels) -> float:
    """(1/n) sum_k max_y #{i : predicted_i = k, labels_i = y}: each cluster takes its majority label (many
    clusters may share one), so purity >= ``cluster_accuracy``, and one cluster per sample scores 1."""
    table = contingency(predicted, labels)
    return float(table.max(axis=1).sum() / table.sum())
