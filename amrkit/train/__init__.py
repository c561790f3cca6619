"""Training: config, the loop, the run directory.

- :class:`TrainConfig` (``amrkit.train.config``), :func:`train_model` (``amrkit.train.runner``,
  what ``amrkit train`` calls); named recipes (``amrkit.train.recipes``, ``--recipe``) and
  :func:`make_config` (defaults < recipe < file < options, ``amrkit.train.config``)
- the loop (``amrkit.train.loop``): :func:`train_one_epoch`, :func:`evaluate`, :func:`fit`
- data (``amrkit.train.data``): :func:`load_split`, :func:`epoch_order`, :class:`SplitData`
- fresh frames every epoch (``amrkit.train.synth``, ``--synth``): :class:`SynthData` (what
  run.json records), :class:`SynthEpochs` (epoch ``e``'s frames from seeds of (seed, e))
- the run folder (``amrkit.artifacts``): :func:`load_run`, :func:`save_run_info`,
  :func:`save_weights`
"""

from amrkit.artifacts import Run, load_run, save_run_info, save_weights

__all__ = ["Run", "load_run", "save_run_info", "save_weights"]
