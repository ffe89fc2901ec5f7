"""Registries by stable name, so a spec and the results table can refer to components by name.

Duplicate names fail at import; an unknown name raises an error that lists the valid ones.

A registry given an entry-point group also takes components from other installed packages: a
package that declares, in its pyproject.toml,

    [project.entry-points."deepfake_arena.detectors"]
    my-net = "my_package.my_net:MyNet"

adds the detector architecture `my-net` without editing this repository. Plugins are loaded the
first time the registry is asked for a name (not at import), once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from importlib import import_module
from importlib.metadata import entry_points
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """A name that is not registered; the message lists the valid choices."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly.
        return str(self.args[0])


class Registry(Generic[T]):
    """Maps a stable name to a component (a class or a factory)."""

    def __init__(self, kind: str, entry_point_group: str | None = None, builtins: Sequence[str] = ()) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self.builtins = tuple(builtins)  # modules whose import registers the built-in components
        self._items: dict[str, T] = {}
        self._plugins_loaded = entry_point_group is None and not self.builtins

    def _load_plugins(self) -> None:
        """Import the built-in modules, then register every installed entry point of the group under
        its entry-point name (so importing a package never pays for components it does not use).

        The entry point's object is the component itself (a class or a factory); a plugin module
        that registers itself with the decorator is accepted too. A plugin that fails to import, or
        that takes a built-in name, fails loudly with the distribution's name.
        """
        if self._plugins_loaded:
            return
        self._plugins_loaded = True  # once, even if one fails: the error names it
        for module in self.builtins:
            import_module(module)
        if self.entry_point_group is None:
            return
        for ep in sorted(entry_points(group=self.entry_point_group or ""), key=lambda e: e.name):
            where = f"{ep.name} = {ep.value}" + (f" (from {ep.dist.name})" if ep.dist else "")
            try:
                item = ep.load()
            except Exception as exc:  # the plugin's own error, reported with where it came from
                raise ImportError(f"{self.kind} plugin {where} failed to load: {exc}") from exc
            if self._items.get(ep.name) is item:
                continue  # the module registered itself under the same name
            try:
                self.register(ep.name)(item)
            except ValueError as exc:
                raise ValueError(f"{self.kind} plugin {where}: {exc}") from None

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = item
            return item

        return decorator

    def get(self, name: str) -> T:
        self._load_plugins()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; valid choices: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
