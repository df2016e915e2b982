"""QUBO -> Ising -> a Qiskit QAOA circuit with ``p`` layers, measured into one register.

Conventions match the local ``qaoa-sim`` statevector (``qtrain.solvers._statevector``): qubit
``k`` is variable ``order[k]``; a measured bit ``b`` means binary value ``x = b`` and spin
``s = 2b - 1``, so ``s = -Z``. The cost is normalised to zero mean and unit spread over all
``2^n`` states, ``C = (E - offset) / scale`` with ``scale = sqrt(sum h^2 + sum J^2)`` (the
exact standard deviation of an Ising energy over uniformly random spins), so the same angles
mean the same thing on the local simulator and on a remote target. One layer is
``exp(-i gamma C)`` followed by ``RX(2 beta)`` on every qubit:

- ``exp(-i gamma h s_k / scale) = RZ(-2 gamma h / scale)`` on qubit k,
- ``exp(-i gamma J s_k s_l / scale) = RZZ(2 gamma J / scale)`` on qubits k, l.

Counts come back as bitstrings with qubit 0 rightmost (Qiskit's order).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import dimod
import numpy as np


def ising_scale(bqm: dimod.BinaryQuadraticModel) -> float:
    """``sqrt(sum h^2 + sum J^2)`` of the Ising form: the energy's spread over all states."""
    h, J, _ = bqm.spin.to_ising()
    total = sum(v * v for v in h.values()) + sum(v * v for v in J.values())
    return math.sqrt(total)


def qaoa_circuit(
    bqm: dimod.BinaryQuadraticModel,
    order: Sequence[Hashable],
    gammas: Sequence[float],
    betas: Sequence[float],
    name: str = "qtrain-qaoa",
) -> Any:
    """The measured QAOA circuit for ``bqm`` (variable ``order[k]`` on qubit ``k``)."""
    from qiskit import QuantumCircuit

    n = len(order)
    index = {v: k for k, v in enumerate(order)}
    h, J, _ = bqm.spin.to_ising()
    scale = ising_scale(bqm) or 1.0
    circuit = QuantumCircuit(n, n, name=name)
    circuit.h(range(n))
    for gamma, beta in zip(gammas, betas, strict=True):
        for v, bias in h.items():
            if bias:
                circuit.rz(-2.0 * gamma * bias / scale, index[v])
        for (u, v), coupling in J.items():
            if coupling:
                circuit.rzz(2.0 * gamma * coupling / scale, index[u], index[v])
        circuit.rx(2.0 * beta, range(n))
    circuit.measure(range(n), range(n))
    return circuit


def decode_counts(
    counts: dict[str, int], bqm: dimod.BinaryQuadraticModel, order: Sequence[Hashable]
) -> dimod.SampleSet:
    """Counts (bitstrings, qubit 0 rightmost) -> a sample set, lowest energy first.

    Raises:
        ValueError: a bitstring has the wrong length or a character other than 0/1.
    """
    n = len(order)
    rows, occurrences = [], []
    for bitstring, count in counts.items():
        bits = bitstring.replace(" ", "")
        if len(bits) != n or set(bits) - {"0", "1"}:
            raise ValueError(f"result bitstring {bitstring!r} does not have {n} binary digits")
        rows.append([int(bits[n - 1 - k]) for k in range(n)])
        occurrences.append(int(count))
    bits_array = np.array(rows, dtype=np.int8).reshape(len(rows), n)
    values = bits_array if bqm.vartype is dimod.BINARY else 2 * bits_array - 1
    energies = bqm.energies((values, list(order)))
    by_energy = np.argsort(energies, kind="stable")
    return dimod.SampleSet.from_samples(
        (values[by_energy], list(order)),
        vartype=bqm.vartype,
        energy=energies[by_energy],
        num_occurrences=np.asarray(occurrences)[by_energy],
    )
