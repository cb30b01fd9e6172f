"""gan_lab.work: FLOPs and kernel launches counted against closed forms, host work, and Work's arithmetic."""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from gan_lab import work


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_a_linear_layer_counts_2_b_in_out_forward_and_twice_that_backward():
    B, n_in, n_out = 32, 5, 7
    layer = torch.nn.Linear(n_in, n_out)
    x = torch.randn(B, n_in, generator=_gen(0), requires_grad=True)
    with work.count() as c:
        y = layer(x)
    assert c.total.flops == 2 * B * n_in * n_out
    with work.count() as c:
        layer(x).sum().backward()          # backward: dL/dx and dL/dW, one product each
    assert c.total.flops == 3 * 2 * B * n_in * n_out
    x.requires_grad_(False)
    with work.count() as c:
        layer(x).sum().backward()          # no dL/dx wanted: only dL/dW
    assert c.total.flops == 2 * 2 * B * n_in * n_out
    assert y.shape == (B, n_out)


def test_an_mlp_step_counts_the_sum_over_its_layers():
    B, dims = 16, [2, 8, 8, 1]
    mlp = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.ReLU(),
                              torch.nn.Linear(8, 1))
    x = torch.randn(B, 2, generator=_gen(1))
    with work.count() as c:
        mlp(x).mean().backward()
    forward = sum(2 * B * a * b for a, b in zip(dims, dims[1:]))
    first = 2 * B * dims[0] * dims[1]          # the first layer needs no gradient with respect to x
    assert c.total.flops == 3 * forward - first


def test_flops_equal_flop_counter_modes_on_convolutions_forward_and_backward():
    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 4, 2))
    x = torch.randn(5, 3, 8, 8, generator=_gen(2), requires_grad=True)
    with work.count() as c:
        conv(x).square().sum().backward()
    reference = FlopCounterMode(display=False)
    with reference:
        conv(x).square().sum().backward()
    assert c.total.flops == reference.get_total_flops() > 0


def test_dispatches_count_kernels_and_not_views_or_allocations():
    a, b = torch.ones(3, 4), torch.ones(3, 4)
    with work.count() as c:
        s = a + b                  # 1 kernel
        a.t()                      # a view: none
        a.view(4, 3)               # a view: none
        torch.empty(10)            # an allocation: none
        torch.zeros(10)            # a fill: 1
        s.mul_(2.0)                # 1
    assert c.total == work.Work(0.0, 3.0, 0.0, 0.0)
    assert work.launches_kernel(torch.ops.aten.add.Tensor)
    assert not work.launches_kernel(torch.ops.aten.t.default)
    assert not work.launches_kernel(torch.ops.aten.unsqueeze_.default)


def test_host_blocks_add_their_time_once_and_excluded_blocks_leave_the_count():
    x = torch.ones(4, 4)
    with work.count() as c:
        with c.host():
            with c.host():         # nested: one host call
                x + 1
        with c.excluded():
            x @ x                  # runs, but is not counted
            with c.host():
                pass
        x @ x
        c.add(work.Work(10.0, 1.0, 2.5, 1.0))     # work done elsewhere (a call of the same size, say)
    total = c.total
    assert total.host_calls == 2 and total.host_seconds > 2.5
    assert total.flops == 2 * 4 ** 3 + 10 and total.dispatches == 3
    with pytest.raises(ValueError, match="work must be a Work, got float"):
        c.add(2.5)


def test_a_counter_refuses_to_start_twice_or_stop_when_idle():
    counter = work.Counter()
    with pytest.raises(ValueError, match="not counting"):
        counter.stop()
    counter.start()
    with pytest.raises(ValueError, match="already counting"):
        counter.start()
    counter.stop()


def test_work_adds_scales_rounds_and_round_trips_through_a_dict():
    w = work.Work(10.0, 4.0, 0.5, 2.0)
    assert w + w == w * 2 == 2 * w == work.Work(20.0, 8.0, 1.0, 4.0)
    assert (w * 3 - w) / 2 == w
    assert work.Work(2.6, 1.4, 0.12345, 0.6).rounded() == work.Work(3.0, 1.0, 0.123, 1.0)
    assert work.Work.from_dict(w.as_dict()) == w
    assert work.Work.from_dict({"flops": 3, "dispatches": 1}) == work.Work(3.0, 1.0)   # older entries: no host
    with pytest.raises(ValueError, match="divided by a non-zero number"):
        w / 0
    for bad in ({"flops": -1, "dispatches": 0}, {"flops": 1}, {"flops": True, "dispatches": 1},
                {"flops": 1, "dispatches": float("inf")}):
        with pytest.raises(ValueError, match="must be a finite number >= 0"):
            work.Work.from_dict(bad)
    with pytest.raises(ValueError, match="must be a dict"):
        work.Work.from_dict([1, 2])
