"""Progress lines for long runs: round, phase, elapsed and ETA, one line per phase.

Plain lines rather than a redrawn bar, because arena runs mostly live in log files on cluster
nodes; the ETA is the mean wall time of the rounds finished in this session times those left.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(
        self, total_rounds: int, first_round: int, stream: TextIO | None = None, label: str = ""
    ) -> None:
        self.label = f"{label} " if label else ""
        self.total = total_rounds
        self.first = first_round
        self.stream = stream if stream is not None else sys.stdout
        self.start = time.monotonic()
        self.round_started = self.start
        self.done_rounds = 0

    def eta(self, r: int) -> str:
        if self.done_rounds == 0:
            return "?"
        per_round = (self.round_started - self.start) / self.done_rounds
        elapsed_this = time.monotonic() - self.round_started
        remaining = per_round * (self.total - r + 1) - elapsed_this
        return _clock(remaining)

    def phase(self, r: int, name: str, detail: str = "") -> None:
        elapsed = time.monotonic() - self.start
        text = f"{self.label}[round {r}/{self.total}] {name:<9} elapsed {_clock(elapsed)}  eta {self.eta(r)}"
        print(text + (f"  {detail}" if detail else ""), file=self.stream, flush=True)

    def round_done(self, r: int, summary: str) -> None:
        self.done_rounds += 1
        self.round_started = time.monotonic()
        elapsed = self.round_started - self.start
        head = f"{self.label}[round {r}/{self.total}] committed elapsed {_clock(elapsed)}"
        print(f"{head}  eta {self.eta(r + 1)}  {summary}", file=self.stream, flush=True)

    def note(self, text: str) -> None:
        print(self.label + text, file=self.stream, flush=True)
