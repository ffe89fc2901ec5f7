"""The make task's clock of time spent inside queried networks (arena.query_clock)."""

from __future__ import annotations

import time

import torch

from arena.query_clock import QueryClock


class _Slow(torch.autograd.Function):
    """Identity that sleeps `seconds` in its forward and its backward."""

    @staticmethod
    def forward(ctx, x, seconds):  # type: ignore[no-untyped-def, override]
        ctx.seconds = seconds
        time.sleep(seconds)
        return x.clone()

    @staticmethod
    def backward(ctx, grad):  # type: ignore[no-untyped-def, override]
        time.sleep(ctx.seconds)
        return grad, None


def test_forward_calls_are_timed_and_counted():
    clock = QueryClock()
    net = clock.wrap(lambda x: _Slow.apply(x, 0.02).mean((1, 2, 3)))
    for _ in range(3):
        net(torch.rand(2, 3, 4, 4))
    assert clock.calls == 3
    assert 0.06 <= clock.forward < 0.5
    assert clock.backward == 0


def test_backward_counts_only_the_network_not_what_the_gradient_flows_on_to():
    clock = QueryClock()
    net = clock.wrap(lambda x: _Slow.apply(x, 0.05).sum((1, 2, 3)))
    delta = torch.zeros(2, 3, 4, 4, requires_grad=True)
    shown = _Slow.apply(delta + 1, 0.2)  # the fake's post-processing, outside the network
    (grad,) = torch.autograd.grad(net(shown).sum(), delta)
    assert torch.equal(grad, torch.ones_like(delta))
    assert 0.05 <= clock.backward < 0.15  # the network's 0.05 s, not the post-processing's 0.2 s
    assert clock.seconds == clock.forward + clock.backward


def test_no_grad_queries_add_no_backward_time():
    clock = QueryClock()
    net = clock.wrap(lambda x: x.mean((1, 2, 3)))
    with torch.no_grad():
        net(torch.rand(2, 3, 4, 4, requires_grad=True))
    assert clock.backward == 0
