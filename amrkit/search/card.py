"""A finished search as a zoo card section: its settings, its trials and a model's Pareto rank.

``amrkit zoo add RUN --search DIR`` puts this section on the card of a model the search at
``DIR`` found (the run's spec must be one of the search's trials): the reader sees how many
trials the search ran, under which budgets and proxies, and where the shipped model stood
among them — rank 1 is the front of the search's objectives, rank 2 the front once rank 1 is
removed, and so on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from amrkit.errors import AmrkitError
from amrkit.fileio import read_json
from amrkit.search.final import PARETO_FILE
from amrkit.search.pareto import dominates

SETTINGS = (
    "max_macs", "max_int8_bytes", "max_latency_us", "objectives", "min_layers", "max_layers",
    "filters", "kernels", "groups", "start_from", "proxy_train_per_class",
    "proxy_val_per_class", "proxy_epochs", "proxy_batch_size", "halving_eta", "augment",
    "teacher", "seed",
)  # fmt: skip


def pareto_ranks(points: Sequence[Sequence[float]]) -> list[int]:
    """Non-dominated sorting (every coordinate minimized): 1 for the front, 2 for the front
    of the rest, ... ; equal points share a rank."""
    ranks = [0] * len(points)
    left, rank = set(range(len(points))), 0
    while left:
        rank += 1
        front = [i for i in left if not any(dominates(points[j], points[i]) for j in left)]
        for i in front:
            ranks[i] = rank
        left -= set(front)
    return ranks


def _objective_point(trial: dict[str, Any], objectives: Sequence[str]) -> list[float]:
    return [-trial[o] if o == "accuracy" else float(trial[o]) for o in objectives]


def search_section(search_dir: str | Path, spec: str) -> dict[str, Any]:
    """The card section for the model with spec string ``spec`` found by the search at
    ``search_dir`` (its ``pareto.json``: the search must have finished)."""
    path = Path(search_dir) / PARETO_FILE
    if not path.is_file():
        raise AmrkitError(
            f"--search {str(search_dir)!r} has no {PARETO_FILE}; give the --out folder of a "
            "finished 'amrkit search' (run it again to finish it)"
        )
    doc = read_json(path)
    cfg, trials = doc["config"], doc["trials"]
    done = [t for t in trials if t["state"] == "complete" and t.get("accuracy") is not None]
    mine = [t for t in done if t["spec"] == spec]
    if not mine:
        raise AmrkitError(
            f"the run's model {spec!r} is none of the {len(done)} complete trials of the search "
            f"at {str(search_dir)!r}; give the search that found it, or leave out --search"
        )
    ranks = pareto_ranks([_objective_point(t, doc["objectives"]) for t in done])
    best = min(range(len(done)), key=lambda i: (ranks[i], -done[i]["accuracy"]))
    me = max(mine, key=lambda t: t["accuracy"])
    rank = ranks[done.index(me)]
    starts = list(cfg.get("start_from") or [])
    origin = (
        f", the search's start from {starts[me['number']]!r} fitted to the budget"
        if me["number"] < len(starts)
        else ""
    )
    text = (
        f"Found by `amrkit search` on {doc['data'].get('path')} ({doc['data'].get('num_frames'):,}"
        f" frames): {len(trials)} trials, {len(done)} complete, "
        f"{sum(t['state'] == 'pruned' for t in trials)} stopped early by successive halving. "
        f"This model is trial {me['number']}{origin}: proxy accuracy "
        f"{100 * me['accuracy']:.2f} % ({cfg['proxy_train_per_class']} frames per class, "
        f"{cfg['proxy_epochs']} epochs), Pareto rank {rank} of the complete trials on "
        f"({', '.join(doc['objectives'])}); {ranks.count(1)} trials are on the front (best "
        f"proxy accuracy there: trial {done[best]['number']}, {100 * done[best]['accuracy']:.2f}"
        " %). The shipped weights come from the full training named in the card's commands, "
        "not from the proxy."
    )
    rows = [[k, _show(cfg.get(k))] for k in SETTINGS if k in cfg]
    return {
        "title": "Search: settings, trials and Pareto rank",
        "text": text,
        "table": {"columns": ["setting", "value"], "rows": rows},
        "source": f"amrkit search {doc['data'].get('path')} --out {search_dir} "
        "(the settings above; pareto.json of that folder)",
    }


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else "none"
    return "none" if value is None else f"{value:,}" if isinstance(value, int) else str(value)
