"""The validators' day compiled with numba: the same results as numpy's, bit for bit.

A validators' day is V x N work (every validator scores every miner), which numpy does
in about fifteen passes over the scores. Here it is two passes and a small one:

- :func:`observe` adds each score's noise and cuts its answered probe in one pass
  (:func:`sim.engine.kernels.observation.observe`);
- :func:`subnet_scale` sums the online scores of each subnet in miner order
  (:func:`sim.engine.kernels.consensus.subnet_scale`);
- :func:`clipped_weights` takes 64 miners at a time with their validators across the
  rows: it writes the weights and the sort keys, sorts every miner's keys at once with
  a sorting network (each comparator a vector operation over the 64 miners), finds the
  quantile with one running sum down the rows and sums the clipped weights in order of
  validators (:func:`sim.engine.kernels.consensus.clipped_weights`).

Every sum runs in the order the numpy statement uses, with no fused multiply-add and no
reassociation (numba's defaults), so results do not depend on the machine's vector
width. A kernel compiles on its first call (a few seconds), or loads from numba's cache
(``__pycache__`` beside this file) after the first time.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.engine.kernels.consensus import sorting_network

__all__ = ["clipped_weights", "observe", "subnet_scale"]

#: Miners sorted together by :func:`clipped_weights` (their keys fit a core's L1 cache).
_LANES = 64

_jit = numba.njit(cache=True, nogil=True)


@_jit
def _observe(scores, words, levels, seen, answered_below, probed_below, keep, ties):
    n, n_val = scores.shape
    size = n * n_val
    probed = answered = found = 0
    one = np.float32(1.0)
    for m in range(n):
        base = m * n_val
        row = scores[m]
        level = words[base : base + n_val]
        draw = words[size + base : size + base + n_val]
        low, high, s = answered_below[m], probed_below[m], seen[m]
        hits = probes = tied = 0
        for v in range(n_val):
            d = np.int64(draw[v])
            hit = d < low
            row[v] = (row[v] + levels[level[v]] * s) * (keep if hit else one)
            hits += hit
            probes += d < high
            tied += (d == low) | (d == high)
        answered += hits
        probed += probes
        if tied:
            for v in range(n_val):
                d = np.int64(draw[v])
                if d == low or d == high:
                    ties[found] = base + v
                    found += 1
    return probed, answered, found


def observe(
    scores: np.ndarray,
    words: np.ndarray,
    levels: np.ndarray,
    seen: np.ndarray,
    answered_below: np.ndarray,
    probed_below: np.ndarray,
    keep: np.float32,
) -> tuple[int, int, np.ndarray]:
    """:func:`sim.engine.kernels.observation.observe`, compiled."""
    ties = np.empty(scores.size, dtype=np.int64)  # untouched pages cost nothing
    probed, answered, found = _observe(
        scores, words, levels, seen, answered_below, probed_below, np.float32(keep), ties
    )
    return int(probed), int(answered), ties[:found].copy()


@_jit
def subnet_scale(scores, active, n_subnets):
    """:func:`sim.engine.kernels.consensus.subnet_scale`, compiled."""
    n, n_val = scores.shape
    norm = np.zeros((n_subnets, n_val), dtype=np.float32)
    for m in range(n):
        if active[m]:
            total = norm[m % n_subnets]
            row = scores[m]
            for v in range(n_val):
                total[v] += row[v]
    scale = np.zeros_like(norm)
    for s in range(n_subnets):
        for v in range(n_val):
            if norm[s, v] > 0:
                scale[s, v] = np.float32(1.0) / norm[s, v]
    return scale


@_jit
def _clipped_weights(scores, active, scale, stake, threshold, low, high, out):
    n, n_val = scores.shape
    n_subnets = scale.shape[0]
    weight = np.empty((n_val, _LANES), dtype=np.float32)
    bits = weight.view(np.int32)
    keys = np.empty((n_val, _LANES), dtype=np.int64)
    held = np.empty(_LANES, dtype=np.int64)
    below = np.empty(_LANES, dtype=np.int64)
    agreed_bits = np.empty(_LANES, dtype=np.int32)
    agreed = agreed_bits.view(np.float32)
    total = np.empty(_LANES, dtype=np.float64)
    stake64 = stake.astype(np.float64)
    for first in range(0, n, _LANES):
        lanes = min(_LANES, n - first)
        for b in range(lanes):  # weights, a miner per column
            m = first + b
            if active[m]:
                row = scores[m]
                factor = scale[m % n_subnets]
                for v in range(n_val):
                    weight[v, b] = row[v] * factor[v]
            else:
                for v in range(n_val):
                    weight[v, b] = 0.0
        for v in range(n_val):  # the weight's bits above the validator's stake
            units = stake[v]
            for b in range(lanes):
                keys[v, b] = (np.int64(bits[v, b]) << 32) | units
        for c in range(low.size):  # every column sorted down the rows
            top = keys[low[c]]
            bottom = keys[high[c]]
            for b in range(lanes):
                x, y = top[b], bottom[b]
                top[b] = min(x, y)
                bottom[b] = max(x, y)
        for b in range(lanes):
            held[b] = 0
            below[b] = 0
        for v in range(n_val):  # rows whose running stake is short of the quantile
            for b in range(lanes):
                held[b] += keys[v, b] & 0xFFFFFFFF
                below[b] += held[b] < threshold
        for b in range(lanes):
            agreed_bits[b] = np.int32(keys[min(below[b], n_val - 1), b] >> 32)
            total[b] = 0.0
        for v in range(n_val):  # clipped at consensus, summed in order of validators
            units = stake64[v]
            for b in range(lanes):
                total[b] += units * np.float64(min(weight[v, b], agreed[b]))
        for b in range(lanes):
            out[first + b] = total[b]
    return out


def clipped_weights(
    scores: np.ndarray,
    active: np.ndarray,
    scale: np.ndarray,
    stake: np.ndarray,
    kappa: float,
) -> np.ndarray:
    """:func:`sim.engine.kernels.consensus.clipped_weights`, compiled."""
    n, n_val = scores.shape
    low, high = sorting_network(n_val)
    threshold = kappa * float(stake.sum())
    out = np.empty(n)
    return _clipped_weights(
        scores, active, scale, stake.astype(np.int64), threshold, low, high, out
    )
