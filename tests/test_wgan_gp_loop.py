"""The assignment "A loop of their own" (book/assignments/wgan_gp_loop.ipynb): the visible checks keep the
exercise contract (correct -> True, stub -> "not attempted" and False, planted mistake -> AssertionError), and
the hidden tests (classroom/hidden/wgan_gp_loop.py) pass the reference answers and fail stubs, planted
mistakes and broken training loops, over the hidden test's seeds."""
import time

import pytest
import torch

import gan_lab as gl
from classroom.hidden import wgan_gp_loop as hidden
from gan_lab.exercises import wgan_gp_loop as checks


def stub(*args, **kwargs):
    raise NotImplementedError("your code here")


# ---- critic loss ---------------------------------------------------------------------------------------

def critic_loss(real_scores, fake_scores):
    return fake_scores.mean() - real_scores.mean()


def critic_loss_sign_swapped(real_scores, fake_scores):
    return real_scores.mean() - fake_scores.mean()


def critic_loss_wrong_axis(real_scores, fake_scores):
    return fake_scores.mean(dim=-1) - real_scores.mean(dim=-1)


def critic_loss_summed(real_scores, fake_scores):
    return fake_scores.sum() - real_scores.sum()


def critic_loss_as_float(real_scores, fake_scores):
    return (fake_scores.mean() - real_scores.mean()).item()


def critic_loss_paired(real_scores, fake_scores):
    """Right when the batches have one size; breaks when they do not (caught by the hidden test only)."""
    return (fake_scores - real_scores).mean()


# ---- gradient penalty ----------------------------------------------------------------------------------

def _norms(critic, x_hat, create_graph=True, dim=1):
    x_hat = x_hat.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=create_graph)
    return grad.norm(dim=dim)


def _x_hat(real, fake, generator):
    eps = torch.rand(real.shape[0], 1, generator=generator)
    return eps * real.detach() + (1 - eps) * fake.detach()


def penalty(critic, real, fake, generator):
    return ((_norms(critic, _x_hat(real, fake, generator)) - 1) ** 2).mean()


def penalty_squared_norm(critic, real, fake, generator):
    """||grad||^2 averaged, without the - 1."""
    return (_norms(critic, _x_hat(real, fake, generator)) ** 2).mean()


def penalty_at_real_points(critic, real, fake, generator):
    torch.rand(real.shape[0], 1, generator=generator)
    return ((_norms(critic, real) - 1) ** 2).mean()


def penalty_wrong_axis(critic, real, fake, generator):
    """The norm over the batch (one per coordinate) instead of over each point's coordinates."""
    return ((_norms(critic, _x_hat(real, fake, generator), dim=0) - 1) ** 2).mean()


def penalty_without_create_graph(critic, real, fake, generator):
    return ((_norms(critic, _x_hat(real, fake, generator), create_graph=False) - 1) ** 2).mean()


def penalty_global_random_state(critic, real, fake, generator):
    eps = torch.rand(real.shape[0], 1)
    return ((_norms(critic, eps * real + (1 - eps) * fake) - 1) ** 2).mean()


def penalty_weight_per_coordinate(critic, real, fake, generator):
    eps = torch.rand(real.shape, generator=generator)
    return ((_norms(critic, eps * real + (1 - eps) * fake) - 1) ** 2).mean()


def penalty_not_detached(critic, real, fake, generator):
    """Right value; sends gradient into the generator behind fake (caught by the hidden test only)."""
    eps = torch.rand(real.shape[0], 1, generator=generator)
    x_hat = (eps * real + (1 - eps) * fake)
    if not x_hat.requires_grad:
        x_hat = x_hat.requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.norm(dim=1) - 1) ** 2).mean()


# ---- training loops: the reference and planted broken ones ----------------------------------------------

def make_loop(*, lam=0.1, critic_sign=1.0, generator_sign=1.0, n_critic=3, generator_holds_critic=False,
              clip=None, reseed=True, rng_order="gl.train"):
    """A WGAN-GP loop on 8 Gaussians with the assignment's settings, with one thing changed (or none)."""

    def train_wgan_gp(seed, steps, width=128):
        if reseed:
            gl.settings.seed_everything(seed)
        G, f = gl.nets.generator(2, 2, width=width), gl.nets.critic(2, width=width)
        opt_g = torch.optim.Adam((f if generator_holds_critic else G).parameters(), lr=1e-3, betas=(0.5, 0.9))
        opt_f = torch.optim.Adam(f.parameters(), lr=1e-3, betas=(0.5, 0.9))
        rng = gl.settings.rng(seed)
        weights = gl.settings.rng(seed + 1) if rng_order == "own" else rng
        for _ in range(steps):
            for _ in range(n_critic):
                if rng_order == "own":   # noise first, then data; the penalty's weights from a second stream
                    z = torch.randn(256, 2, generator=rng)
                    real = gl.data.sample("8gaussians", 256, generator=rng)
                else:
                    real = gl.data.sample("8gaussians", 256, generator=rng)
                    z = torch.randn(256, 2, generator=rng)
                fake = G(z).detach()
                loss = critic_sign * critic_loss(f(real), f(fake))
                if lam:
                    loss = loss + lam * penalty(f, real, fake, weights)
                opt_f.zero_grad()
                loss.backward()
                opt_f.step()
                if clip is not None:
                    gl.losses.clip_weights(f, clip)
            loss_g = -generator_sign * f(G(torch.randn(256, 2, generator=rng))).mean()
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
        return G

    return train_wgan_gp


train_wgan_gp = make_loop()


def returns_the_critic(seed, steps, width=128):
    gl.settings.seed_everything(seed)
    return gl.nets.critic(2, width=width)


BROKEN_LOOPS = {
    "no penalty": make_loop(lam=0.0),
    "critic loss sign swapped (critic not maximised)": make_loop(critic_sign=-1.0),
    "generator loss sign swapped": make_loop(generator_sign=-1.0),
    "generator step on the critic's parameters": make_loop(generator_holds_critic=True),
    "n_critic 0": make_loop(n_critic=0),
    "weight clipping (c = 0.01) instead of the penalty": make_loop(lam=0.0, clip=0.01),
}


# ---- visible checks: the contract ----------------------------------------------------------------------

VISIBLE = {
    "critic loss": (checks.check_critic_loss, critic_loss,
                    [critic_loss_sign_swapped, critic_loss_wrong_axis, critic_loss_summed, critic_loss_as_float]),
    "gradient penalty": (checks.check_gradient_penalty, penalty,
                         [penalty_squared_norm, penalty_at_real_points, penalty_wrong_axis,
                          penalty_without_create_graph, penalty_global_random_state, penalty_weight_per_coordinate]),
    "training loop": (checks.check_training_loop, train_wgan_gp,
                      [BROKEN_LOOPS["generator step on the critic's parameters"],
                       BROKEN_LOOPS["critic loss sign swapped (critic not maximised)"], returns_the_critic]),
}


@pytest.mark.parametrize("name", VISIBLE)
def test_a_correct_answer_passes_and_says_so(name, capsys):
    check, correct, _ = VISIBLE[name]
    assert check(correct) is True
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("name", VISIBLE)
def test_a_stub_is_not_attempted_and_returns_false(name, capsys):
    check, _, _ = VISIBLE[name]
    assert check(stub) is False
    assert "not attempted" in capsys.readouterr().out


@pytest.mark.parametrize("name, wrong", [(n, w) for n, (_, _, ws) in VISIBLE.items() for w in ws],
                         ids=lambda x: getattr(x, "__name__", x))
def test_a_planted_mistake_fails_the_visible_check(name, wrong):
    check, _, _ = VISIBLE[name]
    with pytest.raises(AssertionError):
        check(wrong)


def test_the_visible_loop_check_says_what_differed():
    with pytest.raises(AssertionError, match="did not learn"):
        checks.check_training_loop(BROKEN_LOOPS["generator step on the critic's parameters"])
    with pytest.raises(AssertionError, match="nn.Module mapping noise"):
        checks.check_training_loop(lambda seed, steps, width=128: (lambda z: z))


def test_the_penalty_check_names_the_generator_draw():
    with pytest.raises(AssertionError, match="generator=generator"):
        checks.check_gradient_penalty(penalty_global_random_state)


# ---- hidden tests ---------------------------------------------------------------------------------------

LOSS_LABEL, PENALTY_LABEL, LOOP_LABEL = ("wgan-gp-loop-ex-critic-loss", "wgan-gp-loop-ex-penalty",
                                         "wgan-gp-loop-ex-train")


def test_hidden_tests_cover_every_exercise_of_the_notebook():
    import json
    import re
    from pathlib import Path
    nb = json.loads((Path(__file__).parents[1] / "book/assignments/wgan_gp_loop.ipynb").read_text())
    labels = {m for c in nb["cells"] if c["cell_type"] == "markdown"
              for m in re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)", "".join(c["source"]))}
    assert labels == set(hidden.HIDDEN) == {LOSS_LABEL, PENALTY_LABEL, LOOP_LABEL}


def test_hidden_losses_pass_the_reference_answers():
    ns = {"critic_loss": critic_loss, "gradient_penalty": penalty}
    hidden.HIDDEN[LOSS_LABEL](ns)
    hidden.HIDDEN[PENALTY_LABEL](ns)


@pytest.mark.parametrize("label, name", [(LOSS_LABEL, "critic_loss"), (PENALTY_LABEL, "gradient_penalty"),
                                         (LOOP_LABEL, "train_wgan_gp")])
def test_hidden_tests_fail_a_stub_and_a_missing_answer(label, name):
    with pytest.raises(AssertionError, match="not attempted"):
        hidden.HIDDEN[label]({name: stub})
    with pytest.raises(AssertionError, match="not defined"):
        hidden.HIDDEN[label]({})


@pytest.mark.parametrize("wrong", [critic_loss_sign_swapped, critic_loss_wrong_axis, critic_loss_summed,
                                   critic_loss_as_float, critic_loss_paired], ids=lambda f: f.__name__)
def test_hidden_critic_loss_fails_planted_mistakes(wrong):
    with pytest.raises(AssertionError):
        hidden.HIDDEN[LOSS_LABEL]({"critic_loss": wrong})


def test_the_hidden_critic_loss_catches_what_the_visible_check_does_not():
    assert checks.check_critic_loss(critic_loss_paired) is True
    with pytest.raises(AssertionError, match="`critic_loss` raised RuntimeError"):
        hidden.HIDDEN[LOSS_LABEL]({"critic_loss": critic_loss_paired})


@pytest.mark.parametrize("wrong", [penalty_squared_norm, penalty_at_real_points, penalty_wrong_axis,
                                   penalty_without_create_graph, penalty_global_random_state,
                                   penalty_weight_per_coordinate, penalty_not_detached], ids=lambda f: f.__name__)
def test_hidden_penalty_fails_planted_mistakes(wrong):
    with pytest.raises(AssertionError):
        hidden.HIDDEN[PENALTY_LABEL]({"gradient_penalty": wrong})


def test_the_hidden_penalty_catches_what_the_visible_check_does_not():
    assert checks.check_gradient_penalty(penalty_not_detached) is True
    with pytest.raises(AssertionError, match="sends gradient into the generator"):
        hidden.HIDDEN[PENALTY_LABEL]({"gradient_penalty": penalty_not_detached})


def test_hidden_loop_passes_the_reference_within_a_minute(capsys):
    start = time.perf_counter()
    hidden.HIDDEN[LOOP_LABEL]({"train_wgan_gp": train_wgan_gp})
    seconds = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nhidden loop test on the reference: {seconds:.1f} s")
    assert seconds < 90   # 60 s on a free core; this machine's cores are shared


def test_hidden_loop_passes_a_correct_loop_that_draws_in_another_order():
    """Not gl.train's draw order, so not (nearly) gl.train's run: it must pass on quality alone."""
    hidden.HIDDEN[LOOP_LABEL]({"train_wgan_gp": make_loop(rng_order="own")})


def test_hidden_loop_reference_passes_with_margin():
    reference = hidden.reference_outcomes()
    for seed in hidden.SEEDS:
        w1, modes = hidden.evaluate(train_wgan_gp(seed, hidden.STEPS, width=hidden.WIDTH), seed, "reference")
        assert w1 <= reference[seed][0] + hidden.W1_TOLERANCE / 2, (seed, w1, reference[seed])
        assert modes >= hidden.MIN_MODES, (seed, modes)


@pytest.mark.parametrize("name", BROKEN_LOOPS)
def test_hidden_loop_fails_a_broken_loop(name):
    with pytest.raises(AssertionError, match="seeds"):
        hidden.HIDDEN[LOOP_LABEL]({"train_wgan_gp": BROKEN_LOOPS[name]})


def test_hidden_loop_fails_a_loop_that_is_not_reproducible():
    with pytest.raises(AssertionError, match="different generators"):
        hidden.HIDDEN[LOOP_LABEL]({"train_wgan_gp": make_loop(reseed=False)})
