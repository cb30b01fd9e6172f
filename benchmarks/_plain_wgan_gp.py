"""The textbook WGAN-GP loop on 8 Gaussians, written directly against torch, shared by the benchmarks.

The WGAN-GP paper's toy settings: generator and critic of 3 hidden layers of 512 ReLU units, batch 256,
5 critic steps per generator step, penalty weight 0.1, Adam lr 1e-4 with betas (0.5, 0.9), 2-D noise.
"""
from __future__ import annotations

import torch
from torch import nn

import gan_lab as gl

BATCH, N_CRITIC, LAM, LR, BETAS, WIDTH, NOISE = 256, 5, 0.1, 1e-4, (0.5, 0.9), 512, 2

SETTINGS = dict(width=WIDTH, depth=3, batch_size=BATCH, n_critic=N_CRITIC, penalty_weight=LAM, lr_g=LR, lr_d=LR,
                betas=BETAS, noise_dim=NOISE)


def plain_mlp(in_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, WIDTH), nn.ReLU(), nn.Linear(WIDTH, WIDTH), nn.ReLU(),
                         nn.Linear(WIDTH, WIDTH), nn.ReLU(), nn.Linear(WIDTH, out_dim))


class PlainLoop:
    """The textbook WGAN-GP loop, written directly against torch."""

    def __init__(self, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.G, self.D = plain_mlp(NOISE, 2), plain_mlp(2, 1)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=LR, betas=BETAS)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=LR, betas=BETAS)
        self.rng = torch.Generator().manual_seed(seed)

    def iteration(self) -> None:
        G, D = self.G, self.D
        for p in D.parameters():
            p.requires_grad_(True)
        for _ in range(N_CRITIC):
            real = gl.data.sample("8gaussians", BATCH, generator=self.rng)
            with torch.no_grad():
                fake = G(torch.randn(BATCH, NOISE, generator=self.rng))
            eps = torch.rand(BATCH, 1, generator=self.rng)
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            grad, = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
            penalty = ((grad.norm(2, dim=1) - 1) ** 2).mean()
            loss_d = D(fake).mean() - D(real).mean() + LAM * penalty
            self.opt_d.zero_grad()
            loss_d.backward()
            self.opt_d.step()
        for p in D.parameters():
            p.requires_grad_(False)
        loss_g = -D(G(torch.randn(BATCH, NOISE, generator=self.rng))).mean()
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
