"""gan_lab.loop (what both training loops share: configure, the on_log protocol, the optimisers, RunState)
and the named random streams of gan_lab.settings that both loops draw from."""
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from gan_lab import loop, nets, settings
from gan_lab.checkpoint import load_checkpoint, save_checkpoint
from gan_lab.images import ImageTrainConfig
from gan_lab.train import TrainConfig


@dataclass(frozen=True)
class Small:
    steps: int = 10
    lr: float = 0.1
    name: str = "a"


# ---- configure ------------------------------------------------------------------------------------------

def test_configure_with_no_config_gives_the_defaults_with_the_overrides():
    assert loop.configure(None, Small, {}) == Small()
    assert loop.configure(None, Small, {"steps": 3, "name": "b"}) == Small(steps=3, name="b")


def test_configure_applies_overrides_on_top_of_a_config_and_leaves_it_unchanged():
    base = Small(steps=5, lr=0.5)
    out = loop.configure(base, Small, {"lr": 0.25})
    assert out == Small(steps=5, lr=0.25) and base == Small(steps=5, lr=0.5)
    assert loop.configure(TrainConfig(steps=7), TrainConfig, {"batch_size": 32}) == TrainConfig(steps=7, batch_size=32)
    images = loop.configure(ImageTrainConfig(size=16), ImageTrainConfig, {"steps": 2})
    assert images == ImageTrainConfig(size=16, steps=2)


def test_configure_refuses_unknown_names_listing_them_and_the_known_ones():
    with pytest.raises(ValueError) as info:
        loop.configure(None, Small, {"stpes": 3, "lr": 0.2, "colour": 1})
    message = str(info.value)
    assert "['colour', 'stpes']" in message and "known: ['lr', 'name', 'steps']" in message


@pytest.mark.parametrize("config", [TrainConfig(), {"steps": 3}, "Small", 3])
def test_configure_refuses_a_config_of_another_type_naming_both_types(config):
    with pytest.raises(ValueError, match=rf"config must be a Small, got {type(config).__name__}"):
        loop.configure(config, Small, {})


def test_check_on_log_takes_none_or_a_callable_only():
    loop.check_on_log(None)
    loop.check_on_log(lambda result: None)
    with pytest.raises(ValueError, match=r"on_log must be a callable taking the result, got \{'a': 1\}"):
        loop.check_on_log({"a": 1})


# ---- log_extras ---------------------------------------------------------------------------------------

def test_log_extras_passes_the_result_and_keeps_plain_values_as_they_are():
    seen = []

    def on_log(result):
        seen.append(result)
        return {"i": 3, "x": 0.5, "s": "ok", "b": True, "nan": float("nan")}

    marker = object()
    extra, stop = loop.log_extras(on_log, marker, 7)
    assert seen == [marker] and stop is False
    assert list(extra) == ["i", "x", "s", "b", "nan"]
    assert [type(v) for v in extra.values()] == [int, float, str, bool, float]
    assert extra["i"] == 3 and extra["x"] == 0.5 and extra["s"] == "ok" and extra["b"] is True
    assert extra["nan"] != extra["nan"]


@pytest.mark.parametrize("value, expected", [(np.float32(1.5), 1.5), (np.float64(-2.25), -2.25), (np.int64(4), 4.0),
                                             (torch.tensor(0.75), 0.75), (torch.tensor([3.0]), 3.0),
                                             (torch.tensor(2, dtype=torch.int32), 2.0), (np.array(1.25), 1.25)])
def test_log_extras_converts_numpy_and_tensor_scalars_to_plain_floats(value, expected):
    extra, stop = loop.log_extras(lambda r: {"k": value}, None, 1)
    assert stop is False and type(extra["k"]) is float and extra["k"] == expected


def test_log_extras_values_can_be_saved_in_a_checkpoint(tmp_path):
    extra, _ = loop.log_extras(lambda r: {"a": np.float32(0.5), "b": torch.tensor(1.0)}, None, 1)
    save_checkpoint(tmp_path / "c.pt", {"history": extra})      # refuses anything but plain values
    assert load_checkpoint(tmp_path / "c.pt")["history"] == {"a": 0.5, "b": 1.0}


def test_log_extras_of_none_or_an_empty_dict_records_nothing():
    assert loop.log_extras(lambda r: None, None, 1) == ({}, False)
    assert loop.log_extras(lambda r: {}, None, 1) == ({}, False)


@pytest.mark.parametrize("returned", [[1.0], 3.0, "x", (("a", 1),)])
def test_log_extras_refuses_a_return_that_is_not_a_dict_naming_its_type_and_the_step(returned):
    with pytest.raises(ValueError) as info:
        loop.log_extras(lambda r: returned, None, 42)
    message = str(info.value)
    assert f"got {type(returned).__name__}" in message and "generator step 42" in message


@pytest.mark.parametrize("value", [None, [1.0], {"x": 1}, 1j, np.array([1.0, 2.0]), torch.tensor([1.0, 2.0]),
                                   object()])
def test_log_extras_refuses_a_value_that_is_not_a_number_or_a_string_naming_the_key(value):
    with pytest.raises(ValueError) as info:
        loop.log_extras(lambda r: {"good": 1.0, "bad_key": value}, None, 1)
    assert "'bad_key'" in str(info.value)


def test_log_extras_reports_stop_training_and_lets_other_errors_through():
    def stop(result):
        raise loop.StopTraining

    assert loop.log_extras(stop, None, 5) == ({}, True)

    def broken(result):
        raise KeyError("oops")

    with pytest.raises(KeyError):
        loop.log_extras(broken, None, 5)


def test_training_diverged_is_a_floating_point_error_carrying_the_result():
    marker = object()
    err = loop.TrainingDiverged("diverged at step 3", marker)
    assert isinstance(err, FloatingPointError) and err.result is marker and str(err) == "diverged at step 3"


# ---- optimizer ------------------------------------------------------------------------------------------

def _fused_adam_available() -> bool:
    try:
        torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.1, fused=True)
    except (RuntimeError, TypeError):
        return False
    return True


def test_adam_is_fused_on_the_cpu_where_torch_has_the_kernel_and_plain_with_fused_false():
    net = torch.nn.Linear(3, 2)
    fused = loop.optimizer("adam", net.parameters(), 1e-3, (0.5, 0.9))
    assert type(fused) is torch.optim.Adam
    assert bool(fused.defaults["fused"]) is _fused_adam_available()
    assert fused.defaults["lr"] == 1e-3 and fused.defaults["betas"] == (0.5, 0.9)
    plain = loop.optimizer("adam", net.parameters(), 2e-4, [0.0, 0.99], fused=False)
    assert type(plain) is torch.optim.Adam and not plain.defaults["fused"]
    assert plain.defaults["betas"] == (0.0, 0.99)
    assert len(plain.param_groups[0]["params"]) == 2


def test_adam_falls_back_to_the_plain_kernel_with_every_parameter_when_fused_is_refused(monkeypatch):
    real_adam = torch.optim.Adam

    def no_fused(params, **kw):
        if kw.get("fused"):
            list(params)                              # as torch does: the parameters are read, then refused
            raise RuntimeError("fused=True requires all the params to be floating point Tensors of supported devices")
        return real_adam(params, **kw)

    monkeypatch.setattr(torch.optim, "Adam", no_fused)
    net = torch.nn.Linear(3, 2)
    opt = loop.optimizer("adam", (p for p in net.parameters()), 1e-3)   # a one-shot generator of parameters
    assert not opt.defaults["fused"]
    assert [id(p) for p in opt.param_groups[0]["params"]] == [id(p) for p in net.parameters()]


def test_rmsprop_takes_the_rate_and_ignores_betas():
    net = torch.nn.Linear(3, 2)
    opt = loop.optimizer("rmsprop", net.parameters(), 5e-5, (0.5, 0.9))
    assert type(opt) is torch.optim.RMSprop and opt.defaults["lr"] == 5e-5
    assert len(opt.param_groups[0]["params"]) == 2


@pytest.mark.parametrize("kind", ["sgd", "Adam", None, True])
def test_an_unknown_optimizer_is_refused_naming_it(kind):
    with pytest.raises(ValueError, match=rf"unknown optimizer {kind!r}"):
        loop.optimizer(kind, torch.nn.Linear(1, 1).parameters(), 0.1)


# ---- RunState -------------------------------------------------------------------------------------------

def _players(seed: int):
    """A tiny generator and critic with an Adam (fused where possible) and an RMSProp, and a training stream."""
    torch.manual_seed(seed)
    G, D = nets.generator(2, 2, width=16, depth=2), nets.critic(2, width=16, depth=2)
    opt_g = loop.optimizer("adam", G.parameters(), 1e-3)
    opt_d = loop.optimizer("rmsprop", D.parameters(), 1e-3)
    return G, D, opt_g, opt_d, settings.rng(seed)


def _steps(G, D, opt_g, opt_d, rng, n: int) -> None:
    """n WGAN steps whose batches and noise come from rng."""
    for _ in range(n):
        real = torch.randn(32, 2, generator=rng) * 0.5 + 1.0
        z = torch.randn(32, 2, generator=rng)
        loss_d = D(G(z).detach()).mean() - D(real).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = -D(G(torch.randn(32, 2, generator=rng))).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()


def _run_state(G, D, opt_g, opt_d, rng, scalers=(None, None)):
    return loop.RunState({"generator": G, "critic": D, "opt_g": opt_g, "opt_d": opt_d}, list(scalers), rng)


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_run_state_keys_and_state_hold_every_module_the_scalers_the_rng_and_the_extras():
    G, D, opt_g, opt_d, rng = _players(0)
    rs = _run_state(G, D, opt_g, opt_d, rng)
    assert rs.keys() == ("generator", "critic", "opt_g", "opt_d", "scalers", "rng")
    state = rs.state(step=3, history={"step": [1]})
    assert set(state) == {*rs.keys(), "step", "history"}
    assert state["scalers"] == [None, None] and state["step"] == 3
    assert torch.equal(state["rng"], rng.get_state())
    for key, value in G.state_dict().items():
        assert torch.equal(state["generator"][key], value)


def test_continuing_after_restore_equals_the_uninterrupted_run_bit_for_bit(tmp_path):
    whole = _players(0)
    _steps(*whole, 6)

    first = _players(0)
    _steps(*first, 3)
    save_checkpoint(tmp_path / "c.pt", _run_state(*first).state(step=3))
    _steps(*first, 1)                                 # the interrupted process trains on: must not matter

    fresh = _players(1)                               # another process: other weights, other stream position
    _run_state(*fresh).restore(load_checkpoint(tmp_path / "c.pt"))
    _steps(*fresh, 3)
    for a, b in ((whole[0], fresh[0]), (whole[1], fresh[1])):
        assert_same_weights(a, b)
    for opt_a, opt_b in ((whole[2], fresh[2]), (whole[3], fresh[3])):
        sa, sb = opt_a.state_dict()["state"], opt_b.state_dict()["state"]
        assert sa.keys() == sb.keys()
        for k in sa:
            for name in sa[k]:
                assert torch.equal(sa[k][name], sb[k][name]), (k, name)
    assert torch.equal(whole[4].get_state(), fresh[4].get_state())


def test_restore_without_the_optimisers_state_does_not_continue_the_same_run(tmp_path):
    """The round trip above is not vacuous: restoring the networks and the stream but not Adam's moments
    gives other weights."""
    whole = _players(0)
    _steps(*whole, 6)
    first = _players(0)
    _steps(*first, 3)
    saved = _run_state(*first).state()
    fresh = _players(1)
    fresh[0].load_state_dict(saved["generator"])
    fresh[1].load_state_dict(saved["critic"])
    fresh[4].set_state(saved["rng"])
    _steps(*fresh, 3)
    assert not all(torch.equal(a, b) for a, b in zip(whole[0].parameters(), fresh[0].parameters()))


def test_restore_loads_the_grad_scalers():
    G, D, opt_g, opt_d, rng = _players(0)
    scaler = torch.amp.GradScaler("cpu", init_scale=8.0, growth_interval=7)
    saved = _run_state(G, D, opt_g, opt_d, rng, [scaler, None]).state()
    other = torch.amp.GradScaler("cpu", init_scale=1024.0)
    _run_state(*_players(1), [other, None]).restore(saved)
    assert other.state_dict() == scaler.state_dict() and other.get_scale() == 8.0


def test_restore_loads_networks_first_so_a_shape_mismatch_changes_nothing_else():
    G, D, opt_g, opt_d, rng = _players(0)
    _steps(G, D, opt_g, opt_d, rng, 2)
    saved = _run_state(G, D, opt_g, opt_d, rng).state()
    torch.manual_seed(5)
    G2, D2 = nets.generator(2, 2, width=16, depth=2), nets.critic(2, width=8, depth=2)   # the critic does not fit
    opt_g2 = loop.optimizer("adam", G2.parameters(), 1e-3)
    opt_d2 = loop.optimizer("rmsprop", D2.parameters(), 1e-3)
    rng2 = settings.rng(9)
    before_opt = opt_g2.state_dict()
    before_rng = rng2.get_state().clone()
    # optimisers listed first: restore must still load the networks before them
    state = loop.RunState({"opt_g": opt_g2, "opt_d": opt_d2, "generator": G2, "critic": D2}, [None, None], rng2)
    with pytest.raises(RuntimeError, match="size mismatch"):
        state.restore(saved)
    assert opt_g2.state_dict() == before_opt
    assert torch.equal(rng2.get_state(), before_rng)


# ---- settings.stream: the named random streams ---------------------------------------------------------

def _draws(g: torch.Generator) -> torch.Tensor:
    return torch.rand(8, generator=g)


@pytest.mark.parametrize("name", list(settings.STREAMS))
@pytest.mark.parametrize("seed, step", [(0, 0), (3, 0), (3, 17)])
def test_stream_is_rng_of_seed_plus_the_streams_offset_plus_step(name, seed, step):
    expected = _draws(settings.rng(seed + settings.STREAMS[name] + step))
    assert torch.equal(_draws(settings.stream(seed, name, step)), expected)


def test_the_train_stream_is_the_seeds_own_generator_and_the_streams_are_distinct():
    assert settings.STREAMS["train"] == 0
    assert torch.equal(_draws(settings.stream(4, "train")), _draws(settings.rng(4)))
    offsets = list(settings.STREAMS.values())
    assert len(set(offsets)) == len(offsets)
    draws = [_draws(settings.stream(0, name)) for name in settings.STREAMS]
    assert all(not torch.equal(a, b) for i, a in enumerate(draws) for b in draws[i + 1:])


@pytest.mark.parametrize("name", ["training", "Train", "", None, 0])
def test_an_unknown_stream_is_refused_naming_it_and_the_known_ones(name):
    with pytest.raises(ValueError) as info:
        settings.stream(0, name)
    message = str(info.value)
    assert f"unknown random stream {name!r}" in message and "eval_noise" in message


@pytest.mark.parametrize("step", [-1, 1.0, True, "2", None])
def test_a_bad_step_is_refused_naming_it(step):
    with pytest.raises(ValueError, match=rf"step must be a non-negative integer, got {step!r}"):
        settings.stream(0, "eval_noise", step)


@pytest.mark.parametrize("offset", [1000, 2000])
def test_the_streams_move_with_the_seed_offset(monkeypatch, offset):
    monkeypatch.delenv("GAN_LAB_SEED_OFFSET", raising=False)
    unshifted = _draws(settings.stream(2, "eval_noise", 5))
    where = 2 + settings.STREAMS["eval_noise"] + 5
    assert torch.equal(unshifted, _draws(torch.Generator().manual_seed(where)))
    monkeypatch.setenv("GAN_LAB_SEED_OFFSET", str(offset))
    shifted = _draws(settings.stream(2, "eval_noise", 5))
    assert torch.equal(shifted, _draws(torch.Generator().manual_seed(offset + where)))
    assert not torch.equal(shifted, unshifted)


def test_restore_run_loads_the_state_and_refuses_networks_that_do_not_fit_naming_the_path():
    from types import SimpleNamespace
    from gan_lab.checkpoint import CheckpointError
    from torch import nn
    a, b = nn.Linear(2, 3), nn.Linear(2, 3)
    saved = loop.RunState({"generator": a}, [], torch.Generator().manual_seed(1)).state(
        step=7, history={"step": [7]}, seconds=2.5)
    result = SimpleNamespace(history={}, start_step=0)
    assert loop.restore_run(loop.RunState({"generator": b}, [], torch.Generator()), saved, "x.pt", result) == (7, 2.5)
    assert torch.equal(a.weight, b.weight) and result.history == {"step": [7]} and result.start_step == 7
    fresh = SimpleNamespace(history={}, start_step=0)
    with pytest.raises(CheckpointError, match="cannot resume from 'x.pt': its networks do not fit"):
        loop.restore_run(loop.RunState({"generator": nn.Linear(2, 4)}, [], torch.Generator()), saved, "x.pt", fresh)
    assert fresh.history == {} and fresh.start_step == 0
