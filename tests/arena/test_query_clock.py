"""The make task's clock of time spent inside queried networks (deepfake_arena.rounds.query_clock)."""

from __future__ import annotations

import time

import pytest
import torch

from deepfake_arena.rounds.query_clock import QueryClock, phase_query_seconds


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


def test_a_phase_counts_the_query_share_of_the_task_time_inside_it():
    """A make phase waits for tasks started before it: their queries count only with the part
    that ran inside it."""
    # Two tasks inside a 10 s phase, side by side: 4 of their 12 task seconds were queries.
    inside = [(100.0, 106.0, 3.0), (100.0, 106.0, 1.0)]
    assert phase_query_seconds(inside, 100.0, 110.0) == pytest.approx(10.0 * 4 / 12)
    # A task started 4 s before the phase (beside the retrain), half of it queries: only its
    # 4 s inside count, with their 2 s of queries; one that ended before the phase not at all.
    early = [(96.0, 104.0, 4.0), (90.0, 99.0, 9.0)]
    assert phase_query_seconds(inside + early, 100.0, 110.0) == pytest.approx(10.0 * (4 + 2) / (12 + 4))
    assert phase_query_seconds(early[1:], 100.0, 110.0) == 0.0
    assert phase_query_seconds([], 100.0, 110.0) == 0.0
