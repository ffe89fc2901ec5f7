"""A bounded reservoir of past training images for the ``replay`` strategy.

Reservoir sampling (Vitter's algorithm R) keeps, after any number of rounds, a uniform random
sample of every image ever offered, in bounded memory: the i-th image offered (0-based, counted
over all rounds) fills a free slot while there is one, else replaces slot j ~ U{0..i} when
j < capacity. Rounds of different sizes are therefore represented in proportion to their size,
and an old round is never pushed out wholesale by a new one. The update is vectorised: the slots
of a whole round are drawn at once and, where two new images draw the same slot, the later one
wins, exactly as the sequential algorithm would leave it.
"""

from __future__ import annotations

import torch


def reservoir_update(
    buffer: torch.Tensor | None,
    seen: int,
    new: torch.Tensor,
    capacity: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, int]:
    """Offer ``new`` items to a reservoir that has already been offered ``seen`` items.

    Args:
        buffer: the reservoir, ``(min(seen, capacity), ...)``; None when empty.
        seen: items offered before this call.
        new: ``(N, ...)`` items to offer, in order.
        capacity: the bound (>= 1).
        generator: CPU generator for the slot draws (seeded per round: replayable).
    Returns:
        The new reservoir ``(min(seen + N, capacity), ...)`` (a new tensor) and ``seen + N``.
    """
    if capacity < 1:
        raise ValueError(f"capacity must be >= 1, got {capacity}")
    if seen < 0:
        raise ValueError(f"seen must be >= 0, got {seen}")
    n = new.shape[0]
    held = 0 if buffer is None else buffer.shape[0]
    if held != min(seen, capacity):
        raise ValueError(f"a reservoir offered {seen} items must hold {min(seen, capacity)}, holds {held}")
    if buffer is not None and (buffer.shape[1:] != new.shape[1:] or buffer.dtype != new.dtype):
        raise ValueError(
            f"new items {tuple(new.shape[1:])} {new.dtype} do not match the reservoir's "
            f"{tuple(buffer.shape[1:])} {buffer.dtype}"
        )
    if n == 0:
        return (new[:0].clone() if buffer is None else buffer.clone()), seen
    position = torch.arange(seen, seen + n)  # global index of each new item
    draw = (torch.rand(n, generator=generator, dtype=torch.float64) * (position + 1)).long()
    slot = torch.where(position < capacity, position, draw)
    accepted = slot < capacity
    size = min(seen + n, capacity)
    # The last new item that lands in each slot wins (sequential semantics).
    winner = torch.full((size,), -1, dtype=torch.long)
    winner.scatter_reduce_(0, slot[accepted], torch.arange(n)[accepted], reduce="amax")
    out = torch.empty((size, *new.shape[1:]), dtype=new.dtype, device=new.device)
    if held:
        assert buffer is not None
        out[:held] = buffer
    filled = winner >= 0
    out[filled.to(new.device)] = new[winner[filled].to(new.device)]
    return out, seen + n
