"""Structured pruning: remove whole channels of a trained run, then fine-tune it.

- :class:`PruneConfig` (``amrkit.prune.config``)
- :func:`prune_widths` (the narrower spec that meets a MAC budget), :func:`prune_channels`
  (Torch-Pruning's dependency graph + importance) in ``amrkit.prune.channels``
- :func:`prune_run` (``amrkit.prune.pipeline``): what ``amrkit prune`` calls
"""

from amrkit.prune.config import PruneConfig

__all__ = ["PruneConfig"]
