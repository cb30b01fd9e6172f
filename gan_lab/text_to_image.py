"""Text-to-image with a matching-aware discriminator (GAN-CLS, Reed et al. 2016) on the shapes.

Each training image has a class (``data.ShapeClass``) and so a caption ("a dark noisy blue square",
``gan_lab.captions``). A caption encoder maps its tokens to a vector h; the generator draws G(z, h), and
the discriminator scores an image *together with* a caption, D(x, h) = sigmoid(l(x, h)). A plain
conditional GAN teaches D two kinds of pairs, (real image, its caption) = real and (generated image, its
caption) = fake; such a D can answer "is this a real image?" without reading the text. GAN-CLS adds a third
kind, (real image, a caption of another class) = fake, so D must check that image and text agree:

    L_D = -E[log D(x, h)] - 1/2 (E[log(1 - D(x, h_wrong))] + E[log(1 - D(G(z, h), h))])
                                                        (``losses.matching_aware_discriminator_loss``)
    L_G = -E[log D(G(z, h), h)]                          (non-saturating, ``losses.generator_loss``)

``matching_aware=False`` trains the plain conditional GAN on the same captions (L_D =
``losses.discriminator_loss`` on the right pairs only), the baseline the chapter measures GAN-CLS against.

Networks (``build_networks``): G is ``conditional.ConditionalGenerator`` on ``convnets.generator_for(kind,
noise_dim + text_dim, size, width)`` with its own ``captions.CaptionEncoder`` (out_dim ``text_dim``); D is
``conditional.ProjectionCritic`` on ``convnets.Critic(size, width, kind, critic_norm)`` with another
encoder whose out_dim is the critic's feature size: l(x, h) = psi(phi(x)) + <h, phi(x)>, so the text enters
D's score through its agreement with the image's features. The paper's encoder was a pretrained char-CNN-RNN;
ours are small and trained by the two players' own losses (mean word embedding, then an MLP: a caption
here is a bag of attribute words in random order).

Captions: the run draws ``captions_per_class`` captions of each class once (``captions.captions``, seeded by
the ``"captions"`` stream of ``settings.STREAMS``), tokenised to ``captions.MAX_LEN``; a batch picks one of them per
image. So the hot path indexes tensors and never touches strings; held-out wordings for evaluation come from
another seed (``mismatch_auroc(..., seed=...)``).

    for step in 1..steps:                                    (one CPU generator, in this order)
        i ~ U{1..N}^B;  j ~ U{1..P}^B;  shift ~ U{1..K-1}^B;  j' ~ U{1..P}^B;  z ~ N(0, I)
        x = images[i];  t = caption j of class y_i;  t_wrong = caption j' of class (y_i + shift) mod K
        x~ = G(z, t)                                          (no gradient to G)
        one Adam step of D on L_D(l(x, t), l(x, t_wrong), l(x~, t))
        i', j'' ~ as above;  z fresh;  one Adam step of G on L_G(l(G(z, t'), t'))     (D frozen)
        every checkpoint_every steps: both nets, both optimisers, the generator's state, the history

K is the number of classes (at least 2: a wrong caption needs another class). The networks are built from
``seed`` on a forked copy of torch's global generator, so on the CPU the same seed gives bit-identical
weights and a run resumed from its checkpoint is bit for bit the run that was not interrupted.
"""
from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import captions as _captions
from . import checkpoint as _checkpoint
from . import checks, conditional, convnets, loop, losses, metrics, settings
from .data import ShapeClass
from .loop import StopTraining, TrainingDiverged

__all__ = ["TextToImageConfig", "TextToImageResult", "RESUMABLE_FIELDS", "build_networks", "caption_pool",
           "train_text_to_image", "generate", "match_logits", "mismatch_auroc", "StopTraining", "TrainingDiverged"]

# Fields that may differ between a checkpoint and the run that resumes it: they do not change the numbers.
RESUMABLE_FIELDS = ("steps", "progress", "checkpoint_every")
_TRAINER = "gan_lab.text_to_image.train_text_to_image"
_HISTORY = ("step", "loss_d", "loss_g", "d_real_right", "d_real_wrong", "d_fake_right", "seconds")
_CHECKPOINT_KEYS = ("history", "seconds")


@dataclass(frozen=True)
class TextToImageConfig:
    """Everything that defines a text-to-image run; checked on construction (``ValueError`` naming the bad value)."""

    size: int = 16                      # images are 3 x size x size; 16, 32 or 64
    width: int = 16                     # channels of the first critic / last generator block
    kind: str = "dcgan"                 # "dcgan" or "resnet" (convnets)
    critic_norm: str = "none"           # "none", "layer" or "spectral"
    noise_dim: int = 16                 # z
    text_dim: int = 16                  # h, the generator's caption embedding
    embed_dim: int = 16                 # word embeddings (both encoders)
    text_hidden: int = 64               # hidden units of each encoder's MLP
    matching_aware: bool = True         # GAN-CLS; False: the plain conditional GAN on captions
    captions_per_class: int = 256       # P: the run's caption pool per class
    steps: int = 1000                   # generator iterations
    batch_size: int = 32
    lr: float = 2e-4                    # Adam, both players (the paper's 0.0002)
    betas: tuple = (0.5, 0.999)         # (the paper's momentum 0.5)
    seed: int = 0
    log_every: int = 100
    checkpoint_every: int = 1000        # with a checkpoint_path; 0: only at the end
    progress: bool = True               # tqdm bar

    def __post_init__(self) -> None:
        if type(self.size) is not int or self.size not in convnets.SIZES:
            raise ValueError(f"size must be one of {convnets.SIZES}, got {self.size!r}")
        checks.choice("kind", self.kind, convnets.KINDS)
        checks.choice("critic_norm", self.critic_norm, convnets.NORMS)
        for name in ("width", "noise_dim", "text_dim", "embed_dim", "text_hidden", "captions_per_class", "steps",
                     "log_every"):
            checks.integer(name, getattr(self, name), 1)
        checks.integer("batch_size", self.batch_size, 2)       # the generator's batch norm needs two samples
        checks.integer("checkpoint_every", self.checkpoint_every, 0)
        checks.seed("seed", self.seed)
        checks.boolean("matching_aware", self.matching_aware)
        checks.boolean("progress", self.progress)
        checks.positive_number("lr", self.lr)
        # plain Python numbers from here on: the config goes into checkpoints
        object.__setattr__(self, "betas", checks.betas(self.betas))
        object.__setattr__(self, "lr", float(self.lr))
        for name in ("width", "noise_dim", "text_dim", "embed_dim", "text_hidden", "captions_per_class", "steps",
                     "batch_size", "seed", "log_every", "checkpoint_every"):
            object.__setattr__(self, name, int(getattr(self, name)))


class _Text(_captions.CaptionEncoder):
    """A ``CaptionEncoder`` with the ``dim`` that ``conditional``'s wrappers read (its out_dim)."""

    @property
    def dim(self) -> int:
        return self.out_dim


def build_networks(config: TextToImageConfig) -> tuple[conditional.ConditionalGenerator, conditional.ProjectionCritic]:
    """The untrained (G, D) of ``config`` (module docstring), drawn in that order from ``config.seed`` (plus the
    seed offset) on a forked copy of torch's global generator, which is left where it was."""
    if not isinstance(config, TextToImageConfig):
        raise ValueError(f"config must be a TextToImageConfig, got {type(config).__name__}")
    vocab = len(_captions.WORDS)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.shifted_seed(config.seed))
        g0 = convnets.generator_for(config.kind, config.noise_dim + config.text_dim, config.size, config.width)
        G = conditional.ConditionalGenerator(g0, _Text(vocab, config.embed_dim, config.text_dim,
                                                       hidden=config.text_hidden))
        f = convnets.Critic(config.size, config.width, config.kind, config.critic_norm)
        D = conditional.ProjectionCritic(f, _Text(vocab, config.embed_dim, f.num_features, hidden=config.text_hidden))
    return G, D


def caption_pool(classes: Sequence[ShapeClass], per_class: int, *, seed: int) -> torch.Tensor:
    """Tokens (K, per_class, ``captions.MAX_LEN``) int64: ``per_class`` captions of each of the K classes
    (``captions.captions(classes, per_class, seed=seed)``, tokenised). Row [k, j] describes class k."""
    per_class = checks.integer("per_class", per_class, 1)
    texts = _captions.captions(classes, per_class, seed=seed)
    tokens, _ = _captions.tokenize(texts, max_len=_captions.MAX_LEN)
    return tokens.view(len(classes), per_class, _captions.MAX_LEN)


@dataclass
class TextToImageResult:
    """The trained ``generator`` and ``critic``, the ``config``, the ``classes`` of the training labels and
    the ``history`` (lists, one entry per log: step; loss_d, loss_g; d_real_right, d_real_wrong,
    d_fake_right: D's mean probability on each kind of pair of the critic step's batch (d_real_wrong is
    computed even when ``matching_aware`` is off: what a D that never saw wrong pairs makes of them);
    seconds of training so far), ``seconds`` (this call's training time), ``start_step`` (the step it
    resumed from) and ``stopped`` (``on_log`` raised ``StopTraining``)."""

    generator: conditional.ConditionalGenerator
    critic: conditional.ProjectionCritic
    config: TextToImageConfig
    classes: tuple
    history: dict = field(default_factory=dict)
    seconds: float = 0.0
    start_step: int = 0
    stopped: bool = False


def _check_data(images, labels, classes, size: int) -> tuple[torch.Tensor, torch.Tensor, tuple]:
    if not isinstance(images, torch.Tensor) or not images.is_floating_point() or images.dim() != 4 \
            or images.shape[0] == 0 or tuple(images.shape[1:]) != (3, size, size):
        got = f"{images.dtype} tensor of shape {tuple(images.shape)}" if isinstance(images, torch.Tensor) \
            else type(images).__name__
        raise ValueError(f"images must be a float tensor of shape (n, 3, {size}, {size}) in [-1, 1] with n > 0 "
                         f"(gan_lab.data.to_tensor makes one), got {got}")
    if not bool(torch.isfinite(images).all()):
        raise ValueError(f"images contain NaN or Inf (first at index {(~torch.isfinite(images)).nonzero()[0].tolist()})")
    lo, hi = float(images.min()), float(images.max())
    if lo < -1 or hi > 1:
        raise ValueError(f"images must lie in [-1, 1], got values in [{lo:.4g}, {hi:.4g}]")
    classes = tuple(classes) if isinstance(classes, (list, tuple)) else classes
    if not isinstance(classes, tuple) or len(classes) < 2 or not all(isinstance(c, ShapeClass) for c in classes):
        raise ValueError(f"classes must be a list of at least 2 ShapeClass (a wrong caption needs another class), "
                         f"got {classes!r:.80}")
    if isinstance(labels, np.ndarray):
        labels = torch.from_numpy(labels)
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.is_floating_point() \
            or labels.dtype == torch.bool or len(labels) != len(images):
        got = f"{labels.dtype} tensor of shape {tuple(labels.shape)}" if isinstance(labels, torch.Tensor) \
            else type(labels).__name__
        raise ValueError(f"labels must be an integer tensor of shape ({len(images)},), one class index per image, "
                         f"got {got}")
    if int(labels.min()) < 0 or int(labels.max()) >= len(classes):
        bad = labels[(labels < 0) | (labels >= len(classes))][0].item()
        raise ValueError(f"labels must be class indices in [0, {len(classes)}), got {bad}")
    return images, labels.to(torch.int64), classes


def _fingerprint(images: torch.Tensor, labels: torch.Tensor, classes: tuple) -> str:
    """SHA-256 of the images' float32 bytes, the labels and the class names: a checkpoint resumes only on the
    data it saw."""
    h = hashlib.sha256(repr((tuple(images.shape), [c.name for c in classes])).encode())
    h.update(images.detach().to("cpu", torch.float32).contiguous().view(torch.uint8).numpy().tobytes())
    h.update(labels.cpu().numpy().tobytes())
    return h.hexdigest()[:32]


def _step(loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def train_text_to_image(images: torch.Tensor, labels: Union[torch.Tensor, np.ndarray], classes: Sequence[ShapeClass],
                        config: Optional[TextToImageConfig] = None, *,
                        checkpoint_path: Optional[Union[str, "os.PathLike[str]"]] = None,
                        resume: Union[bool, str] = False,
                        on_log: Optional[Callable[[TextToImageResult], Optional[dict]]] = None,
                        device: Optional[Union[str, torch.device]] = None, **overrides) -> TextToImageResult:
    """Train a text-to-image GAN on ``images`` (float (n, 3, size, size) in [-1, 1]) whose image i shows
    ``classes[labels[i]]``; the captions are drawn from the classes (module docstring).

    ``config`` fields can be overridden by keyword (``train_text_to_image(x, y, classes, steps=50)``). With
    ``checkpoint_path`` the run is saved atomically every ``checkpoint_every`` steps and at the end;
    ``resume=True`` continues from that file bit for bit (same config except ``RESUMABLE_FIELDS``, same data,
    same seed offset), ``resume="auto"`` resumes if the file exists. ``on_log(result)`` is called at each log
    and may return a dict of extra numbers for the history, or raise ``StopTraining``. Everything is checked
    before any work (``ValueError``); a NaN/Inf loss at a log raises ``TrainingDiverged`` carrying the
    partial result.
    """
    cfg = loop.configure(config, TextToImageConfig, overrides)
    loop.check_on_log(on_log)
    images, labels, classes = _check_data(images, labels, classes, cfg.size)
    pool = caption_pool(classes, cfg.captions_per_class, seed=cfg.seed + settings.STREAMS["captions"])
    dev = settings.resolve_device(device)
    if resume not in (False, True, "auto") or (isinstance(resume, (int, float)) and not isinstance(resume, bool)):
        raise ValueError(f"resume must be True, False or 'auto', got {resume!r}")
    data_tag = _fingerprint(images, labels, classes)
    state = None
    if checkpoint_path is not None:
        checkpoint_path = _checkpoint.check_writable(checkpoint_path)
        if resume is True or (resume == "auto" and os.path.exists(checkpoint_path)):
            state = loop.resume_state(checkpoint_path, cfg, trainer=_TRAINER, keys=_CHECKPOINT_KEYS,
                                      resumable=RESUMABLE_FIELDS, data=data_tag)
    elif resume is True:
        raise ValueError("resume=True needs a checkpoint_path")

    G, D = (net.to(dev) for net in build_networks(cfg))
    opt_g = loop.optimizer("adam", G.parameters(), cfg.lr, cfg.betas)
    opt_d = loop.optimizer("adam", D.parameters(), cfg.lr, cfg.betas)
    rng = settings.stream(cfg.seed, "train")
    run_state = loop.RunState({"generator": G, "critic": D, "opt_g": opt_g, "opt_d": opt_d}, [], rng, on_log)
    result = TextToImageResult(G, D, cfg, classes, {k: [] for k in _HISTORY})
    start, seconds_before = 0, 0.0
    if state is not None:
        start, seconds_before = loop.restore_run(run_state, state, checkpoint_path, result)
    data, y_all, tokens = images.detach().to(dev, torch.float32), labels.to(dev), pool.to(dev)
    N, B, K, P = len(data), cfg.batch_size, len(classes), cfg.captions_per_class

    def captions_of(y: torch.Tensor) -> torch.Tensor:
        """One caption of class y_b from the pool for each b: tokens (B, MAX_LEN)."""
        return tokens[y, torch.randint(P, (len(y),), generator=rng).to(dev)]

    def save(step: int, elapsed: float) -> None:
        if not all(bool(torch.isfinite(p).all()) for net in (G, D) for p in net.parameters()):
            raise TrainingDiverged(f"training diverged by generator step {step}: the networks hold NaN or infinite "
                                   f"weights, so {checkpoint_path!r} was not overwritten (lower lr)", result)
        _checkpoint.save_checkpoint(checkpoint_path, run_state.state(
            trainer=_TRAINER, step=step, config=asdict(cfg), data=data_tag, seed_offset=settings.seed_offset(),
            history=result.history, seconds=elapsed))

    G.train(), D.train()
    begin = time.perf_counter()
    bar = tqdm(range(start + 1, cfg.steps + 1), initial=start, total=cfg.steps, disable=not cfg.progress,
               desc="GAN-CLS" if cfg.matching_aware else "text-conditional GAN", leave=False)
    for step in bar:
        # ---- discriminator: right pairs real; wrong captions and fakes fake ------------------------------
        idx = torch.randint(N, (B,), generator=rng).to(dev)
        y = y_all[idx]
        right = captions_of(y)
        shift = torch.randint(1, K, (B,), generator=rng).to(dev)
        wrong = captions_of((y + shift) % K)
        z = torch.randn(B, cfg.noise_dim, generator=rng).to(dev)
        real = data[idx]
        with torch.no_grad():
            fake = G(z, right)
        # one pass over the three kinds of pairs (l_wrong also in the plain GAN: its history shows it)
        l_right, l_wrong, l_fake = D(torch.cat([real, real, fake]), torch.cat([right, wrong, right])).split(B)
        if cfg.matching_aware:
            loss_d = losses.matching_aware_discriminator_loss(l_right, l_wrong, l_fake)
        else:
            loss_d = losses.discriminator_loss(l_right, l_fake)
        _step(loss_d, opt_d)

        # ---- generator: -E log D(G(z, t), t), D frozen ---------------------------------------------------
        t = captions_of(y_all[torch.randint(N, (B,), generator=rng).to(dev)])
        z = torch.randn(B, cfg.noise_dim, generator=rng).to(dev)
        D.requires_grad_(False)
        loss_g = losses.generator_loss(D(G(z, t), t), "non_saturating")
        _step(loss_g, opt_g)
        D.requires_grad_(True)

        # ---- bookkeeping ----------------------------------------------------------------------------------
        last = step == cfg.steps
        if step % cfg.log_every == 0 or last:
            hist = result.history
            values = {"loss_d": float(loss_d.detach()), "loss_g": float(loss_g.detach()),
                      "d_real_right": float(torch.sigmoid(l_right.detach()).mean()),
                      "d_real_wrong": float(torch.sigmoid(l_wrong.detach()).mean()),
                      "d_fake_right": float(torch.sigmoid(l_fake.detach()).mean())}
            hist["step"].append(step)
            for key, value in values.items():
                hist[key].append(value)
            hist["seconds"].append(seconds_before + time.perf_counter() - begin)
            bar.set_postfix(d_wrong=f"{values['d_real_wrong']:.2f}", refresh=False)
            result.seconds = time.perf_counter() - begin
            if not all(math.isfinite(values[k]) for k in ("loss_d", "loss_g")):
                raise TrainingDiverged(f"training diverged at generator step {step}: discriminator loss "
                                       f"{values['loss_d']:.4g}, generator loss {values['loss_g']:.4g} (lower lr)",
                                       result)
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
    G.eval(), D.eval()
    return result


# ---- using a trained run ----------------------------------------------------------------------------------

def _check_result(result) -> None:
    if not isinstance(result, TextToImageResult):
        raise ValueError(f"result must be a TextToImageResult (from train_text_to_image), got {type(result).__name__}")


def _tokens(texts: Sequence[str]) -> torch.Tensor:
    return _captions.tokenize(texts, max_len=_captions.MAX_LEN)[0]


@torch.no_grad()
def generate(result: TextToImageResult, texts: Sequence[str], *, seed: int) -> torch.Tensor:
    """Images G(z, t) in [-1, 1], (len(texts), 3, size, size) on the CPU, one per caption, z ~ N(0, I) from
    ``settings.rng(seed)``, batch norm in eval mode. Any caption of the vocabulary works, including one of a
    class the run never trained on ("does it compose words it never saw together?")."""
    _check_result(result)
    tokens = _tokens(texts)
    seed = checks.seed("seed", seed)
    G = result.generator
    device = next(G.parameters()).device
    z = torch.randn(len(tokens), G.noise_dim, generator=settings.rng(seed)).to(device)
    was_training = G.training
    G.eval()
    try:
        return G(z, tokens.to(device)).float().cpu()
    finally:
        G.train(was_training)


@torch.no_grad()
def match_logits(result: TextToImageResult, images: torch.Tensor, texts: Sequence[str], *,
                 batch_size: int = 256) -> torch.Tensor:
    """l(x_i, t_i) for each pair (image i, caption i): D's logit that the image is real *and* shows the
    caption, (n,) on the CPU."""
    _check_result(result)
    size = result.config.size
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or tuple(images.shape[1:]) != (3, size, size):
        raise ValueError(f"images must be a tensor of shape (n, 3, {size}, {size}), got "
                         f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}")
    tokens = _tokens(texts)
    if len(tokens) != len(images):
        raise ValueError(f"{len(images)} images but {len(tokens)} captions: one caption per image")
    batch_size = checks.integer("batch_size", batch_size, 1)
    D = result.critic
    device = next(D.parameters()).device
    was_training = D.training
    D.eval()
    try:
        return torch.cat([D(images[i:i + batch_size].to(device, torch.float32), tokens[i:i + batch_size].to(device))
                          .float().cpu() for i in range(0, len(images), batch_size)])
    finally:
        D.train(was_training)


def mismatch_auroc(result: TextToImageResult, images: torch.Tensor, labels: Union[torch.Tensor, np.ndarray],
                   classes: Sequence[ShapeClass], *, seed: int) -> float:
    """How well D tells matching from mismatched pairs: the AUROC of l(x, t) over (x, a caption of x's class)
    against (x, a caption of another class), on ``images`` of ``classes[labels[i]]`` with fresh wordings from
    ``seed`` (``captions.captions_for`` / ``captions.wrong_captions``). 1: every right pair scores above every
    wrong one; 0.5: D ignores the text."""
    _check_result(result)
    if isinstance(labels, torch.Tensor):
        labels = labels.tolist()
    seed = checks.seed("seed", seed)
    right = _captions.captions_for(classes, labels, seed=seed)
    wrong = _captions.wrong_captions(classes, labels, seed=seed + 1)
    return metrics.auroc(match_logits(result, images, right), match_logits(result, images, wrong))
