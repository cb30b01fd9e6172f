"""GANs on images: WGAN-GP (Gulrajani et al., 2017, Algorithm 1) by default, any objective of
``gan_lab.objectives`` by name, with checkpoints that resume exactly.

    for step in 1..steps:                                          (generator iterations)
        repeat n_critic times:
            x = images[i_1..i_B], i ~ U{1..N};  z ~ N(0, I);  eps ~ U[0, 1]     (one CPU generator)
            x_hat = eps * x + (1 - eps) * G(z)
            loss_d = E[f(G(z))] - E[f(x)] + lambda * E[(||grad f(x_hat)||_2 - 1)^2]
            Adam step on f
        z ~ N(0, I);  loss_g = -E[f(G(z))];  Adam step on G
        every checkpoint_every steps: save both nets, both optimizers, the generator's state, the history

The paper's image settings are the defaults: lambda = 10, n_critic = 5, Adam(lr 1e-4, betas (0, 0.9)).
``objective="gan"``, ``"lsgan"``, ``"hinge"`` or ``"wgan-clip"`` swap the two losses (and the Lipschitz
method) and nothing else; ``critic_norm="spectral"`` gives SN-GAN's critic (with ``"hinge"``).

Conditional runs (``condition=(K_1, ..., K_A)`` and ``labels``, ``gan_lab.conditional``): every image has a
label y, a row of A attribute values; G(z, y) gets the label's embedding next to z, the critic is the
projection critic f(x, y) = psi(phi(x)) + <e(y), phi(x)>. In each critic step the real images and their
labels come by the same indices i; the fakes' labels y~ are labels of the training set drawn by indices
j ~ U{1..N} (the empirical label distribution), drawn from the same stream after eps; the penalty scores
x_hat with the real image's label y (the interpolate's end that is data):

            x, y = images[i], labels[i];  z, eps;  y~ = labels[j]                (j after eps)
            loss_d = E[f(G(z, y~), y~)] - E[f(x, y)] + lambda * E[(||grad_x f(x_hat, y)||_2 - 1)^2]
        z, then y~ = labels[j];  loss_g = -E[f(G(z, y~), y~)]

An unconditional run (``condition=()``, the default) draws exactly what it drew before conditioning existed.

Data. Batches are drawn with replacement from the in-memory image tensor by indices from the same
explicit ``torch.Generator`` that draws z and eps, not by a ``DataLoader``. Image sets for this book
(synthetic shapes, CIFAR-sized data) fit in memory, indexing a tensor costs microseconds next to a critic
step, and the whole random state of a run is then one small tensor that the checkpoint saves, so a resumed
run draws exactly the batches the uninterrupted run would have drawn. A ``DataLoader`` would add worker
processes (Colab has 2 CPUs) and a shuffling iterator whose position cannot be checkpointed mid-epoch.

Mixed precision (``amp``): by default ("auto") only on CUDA, where the critic and generator passes run
under ``torch.autocast`` in bfloat16 if the GPU computes in it natively (NVIDIA Ampere and later), else
in float16 with a ``GradScaler`` per player. ``amp="bfloat16"`` or ``"float16"`` asks for that dtype on
any device whose autocast has it, the CPU included: that is how the tests run both branches of the GPU
path without a GPU. The gradient penalty is computed outside autocast in float32: it differentiates f
twice, and half precision would round the small differences ||grad f(x_hat)|| - 1 that it penalises.
Without amp every pass is float32, and on the CPU the same seed gives bit-identical weights, with or
without an interruption and ``resume=True``.

Data parallel (under ``torchrun``, when ``gan_lab.distributed`` has a process group of N > 1 ranks up).
``batch_size`` is the batch of one rank, b; the run is the single-process run with batch N b:

- RNG layout: every rank draws the whole global batch (N b indices, z, eps) from the same seeded stream
  and keeps its rows [rank b, (rank + 1) b). The streams stay identical on every rank, so the checkpoint
  holds one RNG state, and the random numbers are exactly those of one process with batch N b.
- The generator's batch norm normalises over the batch it sees. ``SyncBatchNorm`` runs only on GPUs, so
  every rank runs G on the whole global batch (under no_grad for the critic's fakes; with gradients for
  the generator step, whose loss then uses this rank's rows only). The batch statistics and running
  averages are those of the N b batch, on every rank, and G costs little next to the critic's penalty.
- Both players are wrapped in ``DistributedDataParallel``, which averages their gradients over the ranks
  during the backward pass: the mean of N per-rank means over b rows is the mean over N b rows.
- The penalty. DDP's reducer hooks the gradient accumulator of each parameter and expects one backward
  per forward through the wrapper. The penalty's ``autograd.grad(f(x_hat), x_hat, create_graph=True)``
  asks for an input gradient only (no accumulator runs), so it is computed on the underlying critic,
  outside the wrapper; the one forward through the wrapper is f on [real, fake]. The one ordinary
  backward of loss_d + lambda * penalty then reaches each parameter's accumulator once, with the sum of
  both paths (the double backward included), and DDP averages that sum: no explicit all-reduce needed.
  The generator step uses the underlying (frozen) critic too: a frozen critic has no gradients to average.
- Rank 0 alone writes checkpoints, shows the bar and calls ``on_log``; the others wait at a barrier after
  each checkpoint. Logged numbers are averaged over the ranks, so the history is that of the global batch.
  A checkpoint records the world size; it resumes only under the same number of ranks.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Callable, Optional, Union

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from . import checkpoint as _checkpoint
from . import checks, conditional, convnets, distributed, loop, losses, objectives, settings
from .loop import StopTraining, TrainingDiverged

__all__ = ["ImageTrainConfig", "ImageTrainResult", "train_images", "build_networks", "to_uint8", "image_grid",
           "RESUMABLE_FIELDS"]

# Fields that may differ between a checkpoint and the run that resumes it: they do not change the numbers.
RESUMABLE_FIELDS = ("steps", "progress", "checkpoint_every")
_HISTORY = ("step", "estimate", "penalty", "loss_d", "loss_g", "seconds")
_TRAINER = "gan_lab.images.train_images"
_AMP_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}
# The loop's own entries of a checkpoint, besides the run state (loop.RunState) of the nets and optimisers.
_CHECKPOINT_KEYS = ("trainer", "step", "config", "history", "samples", "seconds")
# Defaults of the objective-specific settings, filled in only for the objective they apply to.
_OPTION_DEFAULTS = dict(generator_loss="non_saturating", label_smoothing=0.0, clip=0.01, penalty_weight=10.0,
                        one_sided=False, targets=(0.0, 1.0, 1.0))


@dataclass(frozen=True)
class ImageTrainConfig:
    """Everything that defines an image run; checked on construction (``ValueError`` naming the bad value)."""

    size: int = 32                      # images are 3 x size x size; 16, 32 or 64
    width: int = 64                     # channels of the first critic / last generator block
    kind: str = "dcgan"                 # "dcgan" or "resnet" (convnets)
    critic_norm: str = "none"           # "none", "layer" or "spectral" (never batch norm in the critic)
    generator: Optional[str] = None     # None: the kind's generator; or one of convnets.GENERATORS (e.g. the
                                        # WGAN paper's "dcgan-no-bn-constant-width" or "mlp")
    objective: str = "wgan-gp"          # gan_lab.objectives.NAMES
    noise_dim: int = 128
    condition: tuple = ()               # conditional run: the number of values of each label attribute, e.g.
                                        # (3, 2, 2) for (shape, colour, noise) or (10,) for digits; () = none
    condition_dim: int = 32             # conditional run: dimension of G's label embedding, concatenated to z
    steps: int = 1000                   # generator iterations
    batch_size: int = 64
    n_critic: int = 5                   # critic steps per generator step
    penalty_weight: Optional[float] = None  # "wgan-gp": lambda (default 10)
    one_sided: Optional[bool] = None    # "wgan-gp": penalise only norms above 1 (default False)
    clip: Optional[float] = None        # "wgan-clip": c (default 0.01)
    generator_loss: Optional[str] = None  # "gan": "non_saturating" (default) or "saturating"
    label_smoothing: Optional[float] = None  # "gan": one-sided, real label 1 - alpha (default 0)
    targets: Optional[tuple] = None     # "lsgan": (a, b, c) (default (0, 1, 1))
    lr: float = 1e-4                    # Adam, both players
    betas: tuple = (0.0, 0.9)
    seed: int = 0
    log_every: int = 100
    snapshots: int = 64                 # G(z) of this many fixed z kept as uint8 every sample_every steps
    sample_every: int = 1000
    checkpoint_every: int = 1000        # with a checkpoint_path; 0: only at the end
    amp: Union[bool, str] = "auto"      # mixed precision: "auto" = on CUDA only; True needs CUDA;
                                        # "bfloat16" / "float16": that autocast dtype on any device
    progress: bool = True               # tqdm bar

    def __post_init__(self) -> None:
        checks.choice("objective", self.objective, objectives.NAMES)
        applies = objectives.OPTIONS[self.objective]
        objectives.refuse_foreign_options(self.objective, {k: getattr(self, k) for k in _OPTION_DEFAULTS})
        for name in _OPTION_DEFAULTS:
            if name in applies and getattr(self, name) is None:
                object.__setattr__(self, name, _OPTION_DEFAULTS[name])
        self._check()
        # plain floats from here on (np.float64 from np.logspace passes the check): the config goes into
        # checkpoints, which hold only plain Python numbers
        object.__setattr__(self, "betas", checks.betas(self.betas))
        object.__setattr__(self, "condition", conditional.check_condition(self.condition))
        object.__setattr__(self, "lr", float(self.lr))
        for name in ("penalty_weight", "clip", "label_smoothing"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, float(getattr(self, name)))
        if self.targets is not None:
            object.__setattr__(self, "targets", tuple(float(t) for t in self.targets))

    def objective_losses(self) -> objectives.Objective:
        """This config's objective: its critic and generator losses (``gan_lab.objectives``)."""
        kwargs = {k: getattr(self, k) for k in ("generator_loss", "label_smoothing", "targets")
                  if getattr(self, k) is not None}
        return objectives.objective(self.objective, **kwargs)

    def _check(self) -> None:
        for name in ("width", "noise_dim", "condition_dim", "steps", "n_critic", "log_every", "sample_every"):
            checks.integer(name, getattr(self, name), 1)
        checks.integer("batch_size", self.batch_size, 2)   # the generator's batch norm needs two samples
        for name in ("snapshots", "checkpoint_every"):
            checks.integer(name, getattr(self, name), 0)
        checks.seed("seed", self.seed)
        conditional.check_condition(self.condition)
        if type(self.size) is not int or self.size not in convnets.SIZES:
            raise ValueError(f"size must be one of {convnets.SIZES}, got {self.size!r}")
        if self.kind not in convnets.KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; use one of {convnets.KINDS}")
        if self.generator is not None:
            checks.choice("generator", self.generator, convnets.GENERATORS)
        if self.critic_norm not in convnets.NORMS:
            raise ValueError(f"unknown critic_norm {self.critic_norm!r}; use one of {convnets.NORMS}")
        checks.positive_number("lr", self.lr)
        if self.penalty_weight is not None:
            checks.number_at_least("penalty_weight", self.penalty_weight, 0.0)
        if self.clip is not None:
            checks.positive_number("clip", self.clip)
        if self.one_sided is not None:
            checks.boolean("one_sided", self.one_sided)
        checks.betas(self.betas)
        if self.objective_losses().feature_matching:   # also checks generator_loss, label_smoothing, targets
            raise ValueError("generator_loss='feature_matching' is for the toy MLPs (gan_lab.train) only; the conv "
                             "critic has no features() yet")
        if self.amp not in (True, False, "auto", *_AMP_DTYPES) or isinstance(self.amp, (int, float)) and \
                not isinstance(self.amp, bool):
            raise ValueError(f"amp must be True, False, 'auto', 'bfloat16' or 'float16', got {self.amp!r}")
        checks.boolean("progress", self.progress)


@dataclass
class ImageTrainResult:
    """The trained ``generator`` and ``critic``, the ``config``, the ``history`` (lists, one entry per log:
    step, estimate = E[f(x)] - E[f(G(z))], penalty, loss_d (without the penalty), loss_g, seconds of
    training so far), ``samples``: (step, uint8 images (snapshots, 3, size, size)) of G at a fixed batch of z,
    from step 0 (the untrained generator) on,
    ``seconds`` (this call's wall time), ``start_step`` (the checkpoint's step when resumed, else 0) and
    ``stopped`` (``on_log`` raised ``StopTraining``). A conditional run's snapshots are of the labels
    ``snapshot_labels``."""

    generator: nn.Module
    critic: nn.Module
    config: ImageTrainConfig
    history: dict = field(default_factory=dict)
    samples: list = field(default_factory=list)
    seconds: float = 0.0
    start_step: int = 0
    stopped: bool = False

    @property
    def snapshot_labels(self) -> Optional[torch.Tensor]:
        """The labels of a conditional run's snapshots, ``conditional.label_grid(condition, snapshots)``
        (every combination in turn, held-out ones included); None for an unconditional run."""
        if not self.config.condition:
            return None
        return conditional.label_grid(self.config.condition, self.config.snapshots)

    @torch.no_grad()
    def sample(self, n: int, *, seed: Optional[int] = None, labels=None) -> torch.Tensor:
        """n images G(z) in [-1, 1], shape (n, 3, size, size), on the CPU (batch norm in eval mode).

        A conditional run needs ``labels``: a tensor (n, A), or one label (a tuple of A ints) for all n
        images; this is ``conditional.generate(generator, labels, seed=seed, n=n)``."""
        if self.config.condition or labels is not None:
            if not self.config.condition:
                raise ValueError(f"labels={labels!r:.60} given, but this run is unconditional (condition=())")
            if labels is None:
                raise ValueError(f"this run is conditional (condition={self.config.condition}): sample needs labels")
            if isinstance(labels, (torch.Tensor, np.ndarray)):
                return conditional.generate(self.generator, labels, seed=seed, n=n)
            return conditional.generate(self.generator, labels, seed=seed, n=checks.integer("n", n, 1))
        g = settings.rng(seed) if seed is not None else None
        device = next(self.generator.parameters()).device
        z = torch.randn(n, self.config.noise_dim, generator=g).to(device)
        was_training = self.generator.training
        self.generator.eval()
        try:
            return self.generator(z).float().cpu()
        finally:
            self.generator.train(was_training)


def build_networks(cfg: ImageTrainConfig) -> tuple[nn.Module, nn.Module]:
    """The untrained (generator, critic) of ``cfg``, drawn from torch's global generator (``train_images``
    seeds it first): ``convnets.generator_for(cfg.generator or cfg.kind, ...)`` and
    ``convnets.Critic(size, width, kind, critic_norm)``.

    A conditional config (``condition`` not empty) wraps them (``gan_lab.conditional``), drawn in this order:
    G_0 for noise_dim + condition_dim inputs, G's ``AttributeEmbedding(condition, condition_dim)`` (N(0, 1),
    the scale of z), the critic, its embedding of the critic's ``num_features`` dimensions (N(0, 1 / d),
    the scale of the head's weights; spectrally normalised with ``critic_norm="spectral"``)."""
    name = cfg.generator or cfg.kind
    if not cfg.condition:
        G = convnets.generator_for(name, cfg.noise_dim, cfg.size, cfg.width)
        return G, convnets.Critic(cfg.size, cfg.width, cfg.kind, cfg.critic_norm)
    G = conditional.ConditionalGenerator(convnets.generator_for(name, cfg.noise_dim + cfg.condition_dim, cfg.size,
                                                                cfg.width),
                                         conditional.AttributeEmbedding(cfg.condition, cfg.condition_dim))
    D = convnets.Critic(cfg.size, cfg.width, cfg.kind, cfg.critic_norm)
    e = conditional.AttributeEmbedding(cfg.condition, D.num_features, std=D.num_features ** -0.5,
                                       spectral=cfg.critic_norm == "spectral")
    return G, conditional.ProjectionCritic(D, e)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] to uint8 in {0, ..., 255}: round((x + 1) * 127.5), on the CPU.

    Finite values outside [-1, 1] are clamped. NaN and Inf have no pixel value (casting would make a NaN
    black, silently): they raise ``ValueError``, as does anything but a floating-point tensor."""
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        desc = f"dtype {images.dtype}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"to_uint8 takes a floating-point tensor of images in [-1, 1], got {desc}")
    x = images.detach().float()
    bad = ~torch.isfinite(x)
    if bad.any():
        raise ValueError(f"images hold NaN or Inf ({int(bad.sum())} of {x.numel()} values, first at index "
                         f"{bad.nonzero()[0].tolist()}): a diverged generator's output has no pixel values")
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()


def image_grid(images: torch.Tensor, ncols: int = 8, pad: int = 1) -> torch.Tensor:
    """(n, 3, h, w) images (uint8, or float in [-1, 1]) tiled into one (H, W, 3) uint8 array for imshow."""
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"image_grid takes a tensor of (n, 3, h, w) images, got {type(images).__name__}")
    if images.dim() != 4 or images.shape[1] != 3 or len(images) == 0:
        raise ValueError(f"image_grid takes (n, 3, h, w) images with n > 0, got {tuple(images.shape)}")
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1 or isinstance(pad, bool) \
            or not isinstance(pad, int) or pad < 0:
        raise ValueError(f"ncols must be a positive and pad a non-negative integer, got {ncols!r}, {pad!r}")
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise ValueError(f"image_grid takes uint8 images or float images in [-1, 1], got dtype {images.dtype}")
    x = images if images.dtype == torch.uint8 else to_uint8(images)
    n, _, h, w = x.shape
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    out = torch.full((3, nrows * (h + pad) + pad, ncols * (w + pad) + pad), 255, dtype=torch.uint8)
    for i in range(n):
        r, c = divmod(i, ncols)
        out[:, pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = x[i].cpu()
    return out.permute(1, 2, 0).contiguous()


# ---- checks, done before any work ----------------------------------------------------------------------

def _check_images(images: torch.Tensor, cfg: ImageTrainConfig) -> None:
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"images must be a tensor of shape (n, 3, {cfg.size}, {cfg.size}), "
                         f"got {type(images).__name__}")
    if not images.is_floating_point():
        raise ValueError(f"images must be a float tensor in [-1, 1], got dtype {images.dtype} "
                         "(convert uint8 images with gan_lab.data.to_tensor)")
    if images.dim() != 4 or images.shape[0] == 0 or tuple(images.shape[1:]) != (3, cfg.size, cfg.size):
        raise ValueError(f"images must have shape (n, 3, {cfg.size}, {cfg.size}) with n > 0 for size={cfg.size}, "
                         f"got {tuple(images.shape)}")
    if not torch.isfinite(images).all():
        first = (~torch.isfinite(images)).nonzero()[0].tolist()
        raise ValueError(f"images contain NaN or Inf (first at index {first})")
    lo, hi = images.min().item(), images.max().item()
    if lo < -1 or hi > 1:
        raise ValueError(f"images must lie in [-1, 1] (gan_lab.data.to_tensor maps uint8 there), "
                         f"got values in [{lo:.4g}, {hi:.4g}]")


def _check_labels(labels, cfg: ImageTrainConfig, n: int) -> Optional[torch.Tensor]:
    """A conditional run's labels as a LongTensor (n, A) (``conditional.check_labels``); None for an
    unconditional run, which must not be given any."""
    if not cfg.condition:
        if labels is not None:
            desc = f"a tensor of shape {tuple(labels.shape)}" if hasattr(labels, "shape") else f"{labels!r:.60}"
            raise ValueError(f"labels ({desc}) were given, but the config is unconditional (condition=()): set "
                             "condition to the number of values of each label attribute, e.g. condition=(3, 2)")
        return None
    if labels is None:
        raise ValueError(f"condition={cfg.condition} makes a conditional run: train_images needs labels, one row "
                         f"of {len(cfg.condition)} attribute value(s) per image")
    return conditional.check_labels(labels, cfg.condition, n)


def _amp(cfg: ImageTrainConfig, dev: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype, or None for float32 everywhere."""
    if cfg.amp is False or (cfg.amp == "auto" and dev.type != "cuda"):
        return None
    if cfg.amp in _AMP_DTYPES:
        available = getattr(torch.amp, "is_autocast_available", None)   # torch >= 2.4
        if available is not None and not available(dev.type):
            raise ValueError(f"amp={cfg.amp!r}: torch has no autocast for device {str(dev)!r}")
        if cfg.amp == "float16" and dev.type != "cuda" and not hasattr(torch.amp, "GradScaler"):
            raise ValueError(f"amp='float16' on {str(dev)!r} needs torch >= 2.3 (its GradScaler is CUDA-only)")
        return _AMP_DTYPES[cfg.amp]
    if dev.type != "cuda":
        raise ValueError(f"amp=True needs a CUDA device, got device {str(dev)!r} (use amp='auto' or False)")
    return torch.bfloat16 if _native_bf16(dev) else torch.float16


def _native_bf16(dev: torch.device) -> bool:
    """Whether the GPU computes in bfloat16 in hardware: NVIDIA from Ampere (compute capability 8) on, and
    AMD's ROCm GPUs. ``torch.cuda.is_bf16_supported()`` also says yes where bfloat16 is only emulated
    (e.g. Colab's T4), which is slower than float16 there."""
    if torch.version.hip:
        return True
    return torch.cuda.get_device_capability(dev)[0] >= 8


_RUN_STATE_KEYS = ("generator", "critic", "opt_g", "opt_d", "scalers", "rng")   # loop.RunState of train_images


def _config_fields(saved: dict) -> dict:
    """A checkpoint's config as ImageTrainConfig fields. Checkpoints from before objectives had a name
    (gan_lab 0.2) are WGAN-GP runs; their ``penalty_weight`` was always set."""
    return {"objective": "wgan-gp", **saved}


def _resume_state(path: str, cfg: ImageTrainConfig, world_size: int = 1) -> dict:
    """The checkpoint at ``path``, checked against ``cfg``: the same run, at a step <= cfg.steps."""
    state = _checkpoint.load_checkpoint(path)
    needed = _CHECKPOINT_KEYS + _RUN_STATE_KEYS
    missing = [k for k in needed if k not in state]
    if missing or state["trainer"] != _TRAINER:
        raise _checkpoint.CheckpointError(f"{path!r} is a gan_lab checkpoint but not one of train_images "
                                          f"(trainer {state.get('trainer')!r}, missing {missing})")
    try:
        saved = ImageTrainConfig(**_config_fields(state["config"]))
    except (TypeError, ValueError) as err:
        raise _checkpoint.CheckpointError(f"{path!r} holds a configuration this gan_lab cannot read: {err}") from err
    diffs = [f"{f.name}: checkpoint {getattr(saved, f.name)!r}, given {getattr(cfg, f.name)!r}"
             for f in fields(ImageTrainConfig)
             if f.name not in RESUMABLE_FIELDS and getattr(saved, f.name) != getattr(cfg, f.name)]
    if diffs:
        raise ValueError(f"cannot resume from {path!r}: it was written with a different configuration "
                         f"({'; '.join(diffs)}); only {', '.join(RESUMABLE_FIELDS)} may change on resume")
    if state["step"] > cfg.steps:
        raise ValueError(f"cannot resume from {path!r}: it is at step {state['step']}, beyond steps={cfg.steps}")
    saved_offset = state.get("seed_offset", 0)   # checkpoints written before the offset existed: 0
    if saved_offset != settings.seed_offset():
        raise ValueError(f"cannot resume from {path!r}: it was written with GAN_LAB_SEED_OFFSET={saved_offset}, "
                         f"this process has {settings.seed_offset()} (the seeds would not continue the same run)")
    saved_world = state.get("world_size", 1)   # checkpoints written before data parallelism: one process
    if saved_world != world_size:
        how = f"torchrun --nproc-per-node {saved_world}" if saved_world > 1 else "one process, without torchrun"
        raise ValueError(f"cannot resume from {path!r}: it was written by {saved_world} process(es), this run has "
                         f"{world_size} (the global batch, processes x batch_size, would change); resume it with {how}")
    return state


def _play(net: nn.Module, x: torch.Tensor, y: Optional[torch.Tensor]) -> torch.Tensor:
    """net(x) for an unconditional player (y None), net(x, y) for a conditional one."""
    return net(x) if y is None else net(x, y)


def _scaler(dev: torch.device) -> "torch.amp.GradScaler":
    if hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler(dev.type)
    return torch.cuda.amp.GradScaler()  # torch < 2.3, where only CUDA has one


def _update(loss: torch.Tensor, opt: torch.optim.Optimizer, scaler) -> None:
    """One optimiser step on ``loss`` (through the GradScaler for float16)."""
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        opt.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()


# ---- the loop -----------------------------------------------------------------------------------------

def train_images(images: torch.Tensor, config: Optional[ImageTrainConfig] = None, *,
                 labels: Optional[torch.Tensor] = None, checkpoint_path: Optional[Union[str, "os.PathLike[str]"]] = None,
                 resume: Union[bool, str] = False, device: Optional[Union[str, torch.device]] = None,
                 on_log: Optional[Callable[[ImageTrainResult], Optional[dict]]] = None,
                 **overrides) -> ImageTrainResult:
    """Train a convolutional WGAN-GP on ``images``: a float tensor (n, 3, size, size) in [-1, 1].

    ``config`` fields can be overridden by keyword, e.g. ``train_images(x, size=16, width=8, steps=50)``.
    ``labels`` (a conditional config, ``condition=(K_1, ..., K_A)``): an integer tensor (n, A), or (n,)
    for one attribute, the label of each image; the pair is then G(z, y) and the projection critic
    f(x, y) (module docstring). An unconditional config takes no labels.
    The networks are built after seeding with ``config.seed``; batches, z and eps come from one CPU
    generator seeded with it, so on the CPU the same seed gives bit-identical weights.

    With ``checkpoint_path``, the run is saved (atomically) every ``checkpoint_every`` steps and at the end.
    ``resume=True`` continues from that file exactly where it stopped; its configuration must equal this one
    except for ``RESUMABLE_FIELDS`` (a longer ``steps`` trains on). ``resume="auto"`` resumes if the file
    exists and starts afresh otherwise (re-run the same cell after a disconnect).
    A run also logs, samples and checkpoints at its own last step, so the history of a run resumed from the
    end of a shorter one keeps that extra log.
    ``on_log(result)`` is called at every log and may return a dict of extra numbers for the history, or
    raise ``StopTraining`` to end the run (then checkpointed if a path was given).
    Under torchrun (a ``torch.distributed`` group of N > 1 ranks is initialised, see ``gan_lab.distributed``)
    the run is data parallel, equal to one process with batch N x ``batch_size`` (module docstring);
    pass each rank its own ``device`` on GPUs. Only rank 0 writes the checkpoint and calls ``on_log``; every
    rank returns the same trained networks (its ``history`` holds rank 0's ``on_log`` extras only on rank 0).
    Everything is checked before any work or any file is written (``ValueError``); a NaN/Inf loss at a log
    raises ``TrainingDiverged`` carrying the partial result.
    """
    cfg = loop.configure(config, ImageTrainConfig, overrides)
    loop.check_on_log(on_log)
    _check_images(images, cfg)
    y_data = _check_labels(labels, cfg, len(images))    # None: an unconditional run
    dev = settings.resolve_device(device)
    amp_dtype = _amp(cfg, dev)
    world = distributed.current()          # None: one process, the path of every notebook
    main, ranks = (True, 1) if world is None else (world.main, world.size)
    if resume not in (False, True, "auto") or isinstance(resume, (int, float)) and not isinstance(resume, bool):
        raise ValueError(f"resume must be True, False or 'auto', got {resume!r}")
    state = None
    if checkpoint_path is not None:
        checkpoint_path = _checkpoint.check_writable(checkpoint_path)   # now, not at the first save
        if resume is True or (resume == "auto" and os.path.exists(checkpoint_path)):
            state = _resume_state(checkpoint_path, cfg, ranks)
    elif resume is True:
        raise ValueError("resume=True needs a checkpoint_path")

    # ---- build (the same order with or without a checkpoint, which then overwrites the state) ----------
    settings.seed_everything(cfg.seed)
    G, D = build_networks(cfg)
    G, D = G.to(dev), D.to(dev)
    opt_g = loop.optimizer("adam", G.parameters(), cfg.lr, cfg.betas)
    opt_d = loop.optimizer("adam", D.parameters(), cfg.lr, cfg.betas)
    scaler_g, scaler_d = (_scaler(dev), _scaler(dev)) if amp_dtype == torch.float16 else (None, None)
    rng = settings.stream(cfg.seed, "train")
    run_state = loop.RunState({"generator": G, "critic": D, "opt_g": opt_g, "opt_d": opt_d}, [scaler_g, scaler_d], rng,
                              on_log if main else None)
    game = cfg.objective_losses()
    result = ImageTrainResult(G, D, cfg, {k: [] for k in _HISTORY})
    start, seconds_before = 0, 0.0
    if state is not None:
        try:
            run_state.restore(state)
        except RuntimeError as err:
            first = str(err).strip().splitlines()
            raise _checkpoint.CheckpointError(
                f"cannot resume from {checkpoint_path!r}: its networks do not fit the configuration's "
                f"(size {cfg.size}, width {cfg.width}, kind {cfg.kind!r}, generator {cfg.generator or cfg.kind!r}, critic norm "
                f"{cfg.critic_norm!r}, condition {cfg.condition}): {first[1].strip() if len(first) > 1 else first[0]}"
            ) from None
        result.history = {k: list(v) for k, v in state["history"].items()}
        result.samples = [(int(s), x) for s, x in state["samples"]]
        start, seconds_before = int(state["step"]), float(state["seconds"])
        result.start_step = start
    data = images.detach().to(dev, torch.float32)
    z_fixed = torch.randn(cfg.snapshots, cfg.noise_dim, generator=settings.stream(cfg.seed, "snapshot_noise"))
    z_fixed = z_fixed.to(dev)
    y_fixed = result.snapshot_labels.to(dev) if y_data is not None else None   # the grid of every combination
    if y_data is not None:
        y_data = y_data.to(dev)

    def autocast():
        return torch.autocast(dev.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None)

    def save(step: int, elapsed: float) -> None:   # every rank checks (the same weights), rank 0 writes
        if not all(bool(torch.isfinite(p).all()) for net in (G, D) for p in net.parameters()):
            raise TrainingDiverged(f"training diverged by generator step {step}: the networks hold NaN or "
                                   f"infinite weights, so {checkpoint_path!r} was not overwritten (it keeps the "
                                   "last good state; lower lr)", result)
        if main:
            _checkpoint.save_checkpoint(checkpoint_path, run_state.state(
                trainer=_TRAINER, step=step, config=asdict(cfg), seed_offset=settings.seed_offset(),
                world_size=ranks, history=result.history, samples=result.samples, seconds=elapsed))
        distributed.barrier()

    def snapshot(step: int) -> None:   # G(z_fixed) as uint8, kept in result.samples
        G.eval()
        with torch.no_grad(), autocast():
            x = _play(G, z_fixed, y_fixed)
        G.train()
        if not bool(torch.isfinite(x).all()):
            raise TrainingDiverged(f"training diverged by generator step {step}: the generator outputs NaN or "
                                   "infinite values (lower lr)", result)
        result.samples.append((step, to_uint8(x)))

    N, B = len(data), cfg.batch_size * ranks     # B: the global batch

    def labels_drawn() -> Optional[torch.Tensor]:   # B labels of the training set: its empirical distribution
        if y_data is None:
            return None
        return y_data[torch.randint(N, (B,), generator=rng).to(dev)]

    use_penalty = game.lipschitz == "penalty" and cfg.penalty_weight > 0
    critic, generator = D, G          # what the losses' forward passes go through: the DDP wrappers if any
    if world is not None:
        ids = [dev.index] if dev.type == "cuda" else None
        critic = DistributedDataParallel(D, device_ids=ids)
        generator = DistributedDataParallel(G, device_ids=ids)
        mine = world.share(B)
    if cfg.snapshots and start == 0:   # the untrained generator, on the same z as every later snapshot
        snapshot(0)
    G.train()
    D.train()
    begin = time.perf_counter()
    bar = tqdm(range(start + 1, cfg.steps + 1), initial=start, total=cfg.steps, disable=not (cfg.progress and main),
               desc=f"{cfg.objective} {cfg.kind} {cfg.size}px", leave=False)
    for step in bar:
        # ---- critic: n_critic steps on E[f(G(z))] - E[f(x)] + lambda * penalty -------------------------
        for _ in range(cfg.n_critic):
            idx = torch.randint(N, (B,), generator=rng).to(dev)
            z = torch.randn(B, cfg.noise_dim, generator=rng)
            eps = torch.rand(B, 1, 1, 1, generator=rng)
            fake_y = labels_drawn()                   # after eps: an unconditional run draws what it always drew
            real, real_y = data[idx], (y_data[idx] if y_data is not None else None)
            z, eps = z.to(dev, non_blocking=True), eps.to(dev, non_blocking=True)
            with autocast():
                with torch.no_grad():
                    fake = _play(G, z, fake_y)        # the whole global batch: its batch-norm statistics
                if world is not None:                 # this rank's rows
                    real, fake, eps = real[mine], fake[mine], eps[mine]
                    if y_data is not None:
                        real_y, fake_y = real_y[mine], fake_y[mine]
                both_y = torch.cat([real_y, fake_y]) if y_data is not None else None
                scores = _play(critic, torch.cat([real, fake.to(real.dtype)]), both_y).float()   # one pass, both halves
            real_s, fake_s = scores[:len(real)], scores[len(real):]
            loss_d = game.critic_loss(real_s, fake_s)
            penalty = None
            if use_penalty:    # float32, outside autocast; on D itself, not its DDP wrapper (docstring)
                f = D if y_data is None else (lambda x_hat: D(x_hat, real_y))   # x_hat scored with x's label
                penalty = losses.gradient_penalty(f, real, fake.float(), eps=eps)
                total_d = loss_d + cfg.penalty_weight * penalty
            else:
                total_d = loss_d
            _update(total_d, opt_d, scaler_d)
            if game.lipschitz == "clip":
                losses.clip_weights(D, cfg.clip)

        # ---- generator: one step on -E[f(G(z))] against a frozen critic ------------------------------
        z = torch.randn(B, cfg.noise_dim, generator=rng).to(dev, non_blocking=True)
        gen_y = labels_drawn()
        D.requires_grad_(False)
        with autocast():
            if world is None:
                gen_s = _play(D, _play(G, z, gen_y), gen_y).float()
            else:
                gen_s = _play(D, _play(generator, z, gen_y)[mine], gen_y[mine] if gen_y is not None else None).float()
        loss_g = game.generator_loss(gen_s)
        _update(loss_g, opt_g, scaler_g)
        D.requires_grad_(True)

        # ---- bookkeeping: samples, log, on_log, checkpoint -----------------------------------------------
        last = step == cfg.steps
        logging = step % cfg.log_every == 0 or last
        if logging:
            h = result.history
            values = {"estimate": float(real_s.detach().mean() - fake_s.detach().mean()),
                      "loss_d": float(loss_d.detach()), "loss_g": float(loss_g.detach()),
                      "penalty": float(penalty.detach()) if penalty is not None else float("nan")}
            if world is not None:             # this rank's means -> the global batch's
                values = dict(zip(values, distributed.mean_over_ranks(list(values.values()), dev)))
            h["step"].append(step)
            for key, value in values.items():
                h[key].append(value)
            h["seconds"].append(seconds_before + time.perf_counter() - begin)
            bar.set_postfix(estimate=f"{values['estimate']:.3g}", refresh=False)
            result.seconds = time.perf_counter() - begin
            if not all(math.isfinite(values[k]) for k in ("estimate", "loss_d", "loss_g")):
                raise TrainingDiverged(f"training diverged at generator step {step}: critic loss "
                                       f"{values['loss_d']:.4g}, generator loss {values['loss_g']:.4g} "
                                       "(lower lr, or check the data)", result)
        if cfg.snapshots and (step % cfg.sample_every == 0 or last):
            snapshot(step)
        if logging and on_log is not None and main:
            extra, result.stopped = loop.log_extras(on_log, result, step)
            for key, value in extra.items():
                h.setdefault(key, []).append(value)
        if logging and world is not None:     # rank 0's StopTraining stops every rank
            result.stopped = distributed.any_rank(result.stopped, dev)
        if checkpoint_path is not None and (last or result.stopped
                                            or (cfg.checkpoint_every and step % cfg.checkpoint_every == 0)):
            save(step, seconds_before + time.perf_counter() - begin)
        if result.stopped:
            break
    bar.close()
    result.seconds = time.perf_counter() - begin
    return result
