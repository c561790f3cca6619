"""Training: config, the loop, the run directory."""

from amrkit.train.run import Run, load_run, save_run_info, save_weights

__all__ = ["Run", "load_run", "save_run_info", "save_weights"]
