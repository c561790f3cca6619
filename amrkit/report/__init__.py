"""``amrkit reproduce``: the paper's study (Tables I–III, Figs. 4–6) as a cached pipeline and a
report.

- ``config``: :class:`ReproduceConfig` and the training protocols (paper, amrkit recipe);
- ``pipeline``: the stages (data, train, PTQ, evaluate, Fig. 5, golden model, latency) over
  ``stages.StageCache`` (cached by config hash, resumable), with ``progress`` for the bar/ETA
  and ``costs`` for the stage estimates;
- ``results``: finished stages → ``results.json``; ``figures``: its figures;
- ``sections``: one function per report section, written with ``prose`` (sentences from the
  configs the run used) and ``differences``; ``document``: Markdown and self-contained HTML.
"""
