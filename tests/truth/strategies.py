"""Hypothesis strategies: nights of spoke operations, each (operation name, pick)."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.truth.scenario import OPERATIONS

operation = st.tuples(st.sampled_from(sorted(OPERATIONS)), st.integers(0, 10_000))


def sequences(max_operations: int = 6, max_nights: int = 3) -> st.SearchStrategy:
    """1 to `max_nights` nights of 1 or 2 operations each, at most `max_operations` in all."""
    night = st.lists(operation, min_size=1, max_size=2)
    return st.lists(night, min_size=1, max_size=max_nights).filter(
        lambda nights: sum(map(len, nights)) <= max_operations
    )
