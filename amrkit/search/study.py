"""The Optuna study: storage (SQLite by default, any RDB URL for many machines), sampler,
and a worker's loop. A worker that dies loses only its running trial: its heartbeat stops,
the next worker to start a trial marks it failed and re-queues its parameters once."""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

from amrkit.errors import AmrkitError
from amrkit.search.config import SearchConfig
from amrkit.search.space import start_trials

STUDY_DB = "study.db"
DEFAULT_STUDY = "amrkit-search"
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)  # what --trials counts


def default_storage(out: Path) -> str:
    return f"sqlite:///{(out / STUDY_DB).resolve()}"


def redact(url: str) -> str:
    """The storage URL without a password (what files and messages show)."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def make_storage(url: str, cfg: SearchConfig) -> RDBStorage:
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 120}  # several processes share the file
    for attempt in range(6):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.8
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs=kwargs,
                    heartbeat_interval=cfg.heartbeat_s,
                    grace_period=3 * cfg.heartbeat_s,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
                )
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy/driver errors become one line
            # workers starting together race to create the schema: the loser retries
            text = str(exc)
            racing = type(exc).__name__ == "IntegrityError" or any(
                w in text for w in ("locked", "already exists", "duplicate key")
            )
            if racing and attempt < 5:
                time.sleep(0.5 * (attempt + 1))
                continue
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            raise AmrkitError(
                f"--storage {redact(url)!r} cannot be opened ({type(exc).__name__}: {first}); "
                "give an sqlite:///path or a reachable postgresql://user:pw@host/db URL"
            ) from None
    raise AssertionError("unreachable")


def open_study(
    url: str, name: str, cfg: SearchConfig, worker: int, identity: dict[str, Any]
) -> optuna.Study:
    """Create or join study ``name``; a study made by another config or data is refused."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(
        seed=cfg.seed + worker, multivariate=True, constant_liar=True
    )
    directions = ["maximize" if o == "accuracy" else "minimize" for o in cfg.objectives]
    study = optuna.create_study(
        storage=make_storage(url, cfg),
        study_name=name,
        directions=directions,
        sampler=sampler,
        load_if_exists=True,
    )
    mine = {"config": _search_key(cfg), "data": identity}
    stored = study.user_attrs.get("amrkit")
    if stored is None:
        study.set_user_attr("amrkit", mine)
        for params in start_trials(cfg):  # known designs first, each once
            study.enqueue_trial(params, skip_if_exists=True)
    elif stored != mine:
        what = "search settings" if stored["config"] != mine["config"] else "data"
        raise AmrkitError(
            f"study {name!r} in {redact(url)!r} was started with other {what}; use the same "
            "options and data, or another --study name"
        )
    return study


def _search_key(cfg: SearchConfig) -> dict[str, Any]:
    """What must agree to join a study (all but trials, threads, final-stage settings)."""
    free = {"trials", "threads", "max_final", "golden_frames", "final_epochs",
            "final_lr_drop_epoch", "heartbeat_s", "latency_min_time", "batch_size"}  # fmt: skip
    return {k: v for k, v in cfg.to_dict().items() if k not in free}


def counted(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=COUNTED))


def work(study: optuna.Study, objective: Any, cfg: SearchConfig, callbacks: list[Any]) -> None:
    """Run trials until the study holds ``cfg.trials`` complete or pruned ones."""
    if counted(study) >= cfg.trials:
        return
    stop = MaxTrialsCallback(cfg.trials, states=COUNTED)
    study.optimize(objective, callbacks=[stop, *callbacks], gc_after_trial=False)
