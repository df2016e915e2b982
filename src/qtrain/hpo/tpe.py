"""Optuna's TPE as an ask/tell baseline (the ``tpe`` extra)."""

from __future__ import annotations

import logging
import warnings
from typing import Any

from qtrain.errors import MissingExtraError
from qtrain.hpo.baselines import AskTellOptimizer, Key, proposal_sources
from qtrain.hpo.space import SearchSpace


class TPESearch(AskTellOptimizer):
    """Optuna's TPE (one categorical distribution per parameter) through ask/tell.

    A fresh study is built from the history at each ask, so proposals depend only on the
    seed and the history; within one ask, the constant liar spreads a batch out.
    """

    name = "tpe"

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        n_startup_trials: int = 10,
        allow_repeats: bool = False,
        queue_default: bool = False,
    ) -> None:
        super().__init__(space, seed, allow_repeats, queue_default)
        if n_startup_trials < 0:
            raise ValueError(f"n_startup_trials must be >= 0, got {n_startup_trials}")
        self.n_startup_trials = n_startup_trials
        self._optuna = _import_optuna()

    def _propose(self, n: int) -> tuple[list[Key], list[dict[str, Any]]]:
        optuna = self._optuna
        dists = {
            p.name: optuna.distributions.CategoricalDistribution(tuple(range(len(p))))
            for p in self.space
        }
        seed = int(self._rng().integers(2**31))
        sampler = optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=self.n_startup_trials, constant_liar=True
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study = optuna.create_study(direction="minimize", sampler=sampler)
            for (key, _), value in zip(self._told, self._values(), strict=True):
                study.add_trial(
                    optuna.trial.create_trial(
                        params=dict(zip(self.space.names, key, strict=True)),
                        distributions=dists,
                        value=float(value),
                    )
                )
            free = {name: d for name, d in dists.items() if name not in self._fixed}
            avoid = self._avoid()
            queued = self._queued_default()
            chosen: list[Key] = list(queued)
            for _ in range(20 * n + 20):
                if len(chosen) == n or not free:
                    break
                trial = study.ask(free)
                levels = tuple(trial.params.get(p.name, 0) for p in self.space)
                params = {**self.space.from_key(levels), **self._fixed}
                key = self.space.key(params)
                if key not in avoid and key not in chosen:
                    chosen.append(key)
        ranked = [k for k in self._candidates(self._rng(1)) if k not in chosen]
        keys = self._fill(n, chosen, ranked)
        return keys, proposal_sources(n, "tpe", len(queued), len(chosen))


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise MissingExtraError("optuna", "tpe", "the optuna-tpe proposer") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    return optuna
