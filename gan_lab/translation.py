"""Unpaired image-to-image translation: CycleGAN (Zhu et al. 2017) and DiscoGAN (Kim et al. 2017).

Two image domains A and B with no pairs between them (squares and circles, say). Two generators map across,
G_AB: A -> B and G_BA: B -> A, and two critics D_A, D_B each tell their domain's real images from the
translations into it. A translation alone is underdetermined: any map onto B's distribution fools D_B,
whatever it does to the square it was given. The cycle term ties each image to its translation by asking
that the round trip comes back:

    L_G = L_adv(G_AB, D_B) + L_adv(G_BA, D_A)
          + lambda_cyc [rec(a, G_BA(G_AB(a))) + rec(b, G_AB(G_BA(b)))]
          + lambda_id  [E|G_BA(a) - a| + E|G_AB(b) - b|]
    L_D = L_critic(D_A; a, G_BA(b)) + L_critic(D_B; b, G_AB(a))

- ``cyclegan``: least squares (``objectives`` ``"lsgan"``): the critic minimises 1/2 E[(D(y) - 1)^2]
  + 1/2 E[D(G(x))^2], the generator E[(D(G(x)) - 1)^2]; rec(x, x_hat) = E|x - x_hat| (L1,
  ``losses.cycle_consistency_loss``); lambda_cyc = 10 and lambda_id = 0.5 lambda_cyc, the paper's, or 0.
- ``discogan``: the standard GAN (``objectives`` ``"gan"``): the critic minimises -E[log D(y)]
  - E[log(1 - D(G(x)))], the generator -E[log D(G(x))]; rec(x, x_hat) = E[(x - x_hat)^2] (MSE);
  lambda_cyc = 1 (the paper's unweighted sum); no identity term.

CycleGAN (Zhu et al. 2017) replaces the GAN's log loss by least squares; its generator term is
E[(D(G(x)) - 1)^2], twice ``objectives``' LSGAN generator loss, which keeps the 1/2 of Mao et al., so the
factor 2 here keeps the paper's balance against lambda_cyc = 10. The critic's loss is ``objectives``' as it
stands, half the paper's sum E[(D(y) - 1)^2] + E[D(G(x))^2]: a constant factor on a loss that is minimised
alone does not change Adam's steps (up to its eps). The identity term (from Taigman et al. 2017) asks each
generator to leave an image that is already in its target domain alone; the paper uses it to keep colours.
DiscoGAN (Kim et al. 2017: L_G = L_GAN_B + L_CONST_A + L_GAN_A + L_CONST_B) is the same two-cycle game
with the standard GAN loss and a reconstruction distance d, for which the paper allows several choices (the
mean squared error among them); we use the MSE, with weight 1 as the paper writes the sum, and no identity
term. Both methods here use the same networks, so a comparison isolates the formulation (DiscoGAN's own
nets were a conv encoder-decoder with batch norm; the paper's point is the loss, not the net).

Networks. ``Translator`` is CycleGAN's generator scaled to 16-64 px (Johnson et al. 2016 style): a 7x7
conv, two stride-2 downsamplings, ``blocks`` residual blocks at size / 4, two nearest-neighbour upsamplings
each followed by a 3x3 conv (no transposed convolution, so no checkerboard), a 7x7 conv to 3 channels and
tanh, with instance norm (per image and channel, no running statistics: train and eval mode compute the
same function). The critics are ``convnets.Critic(size, width)``, which score the whole image. CycleGAN's
70x70 PatchGAN scores overlapping patches of a 256 px image; at 16-32 px a 70 px patch is larger than the
image, so a PatchGAN would be a whole-image critic anyway, and the shape (corners or none) is a property of
the whole 11-22 px figure.

Left out of the paper's recipe: the pool of 50 earlier fakes that its critics also see, and the linear
learning-rate decay of the second half of training; the batch is ``batch_size`` images, not 1.
"""
from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import checkpoint as _checkpoint
from . import checks, convnets, loop, losses, objectives, settings
from .loop import StopTraining, TrainingDiverged

__all__ = ["METHODS", "SIZES", "ADVERSARIAL", "RESUMABLE_FIELDS", "ResidualBlock", "Translator", "build_networks",
           "TranslationConfig", "TranslationResult", "GeneratorObjective", "reconstruction_loss", "identity_loss",
           "generator_objective", "critic_objective", "train_translation", "translate", "StopTraining",
           "TrainingDiverged"]

METHODS = ("cyclegan", "discogan")
SIZES = convnets.SIZES
# Each method's adversarial objective (a name of ``objectives``) and the factor on its generator loss.
ADVERSARIAL = {"cyclegan": ("lsgan", 2.0), "discogan": ("gan", 1.0)}
_RECONSTRUCTION = {"cyclegan": "l1", "discogan": "mse"}
_CYCLE_WEIGHT = {"cyclegan": 10.0, "discogan": 1.0}
# Fields that may differ between a checkpoint and the run that resumes it: they do not change the numbers.
RESUMABLE_FIELDS = ("steps", "progress", "checkpoint_every")
_HISTORY = ("step", "loss_d_a", "loss_d_b", "adversarial", "reconstruction", "cycle_a", "cycle_b", "identity",
            "loss_g", "seconds")
_TRAINER = "gan_lab.translation.train_translation"
_NETS = ("g_ab", "g_ba", "d_a", "d_b")
_CHECKPOINT_KEYS = ("trainer", "step", "config", "data", "seed_offset", "history", "seconds",
                    *_NETS, "opt_g", "opt_d", "scalers", "rng")


# ---- the generator -----------------------------------------------------------------------------------------

class ResidualBlock(nn.Module):
    """x -> x + IN(Conv3x3(ReLU(IN(Conv3x3(x))))), reflection-padded, channels unchanged."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        channels = checks.integer("channels", channels, 1)
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels, affine=True),
            nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _conv_in_relu(c_in: int, c_out: int, kernel: int, *, stride: int = 1) -> list:
    pad = [nn.ReflectionPad2d(kernel // 2)] if stride == 1 else []
    conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=0 if stride == 1 else kernel // 2)
    return [*pad, conv, nn.InstanceNorm2d(c_out, affine=True), nn.ReLU()]


class Translator(nn.Module):
    """G: an image (n, 3, size, size) in [-1, 1] -> an image of the same shape in [-1, 1], through tanh.

    Encoder: Conv7x7(3 -> w), then two Conv3x3 stride 2 (w -> 2w -> 4w, to size / 4); ``blocks``
    ``ResidualBlock``s of 4w channels; decoder: two (nearest x2 upsample, Conv3x3) (4w -> 2w -> w), each conv
    followed by instance norm and ReLU; Conv7x7(w -> 3) and tanh. Convolutions are reflection-padded, as
    in CycleGAN, so the white border of a shape image is not darkened by zero padding. w = ``width``.
    """

    def __init__(self, size: int = 16, width: int = 32, blocks: int = 3) -> None:
        super().__init__()
        if type(size) is not int or size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}, got {size!r}")
        width = checks.integer("width", width, 1)
        blocks = checks.integer("blocks", blocks, 0)
        self.size, self.width, self.blocks = size, width, blocks
        w = width
        self.encoder = nn.Sequential(*_conv_in_relu(3, w, 7), *_conv_in_relu(w, 2 * w, 3, stride=2),
                                     *_conv_in_relu(2 * w, 4 * w, 3, stride=2))
        self.residual = nn.Sequential(*[ResidualBlock(4 * w) for _ in range(blocks)])
        self.decoder = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), *_conv_in_relu(4 * w, 2 * w, 3),
                                     nn.Upsample(scale_factor=2, mode="nearest"), *_conv_in_relu(2 * w, w, 3),
                                     nn.ReflectionPad2d(3), nn.Conv2d(w, 3, 7))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != (3, self.size, self.size):
            raise ValueError(f"Translator takes images of shape (n, 3, {self.size}, {self.size}), got {tuple(x.shape)}")
        return torch.tanh(self.decoder(self.residual(self.encoder(x))))


# ---- configuration -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TranslationConfig:
    """Everything that defines a translation run; checked on construction (``ValueError`` naming the value).

    ``cycle_weight`` (lambda_cyc) defaults to the method's: 10 for CycleGAN, 1 for DiscoGAN.
    ``identity_weight`` (lambda_id) defaults to 0.5 lambda_cyc for CycleGAN (the paper's 0.5 lambda) and
    may be 0; DiscoGAN has no identity term, so a nonzero one is refused. Adam's lr 2e-4 and betas
    (0.5, 0.999) are both papers'. ``width`` is the generators' first channel count and the critics' width.
    """

    method: str = "cyclegan"
    size: int = 16
    width: int = 16
    blocks: int = 3                     # residual blocks of the generators (the paper: 6 at 128 px, 9 at 256)
    steps: int = 1000
    batch_size: int = 16                # from each domain, drawn independently (unpaired)
    lr: float = 2e-4
    betas: tuple = (0.5, 0.999)
    cycle_weight: Optional[float] = None
    identity_weight: Optional[float] = None
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 500         # with a checkpoint_path; 0: only at the end
    progress: bool = True

    def __post_init__(self) -> None:
        checks.choice("method", self.method, METHODS)
        if type(self.size) is not int or self.size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}, got {self.size!r}")
        for name in ("width", "steps", "batch_size", "log_every"):
            checks.integer(name, getattr(self, name), 1)
        checks.integer("blocks", self.blocks, 0)
        checks.integer("checkpoint_every", self.checkpoint_every, 0)
        checks.seed("seed", self.seed)
        checks.boolean("progress", self.progress)
        lr = checks.positive_number("lr", self.lr)
        betas = checks.betas(self.betas)
        cycle = _CYCLE_WEIGHT[self.method] if self.cycle_weight is None else \
            checks.number_at_least("cycle_weight", self.cycle_weight, 0.0)
        if self.identity_weight is None:
            identity = 0.5 * cycle if self.method == "cyclegan" else 0.0
        else:
            identity = checks.number_at_least("identity_weight", self.identity_weight, 0.0)
            if self.method == "discogan" and identity != 0:
                raise ValueError(f"identity_weight={self.identity_weight!r} does not apply to method 'discogan' "
                                 "(DiscoGAN has no identity term); leave it unset or 0")
        # plain floats from here on: the config goes into checkpoints, which hold only plain Python numbers
        for name, value in (("lr", lr), ("betas", betas), ("cycle_weight", cycle), ("identity_weight", identity)):
            object.__setattr__(self, name, value)

    @property
    def reconstruction(self) -> str:
        """The method's distance rec(x, x_hat): ``"l1"`` (CycleGAN) or ``"mse"`` (DiscoGAN)."""
        return _RECONSTRUCTION[self.method]

    def adversarial(self) -> tuple[objectives.Objective, float]:
        """The method's adversarial objective (from ``objectives``) and the factor on its generator loss."""
        name, scale = ADVERSARIAL[self.method]
        return objectives.objective(name), scale


@dataclass
class TranslationResult:
    """The trained generators ``g_ab`` (A -> B), ``g_ba`` (B -> A) and critics ``d_a``, ``d_b``, the
    ``config``, the ``history`` (lists, one entry per log: step; loss_d_a, loss_d_b, the critics' losses;
    adversarial, the generators' two adversarial terms summed (scaled as trained); reconstruction, the two
    rec() terms summed, unweighted; cycle_a = E|a - G_BA(G_AB(a))| and cycle_b = E|b - G_AB(G_BA(b))| (L1
    for both methods, so they compare); identity = E|G_BA(a) - a| + E|G_AB(b) - b|, measured at every log
    on the step's batches, also when its weight is 0; loss_g, the generators' total; seconds of training),
    ``seconds`` (this call's wall time), ``start_step`` (a resumed checkpoint's step, else 0) and ``stopped``
    (``on_log`` raised ``StopTraining``)."""

    g_ab: nn.Module
    g_ba: nn.Module
    d_a: nn.Module
    d_b: nn.Module
    config: TranslationConfig
    history: dict = field(default_factory=dict)
    seconds: float = 0.0
    start_step: int = 0
    stopped: bool = False


# ---- the losses, one step's worth ---------------------------------------------------------------------------

Net = Callable[[torch.Tensor], torch.Tensor]


def reconstruction_loss(method: str, x: torch.Tensor, x_reconstructed: torch.Tensor) -> torch.Tensor:
    """rec(x, x_hat): E|x - x_hat| (``losses.cycle_consistency_loss``) for ``"cyclegan"``,
    E[(x - x_hat)^2] for ``"discogan"``; means over every element."""
    checks.choice("method", method, METHODS)
    if method == "cyclegan":
        return losses.cycle_consistency_loss(x, x_reconstructed)
    if x.shape != x_reconstructed.shape:
        raise ValueError(f"x and x_reconstructed must have the same shape, got {tuple(x.shape)} and "
                         f"{tuple(x_reconstructed.shape)}")
    return F.mse_loss(x_reconstructed, x)


def identity_loss(g_ab: Net, g_ba: Net, real_a: torch.Tensor, real_b: torch.Tensor) -> torch.Tensor:
    """E|G_BA(a) - a| + E|G_AB(b) - b|: how far each generator moves an image that is already in its target
    domain (0 for generators that are the identity map)."""
    return losses.cycle_consistency_loss(real_a, g_ba(real_a)) + losses.cycle_consistency_loss(real_b, g_ab(real_b))


@dataclass(frozen=True)
class GeneratorObjective:
    """One evaluation of L_G: ``total`` (what the generators minimise), its parts ``adversarial``
    (both directions, scaled as trained), ``reconstruction`` (rec(a, a_hat) + rec(b, b_hat), unweighted) and
    ``identity`` (None when its weight is 0: not computed), the L1 cycle errors ``cycle_a``, ``cycle_b``
    (detached), and the translations ``fake_b`` = G_AB(a), ``fake_a`` = G_BA(b) the critics' step takes."""

    total: torch.Tensor
    adversarial: torch.Tensor
    reconstruction: torch.Tensor
    identity: Optional[torch.Tensor]
    cycle_a: torch.Tensor
    cycle_b: torch.Tensor
    fake_a: torch.Tensor
    fake_b: torch.Tensor


def generator_objective(g_ab: Net, g_ba: Net, d_a: Net, d_b: Net, real_a: torch.Tensor, real_b: torch.Tensor,
                        config: TranslationConfig) -> GeneratorObjective:
    """L_G = s [L_G^adv(D_B(G_AB(a))) + L_G^adv(D_A(G_BA(b)))] + lambda_cyc [rec(a, G_BA(G_AB(a)))
    + rec(b, G_AB(G_BA(b)))] + lambda_id [E|G_BA(a) - a| + E|G_AB(b) - b|], with the method's adversarial
    loss and factor s (``ADVERSARIAL``), rec (``reconstruction_loss``) and weights from ``config``."""
    game, scale = config.adversarial()
    fake_b, fake_a = g_ab(real_a), g_ba(real_b)
    rec_a, rec_b = g_ba(fake_b), g_ab(fake_a)
    adversarial = scale * (game.generator_loss(d_b(fake_b)) + game.generator_loss(d_a(fake_a)))
    reconstruction = (reconstruction_loss(config.method, real_a, rec_a)
                      + reconstruction_loss(config.method, real_b, rec_b))
    total = adversarial + config.cycle_weight * reconstruction
    identity = None
    if config.identity_weight > 0:
        identity = identity_loss(g_ab, g_ba, real_a, real_b)
        total = total + config.identity_weight * identity
    with torch.no_grad():
        cycle_a = losses.cycle_consistency_loss(real_a, rec_a)
        cycle_b = losses.cycle_consistency_loss(real_b, rec_b)
    return GeneratorObjective(total, adversarial, reconstruction, identity, cycle_a, cycle_b, fake_a, fake_b)


def critic_objective(d_a: Net, d_b: Net, real_a: torch.Tensor, real_b: torch.Tensor, fake_a: torch.Tensor,
                     fake_b: torch.Tensor, config: TranslationConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_D(D_A; a, fake_a), L_D(D_B; b, fake_b)), the method's critic loss (``objectives``) of each domain's
    real images against the translations into it (detached: this step trains the critics only). Each critic
    scores its real and fake batch in one pass (the critics have no batch statistics)."""
    game, _ = config.adversarial()

    def one(d: Net, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        scores = d(torch.cat([real, fake.detach()]))
        return game.critic_loss(scores[:len(real)], scores[len(real):])

    return one(d_a, real_a, fake_a), one(d_b, real_b, fake_b)


# ---- the loop -----------------------------------------------------------------------------------------------

def _check_domains(domain_a: torch.Tensor, domain_b: torch.Tensor, cfg: TranslationConfig) -> None:
    for name, x in (("domain_a", domain_a), ("domain_b", domain_b)):
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            got = f"dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name} must be a float tensor of images in [-1, 1], got {got} "
                             "(convert uint8 images with gan_lab.data.to_tensor)")
        if x.dim() != 4 or tuple(x.shape[1:]) != (3, cfg.size, cfg.size) or len(x) == 0:
            raise ValueError(f"{name} must have shape (n, 3, {cfg.size}, {cfg.size}) with n > 0 for size={cfg.size}, "
                             f"got {tuple(x.shape)}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contains NaN or Inf (first at index {(~torch.isfinite(x)).nonzero()[0].tolist()})")
        lo, hi = x.min().item(), x.max().item()
        if lo < -1 or hi > 1:
            raise ValueError(f"{name} must lie in [-1, 1], got values in [{lo:.4g}, {hi:.4g}]")


def _fingerprint(domain_a: torch.Tensor, domain_b: torch.Tensor) -> str:
    """SHA-256 of both domains' float32 bytes and shapes: a checkpoint resumes only on the data it saw."""
    h = hashlib.sha256()
    for x in (domain_a, domain_b):
        t = x.detach().to("cpu", torch.float32).contiguous()
        h.update(repr(tuple(t.shape)).encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:32]


def build_networks(cfg: TranslationConfig) -> dict:
    """The untrained ``{"g_ab", "g_ba", "d_a", "d_b"}`` of ``cfg``, drawn in that order from a seeded copy of
    torch's global generator (the global state is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.shifted_seed(cfg.seed))
        g_ab, g_ba = (Translator(cfg.size, cfg.width, cfg.blocks) for _ in range(2))
        d_a, d_b = (convnets.Critic(cfg.size, cfg.width) for _ in range(2))
    return dict(g_ab=g_ab, g_ba=g_ba, d_a=d_a, d_b=d_b)


def _update(loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def train_translation(domain_a: torch.Tensor, domain_b: torch.Tensor, config: Optional[TranslationConfig] = None, *,
                      checkpoint_path: Optional[Union[str, "os.PathLike[str]"]] = None,
                      resume: Union[bool, str] = False,
                      on_log: Optional[Callable[[TranslationResult], Optional[dict]]] = None,
                      device: Optional[Union[str, torch.device]] = None) -> TranslationResult:
    """Train G_AB, G_BA, D_A, D_B on unpaired images of two domains, float tensors (n_a, 3, size, size) and
    (n_b, 3, size, size) in [-1, 1] (n_a and n_b may differ).

        for step in 1..steps:
            a = A[i_1..i_B], b = B[j_1..j_B]; i, j ~ U independently   (settings.stream(seed, "train"))
            Adam step on (G_AB, G_BA) for L_G, critics frozen           (generator_objective)
            Adam step on (D_A, D_B) for L_D on the same step's translations   (critic_objective)

    This is its own loop, not ``images.train_images``, because the game has four players: two generators
    tied together by the cycle and identity terms (one L_G, one optimiser over both) and two critics, and
    a generator here takes an image, not noise. The pieces are the package's: the objectives by name,
    ``losses.cycle_consistency_loss``, ``loop.optimizer`` (Adam), ``loop.RunState`` and
    ``checkpoint.save_checkpoint`` for the checkpoint, ``loop.log_extras`` for ``on_log``.

    The networks come from ``config.seed`` (``build_networks``), the batches' indices from the run's
    ``train`` stream, so on the CPU the same seed gives bit-identical weights. With ``checkpoint_path`` the
    run is saved (atomically) every ``checkpoint_every`` steps, at the end and when ``on_log`` stops it;
    ``resume=True`` continues from that file exactly where it stopped (config equal up to
    ``RESUMABLE_FIELDS``, the same images, the same seed offset), ``resume="auto"`` resumes if the file
    exists. ``on_log(result)`` is called at every log and may return a dict of extra numbers for the
    history, or raise ``StopTraining``. Everything is checked before any work or any file is written
    (``ValueError``); a NaN/Inf loss at a log raises ``TrainingDiverged`` carrying the partial result.
    """
    cfg = TranslationConfig() if config is None else config
    if not isinstance(cfg, TranslationConfig):
        raise ValueError(f"config must be a TranslationConfig, got {type(cfg).__name__}: {cfg!r:.80}")
    loop.check_on_log(on_log)
    _check_domains(domain_a, domain_b, cfg)
    dev = settings.resolve_device(device)
    if resume not in (False, True, "auto") or (isinstance(resume, (int, float)) and not isinstance(resume, bool)):
        raise ValueError(f"resume must be True, False or 'auto', got {resume!r}")
    data_tag = _fingerprint(domain_a, domain_b)
    state = None
    if checkpoint_path is not None:
        checkpoint_path = _checkpoint.check_writable(checkpoint_path)
        if resume is True or (resume == "auto" and os.path.exists(checkpoint_path)):
            state = loop.resume_state(checkpoint_path, cfg, trainer=_TRAINER, keys=_CHECKPOINT_KEYS,
                                       resumable=RESUMABLE_FIELDS, data=data_tag)
    elif resume is True:
        raise ValueError("resume=True needs a checkpoint_path")

    nets = {k: m.to(dev) for k, m in build_networks(cfg).items()}
    g_ab, g_ba, d_a, d_b = (nets[k] for k in _NETS)
    opt_g = loop.optimizer("adam", [*g_ab.parameters(), *g_ba.parameters()], cfg.lr, cfg.betas)
    opt_d = loop.optimizer("adam", [*d_a.parameters(), *d_b.parameters()], cfg.lr, cfg.betas)
    rng = settings.stream(cfg.seed, "train")
    run_state = loop.RunState({**nets, "opt_g": opt_g, "opt_d": opt_d}, [], rng)
    result = TranslationResult(g_ab, g_ba, d_a, d_b, cfg, {k: [] for k in _HISTORY})
    start, seconds_before = 0, 0.0
    if state is not None:
        start, seconds_before = loop.restore_run(run_state, state, checkpoint_path, result)
    data_a = domain_a.detach().to(dev, torch.float32)
    data_b = domain_b.detach().to(dev, torch.float32)
    critics = [*d_a.parameters(), *d_b.parameters()]

    def save(step: int, elapsed: float) -> None:
        if not all(bool(torch.isfinite(p).all()) for net in nets.values() for p in net.parameters()):
            raise TrainingDiverged(f"training diverged by step {step}: the networks hold NaN or infinite weights, "
                                   f"so {checkpoint_path!r} was not overwritten (lower lr)", result)
        _checkpoint.save_checkpoint(checkpoint_path, run_state.state(
            trainer=_TRAINER, step=step, config=asdict(cfg), data=data_tag, seed_offset=settings.seed_offset(),
            history=result.history, seconds=elapsed))

    for net in nets.values():
        net.train()
    begin = time.perf_counter()
    bar = tqdm(range(start + 1, cfg.steps + 1), initial=start, total=cfg.steps, disable=not cfg.progress,
               desc=f"{cfg.method} {cfg.size}px", leave=False)
    for step in bar:
        last = step == cfg.steps
        logging = step % cfg.log_every == 0 or last
        idx_a = torch.randint(len(data_a), (cfg.batch_size,), generator=rng)
        idx_b = torch.randint(len(data_b), (cfg.batch_size,), generator=rng)
        real_a, real_b = data_a[idx_a.to(dev)], data_b[idx_b.to(dev)]

        # ---- generators: one step on L_G against frozen critics --------------------------------------------
        for p in critics:
            p.requires_grad_(False)
        g = generator_objective(g_ab, g_ba, d_a, d_b, real_a, real_b, cfg)
        identity = g.identity
        if logging and identity is None:       # measured, not trained, on the same generators and batches
            with torch.no_grad():
                identity = identity_loss(g_ab, g_ba, real_a, real_b)
        _update(g.total, opt_g)
        for p in critics:
            p.requires_grad_(True)

        # ---- critics: one step on L_D, on this step's translations -----------------------------------------
        loss_d_a, loss_d_b = critic_objective(d_a, d_b, real_a, real_b, g.fake_a, g.fake_b, cfg)
        _update(loss_d_a + loss_d_b, opt_d)

        # ---- bookkeeping: log, on_log, checkpoint ----------------------------------------------------------
        if logging:
            values = {"loss_d_a": float(loss_d_a.detach()), "loss_d_b": float(loss_d_b.detach()),
                      "adversarial": float(g.adversarial.detach()), "reconstruction": float(g.reconstruction.detach()),
                      "cycle_a": float(g.cycle_a), "cycle_b": float(g.cycle_b), "identity": float(identity.detach()),
                      "loss_g": float(g.total.detach())}
            h = result.history
            h["step"].append(step)
            for key, value in values.items():
                h[key].append(value)
            h["seconds"].append(seconds_before + time.perf_counter() - begin)
            result.seconds = time.perf_counter() - begin
            bar.set_postfix(cycle=f"{(values['cycle_a'] + values['cycle_b']) / 2:.3g}", refresh=False)
            if not all(math.isfinite(v) for v in values.values()):
                raise TrainingDiverged(f"training diverged at step {step}: critic losses {values['loss_d_a']:.4g}, "
                                       f"{values['loss_d_b']:.4g}, generator loss {values['loss_g']:.4g} (lower lr)",
                                       result)
            if on_log is not None:
                extra, result.stopped = loop.log_extras(on_log, result, step)
                for key, value in extra.items():
                    h.setdefault(key, []).append(value)
        if checkpoint_path is not None and (last or result.stopped
                                            or (cfg.checkpoint_every and step % cfg.checkpoint_every == 0)):
            save(step, seconds_before + time.perf_counter() - begin)
        if result.stopped:
            break
    bar.close()
    result.seconds = time.perf_counter() - begin
    return result


@torch.no_grad()
def translate(generator: nn.Module, images: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """G(images) for a float tensor (n, 3, size, size) in [-1, 1], ``batch_size`` at a time, in eval mode (the
    generator's mode is restored) on the generator's device; returns a float32 CPU tensor of the same shape."""
    if not isinstance(generator, nn.Module):
        raise ValueError(f"generator must be a torch module, got {type(generator).__name__}")
    if not isinstance(images, torch.Tensor) or not images.is_floating_point() or images.dim() != 4 \
            or images.shape[1] != 3 or len(images) == 0:
        got = f"{images.dtype} tensor of shape {tuple(images.shape)}" if isinstance(images, torch.Tensor) \
            else type(images).__name__
        raise ValueError(f"images must be a non-empty float tensor (n, 3, size, size) in [-1, 1], got {got} "
                         "(convert uint8 images with gan_lab.data.to_tensor)")
    batch_size = checks.integer("batch_size", batch_size, 1)
    p = next(iter(generator.parameters()), None)
    dev = p.device if p is not None else torch.device("cpu")
    was_training = generator.training
    generator.eval()
    try:
        return torch.cat([generator(images[i:i + batch_size].to(dev)).float().cpu()
                          for i in range(0, len(images), batch_size)])
    finally:
        generator.train(was_training)
