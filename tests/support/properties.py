"""A property at two lengths (design/0473): the pure tier, run on every change, draws a quarter of the
examples; the same property at its full count is a `slow` test of the same module, `<name>_at_length`,
which the full suite (scripts/test, CI) runs instead (a run that collects both deselects the quarter:
tests/conftest.py `at_length_twins`). The precedent is tests/test_interval_clock.py's proven offset (60
examples pure, 2,000 slow).

    @at_two_lengths(600, segments, holds, policies, disks)
    def test_minimums_under_pressure(segs, hs, pol, disk): ...

Arguments after the count are `given`'s; `settings_kw` are more of `settings`' (a health check suppressed).
An `@example` below it is tried by both."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings

PURE_SHARE = 4  # the pure tier draws 1/PURE_SHARE of a property's examples


def at_two_lengths(examples: int, *strategies: Any, settings_kw: dict[str, Any] | None = None,
                   **named: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def wrap(test: Callable[..., None]) -> Callable[..., None]:
        kw = {"deadline": None, **(settings_kw or {})}
        full = settings(max_examples=examples, **kw)(given(*strategies, **named)(test))
        module = sys.modules[test.__module__]
        name = f"{test.__name__}_at_length"
        assert not hasattr(module, name), name
        setattr(module, name, pytest.mark.slow(full))
        return settings(max_examples=max(examples // PURE_SHARE, 1), **kw)(given(*strategies, **named)(test))
    return wrap
