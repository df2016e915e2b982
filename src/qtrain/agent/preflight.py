"""Everything the config alone shows to be wrong, checked before a run directory exists."""

from __future__ import annotations

from qtrain.config.schema import RunConfig
from qtrain.hpo.proposers import PROPOSERS
from qtrain.modeling import preflight as check_model_and_device


def preflight(config: RunConfig) -> None:
    """Raise the one-line error a run would otherwise reach later: a bad model folder, device,
    quantization or LoRA target (before the model loads); a QUBO larger than
    ``quantum.qubo_size_limit``, bad ``quantum.solver_options``, missing Azure settings or
    credentials (before the first QUBO cycle, after a cycle of training). Nothing is loaded
    or written; ``credential: default`` asks Azure for a token once (at most 20 s)."""
    check_model_and_device(config)
    q = config.quantum
    if q.solver_type in PROPOSERS:
        return
    from qtrain.hpo.encoding import Encoding
    from qtrain.hpo.qubo import check_qubo_size
    from qtrain.hpo.space import SearchSpace
    from qtrain.solvers import build_solver

    space = SearchSpace.from_config(config.search_space)
    check_qubo_size(Encoding(space, q.encoding).n_bits, q.qubo_size_limit)
    chain = list(dict.fromkeys([q.solver_type, *q.fallback]))
    options = {name: dict(values) for name, values in q.solver_options.items()}
    if "azure" in chain:
        from qtrain.hpo.proposers import azure_solver_options

        options["azure"] = {**azure_solver_options(config), **options.get("azure", {})}
    build_solver(chain, options=options or None)
