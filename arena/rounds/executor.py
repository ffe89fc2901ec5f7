"""Run a round's tasks in this process instead of on Ray, one after another.

Only for measuring what Ray costs (benchmarks/ray_overhead.py compares the two on the same
work) and for debugging a task with a plain traceback. It offers the few calls the round loop
makes of Ray: `remote(fn).options(...).remote(*args)`, `get` and `put`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class _Done:
    """An already computed result, standing where Ray would hand back an ObjectRef."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _resolve(x: Any) -> Any:
    return x.value if isinstance(x, _Done) else x


class _Task:
    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def options(self, **_: Any) -> _Task:
        return self

    def remote(self, *args: Any, **kwargs: Any) -> _Done:
        args = tuple(_resolve(a) for a in args)  # Ray resolves top-level refs; so do we
        kwargs = {k: _resolve(v) for k, v in kwargs.items()}
        return _Done(self.fn(*args, **kwargs))


class InProcess:
    """The subset of the `ray` module the round loop uses, run serially in this process."""

    @staticmethod
    def remote(fn: Callable[..., Any]) -> _Task:
        return _Task(fn)

    @staticmethod
    def get(refs: Any) -> Any:
        return [_resolve(r) for r in refs] if isinstance(refs, list) else _resolve(refs)

    @staticmethod
    def put(value: Any) -> _Done:
        return _Done(value)
