"""Sample quality for the image chapters: a small shapes classifier, and FID / KID in its feature space.

FID and KID compare two sets of images through a feature network phi: real images x_i and generated
images y_j become feature vectors phi(x_i), phi(y_j) in R^d and the two clouds are compared.

- FID (Heusel et al., 2017) fits a Gaussian to each cloud, N(mu_r, Sigma_r) and N(mu_g, Sigma_g), and
  takes their squared Frechet (Wasserstein-2) distance
  ||mu_r - mu_g||^2 + Tr(Sigma_r + Sigma_g - 2 (Sigma_r Sigma_g)^{1/2}).
- KID (Binkowski et al., 2018) is the unbiased estimate of the squared maximum mean discrepancy with the
  cubic polynomial kernel k(u, v) = (u.v / d + 1)^3, averaged over random subsets.

The papers use Inception-v3 trained on ImageNet as phi. Our images are procedurally drawn shapes, so phi
here is the penultimate layer of a small CNN trained to tell the shape classes apart
(``ShapesClassifier``): trained in seconds on a CPU, and its features respond to exactly what separates
the classes. The scores are therefore comparable between runs that share one trained classifier, not with
published Inception FIDs. The computation itself is torchmetrics' ``FrechetInceptionDistance`` and
``KernelInceptionDistance`` with the classifier plugged in as a custom feature extractor.

Images are passed either as float tensors (N, 3, H, W) with values in [-1, 1] (what a tanh generator
makes) or as uint8 arrays (N, H, W, 3) with values 0..255 (what ``data.shapes`` and ``data.shapes_dataset``
return).
"""
from __future__ import annotations

import warnings
from typing import Optional, Union

import numpy as np
import torch
from torch import nn

from .data import to_tensor
from . import checks, settings
from .settings import resolve_device

__all__ = ["ShapesClassifier", "train_classifier", "predict", "accuracy", "extract_features", "frechet_distance",
           "kernel_inception_distance"]

Images = Union[torch.Tensor, np.ndarray]


def _as_batch(name: str, images: Images) -> torch.Tensor:
    """``images`` as a float32 tensor (N, 3, H, W) in [-1, 1].

    uint8 (N, H, W, 3) go through ``data.to_tensor`` (x / 127.5 - 1); float (N, 3, H, W) must already lie
    in [-1, 1].
    """
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{name} must be a torch tensor or numpy array of images, got {type(images).__name__}")
    if images.dtype == torch.uint8:
        if images.dim() != 4 or images.shape[3] != 3 or images.shape[0] == 0:
            raise ValueError(f"uint8 {name} must have shape (N, H, W, 3) with N > 0, got {tuple(images.shape)}")
        return to_tensor(images)
    if not images.is_floating_point():
        raise ValueError(f"{name} must be uint8 (N, H, W, 3) or float (N, 3, H, W), got dtype {images.dtype}")
    if images.dim() != 4 or images.shape[1] != 3 or images.shape[0] == 0:
        raise ValueError(f"float {name} must have shape (N, 3, H, W) with N > 0, got {tuple(images.shape)}")
    if not torch.isfinite(images).all():
        raise ValueError(f"{name} contains NaN or Inf")
    lo, hi = images.min().item(), images.max().item()
    if lo < -1 - 1e-4 or hi > 1 + 1e-4:
        raise ValueError(f"float {name} must lie in [-1, 1], got values in [{lo:.4g}, {hi:.4g}]")
    return images.float()


def _as_labels(labels: Union[torch.Tensor, np.ndarray], n: int) -> torch.Tensor:
    if isinstance(labels, (str, bytes)):
        raise ValueError(f"labels must be integers, one per image, got a string {labels!r:.40}")
    try:
        lab = torch.as_tensor(labels)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"labels must be integers, one per image, got {labels!r:.60}") from None
    if lab.dtype in (torch.bool,) or lab.is_floating_point() or lab.is_complex():
        raise ValueError(f"labels must be integers, got dtype {lab.dtype}")
    if lab.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), one per image, got {tuple(lab.shape)}")
    if lab.min().item() < 0:
        raise ValueError(f"labels must be non-negative, got {lab.min().item()}")
    return lab.long()


class ShapesClassifier(nn.Module):
    """A small CNN on (N, 3, size, size) images in [-1, 1]: logits over ``n_classes`` shape classes.

    Stride-2 3x3 convolutions with LeakyReLU(0.2) halve the resolution from ``size`` down to 4x4 (channels
    ``width``, 2 ``width``, 4 ``width``, then 4 ``width``), a linear layer maps the flattened 4x4 map to
    ``num_features`` units (LeakyReLU), and a last linear layer gives the logits. ``features(x)`` is that
    penultimate layer, (N, ``num_features``): the feature space of FID and KID. No batch norm or dropout,
    so train and eval mode compute the same function. ``size`` must be a power of two, at least 8.
    """

    def __init__(self, n_classes: int, size: int = 64, width: int = 16, *, num_features: int = 64) -> None:
        super().__init__()
        n_classes = checks.integer("n_classes", n_classes, 1)
        width = checks.integer("width", width, 1)
        num_features = checks.integer("num_features", num_features, 1)
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 8 or size & (size - 1):
            raise ValueError(f"size must be a power of two, at least 8, got {size!r}")
        size = int(size)
        layers: list[nn.Module] = []
        c_in, res, k = 3, size, 0
        while res > 4:
            c_out = width * min(2 ** k, 4)
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in, res, k = c_out, res // 2, k + 1
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c_in * 16, num_features), nn.LeakyReLU(0.2))
        self.head = nn.Linear(num_features, n_classes)
        self.n_classes, self.size, self.width, self.num_features = n_classes, size, width, num_features

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or tuple(x.shape[1:]) != (3, self.size, self.size):
            raise ValueError(f"ShapesClassifier takes images of shape (N, 3, {self.size}, {self.size}), "
                             f"got {tuple(x.shape)}")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer phi(x), shape (N, ``num_features``)."""
        self._check(x)
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, shape (N, ``n_classes``)."""
        return self.head(self.features(x))


def train_classifier(images: Images, labels: Union[torch.Tensor, np.ndarray], *, size: Optional[int] = None,
                     n_classes: Optional[int] = None, epochs: int = 10, batch_size: int = 64, lr: float = 3e-3,
                     seed: int = 0, width: int = 16, num_features: int = 64,
                     device: "str | torch.device | None" = None) -> ShapesClassifier:
    """Train a ``ShapesClassifier`` by minimising the cross-entropy with Adam (lr ``lr``) for ``epochs``
    passes over (``images``, ``labels``) in shuffled mini-batches of ``batch_size``.

    ``size`` defaults to the images' side (and must equal it if given); ``n_classes`` to max label + 1.
    The initial weights and the shuffling both come from ``seed`` (the global random state is left as it
    was), so on the CPU the same seed gives the same weights. ``device`` defaults to
    ``settings.device()``. Returns the model in eval mode, on ``device``.
    """
    x = _as_batch("images", images)
    y = _as_labels(labels, len(x))
    if x.shape[2] != x.shape[3]:
        raise ValueError(f"images must be square, got {x.shape[2]}x{x.shape[3]}")
    if size is None:
        size = int(x.shape[2])
    elif size != x.shape[2]:
        raise ValueError(f"size={size!r} but the images are {x.shape[2]}x{x.shape[3]}")
    top = int(y.max().item()) + 1
    if n_classes is None:
        n_classes = top
    elif checks.integer("n_classes", n_classes, 1) < top:
        raise ValueError(f"label {top - 1} is out of range for n_classes={n_classes}")
    epochs = checks.integer("epochs", epochs, 1)
    batch_size = checks.integer("batch_size", batch_size, 1)
    lr = checks.positive_number("lr", lr)
    seed = checks.seed("seed", seed)
    dev = resolve_device(device)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.shifted_seed(int(seed)))
        model = ShapesClassifier(n_classes, size, width, num_features=num_features)
    model = model.to(dev).train()
    g = settings.rng(int(seed))
    x, y = x.to(dev), y.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g).to(dev)
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


def _device_of(net: nn.Module) -> torch.device:
    p = next(iter(net.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def _phi(net: nn.Module):
    f = getattr(net, "features", None)
    return f if callable(f) else net


@torch.no_grad()
def predict(model: nn.Module, images: Images, *, batch_size: int = 256) -> torch.Tensor:
    """arg max_k model(x)_k for each of ``images``: the classifier's labels, an int64 CPU tensor (n,), computed
    ``batch_size`` at a time in eval mode on the model's device (the model's mode is restored)."""
    x = _as_batch("images", images)
    batch_size = checks.integer("batch_size", batch_size, 1)
    dev, was_training = _device_of(model), model.training
    model.eval()
    try:
        return torch.cat([model(x[i:i + batch_size].to(dev)).argmax(dim=1).cpu()
                          for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)


@torch.no_grad()
def accuracy(model: nn.Module, images: Images, labels: Union[torch.Tensor, np.ndarray], *,
             batch_size: int = 256) -> float:
    """The fraction of ``images`` whose arg-max logit under ``model`` (``predict``) is their label."""
    x = _as_batch("images", images)
    y = _as_labels(labels, len(x))
    return float((predict(model, x, batch_size=batch_size) == y).double().mean())


@torch.no_grad()
def extract_features(feature_net: nn.Module, images: Images, *, batch_size: int = 256) -> torch.Tensor:
    """phi(images) as a float64 CPU tensor (N, d): ``feature_net.features`` if it has one, else its forward.

    Runs in eval mode (the net's mode is restored afterwards) on the net's device, ``batch_size`` at a time.
    """
    x = _as_batch("images", images)
    batch_size = checks.integer("batch_size", batch_size, 1)
    return _features(feature_net, x, batch_size)


def _features(net: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    dev, was_training, phi = _device_of(net), net.training, _phi(net)
    net.eval()
    try:
        with torch.no_grad():
            out = torch.cat([phi(x[i:i + batch_size].to(dev)).reshape(min(batch_size, len(x) - i), -1)
                             .double().cpu() for i in range(0, len(x), batch_size)])
    finally:
        net.train(was_training)
    return out


class _TorchmetricsFeatures(nn.Module):
    """Adapter handing torchmetrics phi(x) as float64 CPU features (N, d), with the ``num_features`` it asks for.

    float64 so that KID's kernel sums are done in double precision (FID's moments always are); CPU so the
    metric's state tensors, which live on the CPU, match.
    """

    def __init__(self, net: nn.Module, num_features: int) -> None:
        super().__init__()
        self.net, self.num_features = net, num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _features(self.net, x, len(x))


def _pair(real: Images, fake: Images, feature_net: nn.Module, min_n: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    if not isinstance(feature_net, nn.Module):
        raise ValueError(f"feature_net must be a torch.nn.Module, got {type(feature_net).__name__}")
    r, f = _as_batch("real", real), _as_batch("fake", fake)
    if r.shape[1:] != f.shape[1:]:
        raise ValueError(f"real and fake images differ in shape: {tuple(r.shape[1:])} vs {tuple(f.shape[1:])}")
    for name, t in (("real", r), ("fake", f)):
        if len(t) < min_n:
            raise ValueError(f"{name} needs at least {min_n} images, got {len(t)}")
    d = getattr(feature_net, "num_features", None)
    if isinstance(d, torch.Tensor):
        d = int(d.item())
    if not isinstance(d, int):
        d = _features(feature_net, r[:1], 1).shape[1]
    return r, f, d


def _update(metric, r: torch.Tensor, f: torch.Tensor, batch_size: int) -> None:
    for t, is_real in ((r, True), (f, False)):
        for i in range(0, len(t), batch_size):
            metric.update(t[i:i + batch_size], real=is_real)


def frechet_distance(real: Images, fake: Images, feature_net: nn.Module, *, batch_size: int = 256) -> float:
    """FID in the feature space of ``feature_net``: the squared Frechet distance of Gaussian fits,

        FID = ||mu_r - mu_g||^2 + Tr(Sigma_r + Sigma_g - 2 (Sigma_r Sigma_g)^{1/2}),

    with mu, Sigma the sample mean and (unbiased, 1/(n-1)) covariance of phi over the ``real`` and over the
    ``fake`` images. torchmetrics' ``FrechetInceptionDistance`` accumulates the moments in float64 and
    takes the trace of the square root as the sum of sqrt(eigenvalues of Sigma_r Sigma_g). FID >= 0, is 0
    for identical feature moments, and is biased upwards for small samples (compare like sample sizes).
    Each set needs at least 2 images; with fewer images than features the covariances are singular
    (still defined, but noisy).
    """
    from torchmetrics.image.fid import FrechetInceptionDistance  # imported here: it costs ~1 s

    batch_size = checks.integer("batch_size", batch_size, 1)
    r, f, d = _pair(real, fake, feature_net, 2)
    metric = FrechetInceptionDistance(feature=_TorchmetricsFeatures(feature_net, d), normalize=True)
    _update(metric, r, f, batch_size)
    return float(metric.compute())


def kernel_inception_distance(real: Images, fake: Images, feature_net: nn.Module, *, subsets: int = 100,
                              subset_size: Optional[int] = None, seed: int = 0,
                              batch_size: int = 256) -> tuple[float, float]:
    """KID in the feature space of ``feature_net``: (mean, std) over ``subsets`` random subsets.

    Each subset draws m = ``subset_size`` real features x_1..x_m and m fake features y_1..y_m (without
    replacement) and takes the unbiased estimate of MMD^2 with k(u, v) = (u.v / d + 1)^3, d = feature size:

        MMD^2 = 1/(m(m-1)) sum_{i != j} [k(x_i, x_j) + k(y_i, y_j)] - 2/m^2 sum_{i, j} k(x_i, y_j).

    The estimate is unbiased, so it can dip below 0 when the two distributions are the same. The mean over
    subsets is KID; the std is the population standard deviation of the subset values (torchmetrics'
    ``KernelInceptionDistance``). ``subset_size`` defaults to min(1000, n_real, n_fake); the subsets come
    from ``seed`` (the global random state is left as it was), so the result is reproducible.
    """
    from torchmetrics.image.kid import KernelInceptionDistance  # imported here: it costs ~1 s

    subsets = checks.integer("subsets", subsets, 1)
    batch_size = checks.integer("batch_size", batch_size, 1)
    seed = checks.seed("seed", seed)
    if subset_size is not None:
        subset_size = checks.integer("subset_size", subset_size, 2)
    r, f, d = _pair(real, fake, feature_net, 2)
    n = min(len(r), len(f))
    if subset_size is None:
        subset_size = min(1000, n)
    elif subset_size > n:
        raise ValueError(f"subset_size={subset_size} exceeds the smaller sample ({len(r)} real, {len(f)} fake)")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        metric = KernelInceptionDistance(feature=_TorchmetricsFeatures(feature_net, d), subsets=subsets,
                                         subset_size=int(subset_size), normalize=True)
    _update(metric, r, f, batch_size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.shifted_seed(int(seed)))
        mean, std = metric.compute()
    return float(mean), float(std)
