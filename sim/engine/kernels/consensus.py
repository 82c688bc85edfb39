"""Yuma-style consensus of a Bittensor-like protocol, on arrays.

A miner's *consensus* weight is the stake-weighted ``kappa``-quantile of the validators'
weights for it; weights above consensus are clipped to it; the miner's *incentive* is its
share of the stake-weighted clipped weights in its subnet (no bonds, no dividends).

:func:`consensus`, :func:`per_subnet` and :func:`incentive` state the computation on a
(validators, miners) matrix. :func:`yuma_incentive` computes the same on a (miners,
validators) matrix in single precision with stake in whole units, the layout the
validators keep: each miner's validators are one contiguous row, sorted as 64-bit keys
that carry a weight and its validator's stake together (:func:`sorted_consensus`). Its
two passes, :func:`subnet_scale` and :func:`clipped_weights`, sum in a defined order, so
that the compiled twins in :mod:`sim.engine.kernels.compiled` give the same numbers bit
for bit on any machine.
"""

from __future__ import annotations

import functools
import statistics
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.engine.kernels.backend import Kernels

__all__ = [
    "BLOCK_SCORES",
    "NOISE_LEVELS",
    "block_rows",
    "clipped_weights",
    "consensus",
    "incentive",
    "key_words",
    "lognormal_levels",
    "per_subnet",
    "sorted_consensus",
    "sorting_network",
    "subnet_scale",
    "subnet_weights",
    "yuma_incentive",
]

#: Equiprobable levels of the log-normal observation noise (2^16: one uint16 per draw).
NOISE_LEVELS = 1 << 16

#: Word of a little-endian 64-bit key that holds the low 32 bits (the stake) and the high.
_LOW, _HIGH = (0, 1) if np.little_endian else (1, 0)


def consensus(weights: np.ndarray, stake: np.ndarray, kappa: float) -> np.ndarray:
    """(N,) stake-weighted ``kappa``-quantile of each column of ``weights`` (V, N): the
    smallest weight w such that validators with weight <= w hold at least ``kappa`` of
    the stake."""
    by_miner = np.ascontiguousarray(weights.T)  # (N, V): sort along contiguous rows
    order = np.argsort(by_miner, axis=1, kind="stable")
    ranked = np.take_along_axis(by_miner, order, axis=1)
    held = np.cumsum(stake[order], axis=1)
    first = (held < kappa * stake.sum() * (1 - 1e-12)).sum(axis=1)
    return ranked[np.arange(weights.shape[1]), np.minimum(first, weights.shape[0] - 1)]


def per_subnet(values: np.ndarray, subnet: np.ndarray, n_subnets: int) -> np.ndarray:
    """Normalise the last axis of ``values`` to sum 1 within each subnet (0 if empty)."""
    flat = values.reshape(-1, values.shape[-1])
    member = np.zeros((subnet.size, n_subnets))
    member[np.arange(subnet.size), subnet] = 1.0
    norm = (flat @ member)[:, subnet]
    return (np.divide(flat, norm, out=np.zeros_like(flat), where=norm > 0)).reshape(values.shape)


def incentive(
    scores: np.ndarray, stake: np.ndarray, kappa: float, subnet: np.ndarray
) -> np.ndarray:
    """(N,) each miner's share of its subnet's consensus-clipped, stake-weighted weight."""
    n_subnets = int(subnet.max()) + 1 if subnet.size else 0
    weights = per_subnet(scores, subnet, n_subnets)
    clipped = np.minimum(weights, consensus(weights, stake, kappa))
    return per_subnet(stake @ clipped, subnet, n_subnets)


#: Scores per block of :func:`clipped_weights` and of the observation's numpy pass
#: (:func:`sim.engine.kernels.observation.observe`): a block's arrays stay in cache.
BLOCK_SCORES = 1 << 17


def yuma_incentive(
    scores: np.ndarray,
    active: np.ndarray,
    stake: np.ndarray,
    kappa: float,
    n_subnets: int,
    kernels: Kernels | None = None,
) -> np.ndarray:
    """(N,) each miner's incentive (see the module), from scores by miner.

    Args:
        scores: (N, V) float32, validator v's score of miner i at ``[i, v]`` (any common
            scale); miner i is in subnet ``i mod n_subnets``.
        active: (N,) bool, miner online (offline miners weigh nothing and get nothing).
        stake: (V,) int64 stake of each validator, in whole units (< 2^31 in all).
        kappa: consensus quantile.
        n_subnets: number of subnets.
        kernels: the implementation of the two passes, :func:`subnet_scale` and
            :func:`clipped_weights` (None: these, numpy's).
    """
    n = scores.shape[0]
    if n == 0:
        return np.zeros(0)
    scale_of = kernels.subnet_scale if kernels else subnet_scale
    clip = kernels.clipped_weights if kernels else clipped_weights
    clipped = clip(scores, active, scale_of(scores, active, n_subnets), stake, kappa)
    subnet = np.arange(n) % n_subnets
    total = np.bincount(subnet, weights=clipped, minlength=n_subnets)[subnet]
    return np.divide(clipped, total, out=np.zeros(n), where=total > 0)


def block_rows(n_val: int, n_subnets: int) -> int:
    """Miners per block: a multiple of ``n_subnets`` near :data:`BLOCK_SCORES` scores."""
    return n_subnets * max(1, BLOCK_SCORES // (n_val * n_subnets))


def subnet_scale(scores: np.ndarray, active: np.ndarray, n_subnets: int) -> np.ndarray:
    """(n_subnets, V) float32: one over each validator's sum of the scores of the online
    miners of each subnet (0 where that sum is 0). The sums run over the miners in
    order, in single precision (a defined order: the compiled pass gives the same)."""
    n, n_val = scores.shape
    norm = np.zeros((n_subnets, n_val), dtype=np.float32)
    online = scores if active.all() else scores * active[:, None]
    for first in range(0, n, n_subnets):  # one miner of each subnet at a time
        last = min(n, first + n_subnets)
        norm[: last - first] += online[first:last]
    return np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)


def clipped_weights(
    scores: np.ndarray,
    active: np.ndarray,
    scale: np.ndarray,
    stake: np.ndarray,
    kappa: float,
) -> np.ndarray:
    """(N,) float64 stake-weighted sum of each miner's weights clipped at consensus.

    A miner's weights are its scores times :func:`subnet_scale` of its subnet (0
    offline); its consensus is the smallest weight w such that validators with weight
    <= w hold at least ``kappa`` of ``stake`` (:func:`sorted_consensus`).
    The sum runs over the validators in order, in double precision (each product of a
    whole stake and a single-precision weight is exact). Miners are taken in blocks of
    whole subnets (about :data:`BLOCK_SCORES` scores), so that a block stays in cache.
    """
    n, n_val = scores.shape
    n_subnets = scale.shape[0]
    rows = min(n, block_rows(n_val, n_subnets))
    width = 1 << max(n_val - 1, 0).bit_length()
    weights = np.empty((rows, n_val), dtype=np.float32)
    keys = np.empty((rows, width), dtype=np.int64)
    sums = np.empty((rows, n_val))
    stake64 = stake.astype(np.float64)
    clipped = np.empty(n)
    for first in range(0, n, rows):
        last = min(n, first + rows)
        weight, terms = weights[: last - first], sums[: last - first]
        subnet_weights(scores[first:last], active[first:last], scale, out=weight)
        agreed = sorted_consensus(weight, stake, kappa, keys=keys[: last - first])
        np.minimum(weight, agreed[:, None], out=weight)  # clipped at consensus
        np.multiply(weight, stake64, out=terms)  # exact in double precision
        np.cumsum(terms, axis=1, out=terms)  # in order of validators
        clipped[first:last] = terms[:, -1]
    return clipped


@functools.cache
def sorting_network(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Comparators ``(low, high)`` (int64 arrays, low < high) of Batcher's odd-even
    merge sort of ``n`` items: applying each in order (the smaller item to ``low``)
    sorts any ``n`` items. Built for the next power of two, with the comparators that
    touch an item beyond ``n`` left out (padding items, all larger, never move)."""
    size = 1 << max(n - 1, 0).bit_length()
    pairs = []
    merged = 1
    while merged < size:
        step = merged
        while step >= 1:
            for j in range(step % merged, size - step, 2 * step):
                for i in range(min(step, size - j - step)):
                    if (i + j) // (2 * merged) == (i + j + step) // (2 * merged):
                        pairs.append((i + j, i + j + step))
            step //= 2
        merged *= 2
    kept = np.array([p for p in pairs if p[1] < n], dtype=np.int64).reshape(-1, 2)
    low, high = np.ascontiguousarray(kept[:, 0]), np.ascontiguousarray(kept[:, 1])
    low.flags.writeable = high.flags.writeable = False  # cached: shared by every caller
    return low, high


def key_words(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Views of (N, K) int64 ``keys`` as int32: the high words (sorted first) and the
    low words."""
    words = keys.view(np.int32).reshape(*keys.shape, 2)
    return words[..., _HIGH], words[..., _LOW]


def subnet_weights(
    scores: np.ndarray, active: np.ndarray, scale: np.ndarray, out: np.ndarray
) -> np.ndarray:
    """(N, V) float32 weights into ``out``: each validator's scores of the online miners
    times ``scale`` (:func:`subnet_scale`) of their subnet, 0 offline. ``scores`` starts
    at a miner of subnet 0."""
    n, n_val = scores.shape
    n_subnets = scale.shape[0]
    whole = n - n % n_subnets
    np.multiply(
        scores[:whole].reshape(-1, n_subnets, n_val),
        scale,
        out=out[:whole].reshape(-1, n_subnets, n_val),
    )
    np.multiply(scores[whole:], scale[: n - whole], out=out[whole:])
    out[~active] = 0.0
    return out


def sorted_consensus(
    weight: np.ndarray, stake: np.ndarray, kappa: float, keys: np.ndarray | None = None
) -> np.ndarray:
    """(N,) float32 consensus of each row of ``weight`` (N, V) float32 >= 0: the
    smallest weight w such that validators with weight <= w hold at least ``kappa`` of
    ``stake`` (V,) int64 whole units (< 2^31 in all).

    Each row is sorted as int64 keys, the weight's bits above its validator's stake
    (both non-negative, so the keys' integer order is the weights' order; equal weights
    are ordered by stake, which changes no quantile), so the stake travels with its
    weight: no argsort, no gather. The stake held up to each position is then found by
    descending a tree of pairwise sums of the sorted stakes, without a running sum
    along each row. ``keys``: an optional (N, K) int64 buffer, K >= V a power of two.
    """
    n, n_val = weight.shape
    width = 1 << max(n_val - 1, 0).bit_length()
    if keys is None or keys.shape != (n, width):
        keys = np.empty((n, width), dtype=np.int64)
    high, low = key_words(keys)
    high[:, :n_val] = weight.view(np.int32)
    low[:, :n_val] = stake.astype(np.int32)  # < 2^31 in all: a narrow copy writes faster
    high[:, n_val:] = 0x7F800000  # padding: +inf, sorted last, with no stake
    low[:, n_val:] = 0
    keys.sort(axis=1)
    threshold = kappa * float(stake.sum())
    levels = [low]
    while levels[-1].shape[1] > 1:
        below = levels[-1]
        levels.append(below[:, 0::2] + below[:, 1::2])
    rows = np.arange(n)
    position = np.zeros(n, dtype=np.int64)
    held = np.zeros(n, dtype=np.int64)  # stake before the current subtree
    for level in reversed(levels[:-1]):
        position *= 2
        left = level[rows, position]
        right = held + left < threshold  # the quantile lies beyond the left half
        held += np.where(right, left, 0)
        position += right
    return high[rows, np.minimum(position, n_val - 1)].view(np.float32)


@functools.cache
def _normal_levels() -> np.ndarray:
    """(NOISE_LEVELS,) the standard normal's quantiles at (k + 1/2) / NOISE_LEVELS."""
    half = NOISE_LEVELS // 2
    normal = statistics.NormalDist()
    low = np.array([normal.inv_cdf((k + 0.5) / NOISE_LEVELS) for k in range(half)])
    out = np.concatenate([low, -low[::-1]])
    out.flags.writeable = False
    return out


def lognormal_levels(sigma: float) -> np.ndarray:
    """(NOISE_LEVELS,) float32 ``exp(sigma * z_k)`` at the standard normal's quantiles
    ``z_k`` of probability (k + 1/2) / NOISE_LEVELS: a uniform uint16 index into it is a
    draw of LN(0, sigma) on 2^16 equiprobable levels (the normal's body exactly, its
    tails cut at about 4.3 sigma)."""
    return np.exp(sigma * _normal_levels()).astype(np.float32)
