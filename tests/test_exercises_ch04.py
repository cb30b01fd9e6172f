"""gan_lab.exercises.ch04: each check passes a correct answer, says "not attempted" for a fresh
stub and returns False, and raises AssertionError on planted wrong answers."""

import pytest
import torch
from torch import nn

from gan_lab import estimate, nets
from gan_lab.exercises import ch04


# ---- reference answers and planted mistakes -----------------------------------------------------------

def clip(module, c):
    with torch.no_grad():
        for p in module.parameters():
            p.clamp_(-c, c)


def clip_weights_only(module, c):
    """Leaves the biases alone."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "bias" not in name:
                p.clamp_(-c, c)


def clip_a_copy(module, c):
    """Returns a clipped copy; the module the optimizer trains is untouched."""
    import copy
    out = copy.deepcopy(module)
    clip(out, c)
    return out


def clip_to_positive(module, c):
    with torch.no_grad():
        for p in module.parameters():
            p.clamp_(0, c)


def clip_by_scaling(module, c):
    """Shrinks each tensor until its largest entry is c: inside the box, but not clamping."""
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(c / p.abs().max().clamp_min(c))


def clipped_step(critic, optimizer, real, fake, c):
    optimizer.zero_grad()
    f_real, f_fake = critic(real), critic(fake.detach())
    loss = f_fake.mean() - f_real.mean()
    loss.backward()
    optimizer.step()
    clip(critic, c)
    return -loss.item()


def clipped_step_without_detach(critic, optimizer, real, fake, c):
    """Lets the gradient run on into the generator: harmless to the critic's update."""
    optimizer.zero_grad()
    loss = critic(fake).mean() - critic(real).mean()
    loss.backward()
    optimizer.step()
    clip(critic, c)
    return -loss.item()


def clipped_step_sign_flipped(critic, optimizer, real, fake, c):
    optimizer.zero_grad()
    estimate_ = critic(real).mean() - critic(fake.detach()).mean()
    estimate_.backward()                       # minimises the estimate instead of maximising it
    optimizer.step()
    clip(critic, c)
    return estimate_.item()


def clipped_step_clip_first(critic, optimizer, real, fake, c):
    clip(critic, c)
    optimizer.zero_grad()
    loss = critic(fake.detach()).mean() - critic(real).mean()
    loss.backward()
    optimizer.step()
    return -loss.item()


def clipped_step_no_zero_grad(critic, optimizer, real, fake, c):
    loss = critic(fake.detach()).mean() - critic(real).mean()
    loss.backward()                            # adds to the previous step's gradients
    optimizer.step()
    clip(critic, c)
    return -loss.item()


def clipped_step_estimate_after(critic, optimizer, real, fake, c):
    clipped_step(critic, optimizer, real, fake, c)
    with torch.no_grad():
        return (critic(real).mean() - critic(fake).mean()).item()


def upper_bound(mlp):
    bound = 1.0
    for layer in mlp.modules():
        if isinstance(layer, nn.Linear):
            bound *= torch.linalg.matrix_norm(layer.weight.detach(), ord=2).item()
    return bound


def upper_bound_frobenius(mlp):
    bound = 1.0
    for layer in mlp.modules():
        if isinstance(layer, nn.Linear):
            bound *= layer.weight.detach().norm().item()
    return bound


def upper_bound_largest_entry(mlp):
    bound = 1.0
    for layer in mlp.modules():
        if isinstance(layer, nn.Linear):
            bound *= layer.weight.detach().abs().max().item()
    return bound


def upper_bound_without_last_layer(mlp):
    layers = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
    bound = 1.0
    for layer in layers[:-1]:
        bound *= torch.linalg.matrix_norm(layer.weight.detach(), ord=2).item()
    return bound


def upper_bound_sum(mlp):
    return sum(torch.linalg.matrix_norm(m.weight.detach(), ord=2).item()
               for m in mlp.modules() if isinstance(m, nn.Linear))


CHECKS = {
    "clip weights": (ch04.check_clip_weights, clip,
                     [clip_weights_only, clip_a_copy, clip_to_positive, clip_by_scaling]),
    "clipped critic step": (ch04.check_clipped_critic_step, clipped_step,
                            [clipped_step_sign_flipped, clipped_step_clip_first, clipped_step_no_zero_grad,
                             clipped_step_estimate_after]),
    "lipschitz upper bound": (ch04.check_lipschitz_upper_bound, upper_bound,
                              [upper_bound_frobenius, upper_bound_largest_entry, upper_bound_without_last_layer,
                               upper_bound_sum]),
}


def test_not_detaching_fake_is_fine():
    assert ch04.check_clipped_critic_step(clipped_step_without_detach) is True


def test_answers_may_return_floats_or_zero_dim_tensors():
    assert ch04.check_lipschitz_upper_bound(lambda m: torch.tensor(upper_bound(m))) is True

    def step_returning_tensor(*args):
        return torch.tensor(clipped_step(*args))
    assert ch04.check_clipped_critic_step(step_returning_tensor) is True


def test_a_wrong_answer_says_what_differed():
    with pytest.raises(AssertionError, match="biases included"):
        ch04.check_clip_weights(clip_weights_only)
    with pytest.raises(AssertionError, match="still outside"):
        ch04.check_clip_weights(clip_a_copy)
    with pytest.raises(AssertionError, match="differs from clamping"):
        ch04.check_clip_weights(clip_by_scaling)
    with pytest.raises(AssertionError, match="return None"):
        ch04.check_clip_weights(lambda m, c: clip(m, c) or m)
    with pytest.raises(AssertionError, match="clip after optimizer.step"):
        ch04.check_clipped_critic_step(clipped_step_clip_first)
    with pytest.raises(AssertionError, match="critic step 2 of 2.*zeroed"):
        ch04.check_clipped_critic_step(clipped_step_no_zero_grad)
    with pytest.raises(AssertionError, match="before the update"):
        ch04.check_clipped_critic_step(clipped_step_estimate_after)
    with pytest.raises(AssertionError, match="3 sqrt 2"):
        ch04.check_lipschitz_upper_bound(upper_bound_frobenius)


def test_replacing_the_parameters_fails():
    def rebuild(module, c):
        for sub in module.modules():
            for name, p in list(sub.named_parameters(recurse=False)):
                setattr(sub, name, nn.Parameter(p.detach().clamp(-c, c)))

    with pytest.raises(AssertionError, match="in place"):
        ch04.check_clip_weights(rebuild)


def test_changing_the_batches_or_the_network_fails():
    def step_that_edits_real(critic, optimizer, real, fake, c):
        value = clipped_step(critic, optimizer, real, fake, c)
        real.add_(1.0)
        return value

    with pytest.raises(AssertionError, match="modified"):
        ch04.check_clipped_critic_step(step_that_edits_real)

    def bound_that_clips(mlp):
        clip(mlp, 0.01)
        return upper_bound(mlp)

    with pytest.raises(AssertionError, match="changed"):
        ch04.check_lipschitz_upper_bound(bound_that_clips)


def test_the_bound_is_above_every_gradient_norm():
    """A property of the reference answer: ||grad f(x)|| <= prod ||W_l||_2 at every point."""
    g = torch.Generator().manual_seed(0)
    for seed, (dim, width, depth) in enumerate([(2, 16, 2), (5, 8, 3), (2, 64, 1), (3, 4, 4)]):
        torch.manual_seed(seed)
        f = nets.critic(dim, width=width, depth=depth).double()
        x = torch.randn(2000, dim, generator=g, dtype=torch.float64) * 3
        steepest = estimate.input_gradient(f, x).norm(dim=1).max().item()
        assert 0 < steepest <= upper_bound(f) * (1 + 1e-12)
    # a linear map: the bound is attained
    lin = nets.critic(2, depth=0).double()
    x = torch.randn(10, 2, generator=g, dtype=torch.float64)
    assert estimate.input_gradient(lin, x).norm(dim=1).max().item() == pytest.approx(upper_bound(lin), rel=1e-12)
