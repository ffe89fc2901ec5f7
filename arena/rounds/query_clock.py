"""How long a make task spends inside the deployed detectors (and the extractor) it queries.

Evasion makes a generator ask the deployed detectors for scores, dozens of times per fake:
detector inference inside the make phase. To say where a round's time goes, the make task wraps
its surrogate and extractor in a `QueryClock`, which adds up the wall time of their forward
passes and, for white-box evasion, of the backward pass through them. The backward is timed
between two autograd hooks: one on the network's output (the gradient arrives) and one on its
input (the gradient has passed through every network), so only the networks' own backward is
counted, not the fake's post-processing it flows on to. The round loop turns the tasks' clocks
into the make phase's query time with `phase_query_seconds`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import torch


class QueryClock:
    """Wall seconds spent in wrapped networks' forward and backward passes."""

    def __init__(self) -> None:
        self.forward = 0.0
        self.backward = 0.0
        self.calls = 0

    @property
    def seconds(self) -> float:
        return self.forward + self.backward

    def wrap(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
        """`fn` with the same signature, timed on every call."""

        def timed(images: torch.Tensor) -> torch.Tensor:
            t = time.perf_counter()
            out = fn(images)
            self.forward += time.perf_counter() - t
            self.calls += 1
            if out.requires_grad and images.requires_grad:
                self._time_backward(images, out)
            return out

        return timed

    def _time_backward(self, images: torch.Tensor, out: torch.Tensor) -> None:
        start: list[float] = []

        def on_output(grad: torch.Tensor) -> None:
            start.append(time.perf_counter())

        def on_input(grad: torch.Tensor) -> None:
            if start:
                self.backward += time.perf_counter() - start.pop()

        out.register_hook(on_output)
        images.register_hook(on_input)


def phase_query_seconds(tasks: Iterable[tuple[float, float, float]], start: float, end: float) -> float:
    """Of a phase's wall time (`start` to `end`, epoch seconds), the part its tasks spent in
    queried networks: the wall time times the query share of the task time that fell inside it.

    Each task is (its start, its end, its query seconds), the queries taken as spread evenly
    over the task. A task started before the phase (the next round's make tasks the loop starts
    beside the retrain and during post) counts only with the part it ran inside the phase; one
    that ended before it, not at all.
    """
    busy = queried = 0.0
    for t0, t1, query_s in tasks:
        inside = max(0.0, min(t1, end) - max(t0, start))
        if inside > 0:  # then t1 > t0 too
            busy += inside
            queried += inside * min(1.0, query_s / (t1 - t0))
    return (end - start) * queried / busy if busy > 0 else 0.0
