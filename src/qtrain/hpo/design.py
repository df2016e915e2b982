"""Initial designs: the star points of a response-surface design, and greedy maximin selection
from a pool of configurations."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from qtrain.hpo.space import SearchSpace

Key = tuple[int, ...]
#: Distances from every row of a grid (configurations as level indices) to one row.
Distance = Callable[[np.ndarray, Sequence[int]], np.ndarray]


def maximin(pool: Sequence[Key], refs: Sequence[Key], n: int, distance: Distance) -> list[Key]:
    """Up to ``n`` keys of ``pool``, each the farthest from ``refs`` and the ones chosen before.

    Ties go to the first in ``pool`` (give it in a seeded random order); keys at distance 0
    from a reference are never chosen.
    """
    if not pool or n <= 0:
        return []
    grid = np.array(pool, dtype=int)
    min_dist = np.full(len(pool), np.inf)
    for row in refs:
        min_dist = np.minimum(min_dist, distance(grid, row))
    chosen: list[Key] = []
    while len(chosen) < n and len(chosen) < len(pool):
        i = int(np.argmax(min_dist))
        if min_dist[i] == 0:
            break
        chosen.append(tuple(pool[i]))
        min_dist = np.minimum(min_dist, distance(grid, grid[i]))
    return chosen


def level_distance(space: SearchSpace, grid: np.ndarray, row: Sequence[int]) -> np.ndarray:
    """Distance on the level grid: |Δlevel|/(L-1) per ordinal parameter, 0/1 per categorical."""
    out = np.zeros(grid.shape[0])
    for c, p in enumerate(space):
        if len(p) == 1:
            continue
        diff = np.abs(grid[:, c] - row[c])
        out += diff / (len(p) - 1) if p.kind == "ordinal" else (diff > 0)
    return out


def cover_levels(
    chosen: list[Key], pool: Sequence[Key], columns: dict[int, int], keep: int, distance: Distance
) -> list[Key]:
    """``chosen`` with every level of ``columns`` (column -> its number of levels) in it where
    there is room: a missing level replaces, from the end, a point (not one of the first
    ``keep``) whose own level there is not its only one, by the pool's point with the missing
    level nearest to it. Run-scoped parameters (the LoRA shape) are then all tried in cycle 1.
    """
    out = list(chosen)
    for column, n_levels in columns.items():
        for level in range(n_levels):
            if any(k[column] == level for k in out):
                continue
            spare = [
                i
                for i in range(len(out) - 1, keep - 1, -1)
                if sum(k[column] == out[i][column] for k in out) > 1
            ]
            options = [k for k in pool if k[column] == level and k not in out]
            if not spare or not options:
                continue
            near = distance(np.array(options, dtype=int), out[spare[0]])
            out[spare[0]] = tuple(options[int(np.argmin(near))])
    return out


def axial_points(
    space: SearchSpace, center: Key, admissible: Callable[[Key], bool], rng: np.random.Generator
) -> list[Key]:
    """The star (axial) points around ``center``, as in a central composite design: each
    cycle-scoped parameter changed alone, everything else at the centre; only ``admissible``
    ones (in the trust region, untried, not fixed).

    An ordinal parameter goes to its farthest admissible level below and above the centre
    (the two ends tell which way its effect points, which local moves then follow); a
    categorical one to each other value. Ordinal points come first, then categorical ones,
    each group in a seeded random order. Run-scoped parameters are left to
    :func:`cover_levels`.
    """
    ordinal: list[Key] = []
    categorical: list[Key] = []
    for c, p in enumerate(space):
        if p.scope == "run":
            continue
        moved = [
            key
            for level in range(len(p))
            if level != center[c] and admissible(key := (*center[:c], level, *center[c + 1 :]))
        ]
        if p.kind == "ordinal":
            ordinal += [k for k in moved if k[c] < center[c]][:1]
            ordinal += [k for k in moved if k[c] > center[c]][-1:]
        else:
            categorical += moved
    return [ordinal[i] for i in rng.permutation(len(ordinal))] + [
        categorical[i] for i in rng.permutation(len(categorical))
    ]


def initial_design(
    space: SearchSpace,
    pool: Sequence[Key],
    chosen: list[Key],
    refs: Sequence[Key],
    n: int,
    distance: Distance,
    star: Sequence[Key] = (),
) -> list[Key]:
    """``n`` keys: ``chosen``, then ``star`` points (see :func:`axial_points`), then maximin
    points of ``pool`` away from ``refs`` and those before; then every level of a run-scoped
    parameter where there is room, replacing points from the end but never ``chosen``."""
    keep = len(chosen)
    pool = [k for k in pool if k not in chosen]
    chosen = chosen + [k for k in star if k not in chosen][: n - keep]
    rest = [k for k in pool if k not in chosen]
    design = chosen + maximin(rest, [*refs, *chosen], n - len(chosen), distance)
    run = {c: len(p) for c, p in enumerate(space) if p.scope == "run" and len(p) > 1}
    return cover_levels(design, pool, run, keep, distance)
