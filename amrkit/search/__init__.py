"""Automatic compression to a budget: a multi-objective architecture search (Optuna).

- :class:`SearchConfig` (``amrkit.search.config``)
- :func:`run_search` (``amrkit.search.pipeline``) → :class:`SearchResult`; what
  ``amrkit search`` calls; writes ``DIR/pareto.json`` and ``DIR/pareto.png``
- the family (``amrkit.search.space``), a trial (``amrkit.search.trial``), successive
  halving (``amrkit.search.halving``), Pareto fronts and the plot (``amrkit.search.pareto``)

Optuna and torch load on first use of :func:`run_search`.
"""

from __future__ import annotations

from typing import Any

from amrkit.search.config import SearchConfig

__all__ = ["SearchConfig", "run_search"]


def run_search(*args: Any, **kwargs: Any) -> Any:
    """See :func:`amrkit.search.pipeline.run_search`."""
    from amrkit.search.pipeline import run_search as _run

    return _run(*args, **kwargs)
