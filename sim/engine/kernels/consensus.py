"""Yuma-style consensus of a Bittensor-like protocol, on arrays.

A miner's *consensus* weight is the stake-weighted ``kappa``-quantile of the validators'
weights for it; weights above consensus are clipped to it; the miner's *incentive* is its
share of the stake-weighted clipped weights in its subnet (no bonds, no dividends).
"""

from __future__ import annotations

import numpy as np

__all__ = ["consensus", "incentive", "per_subnet"]


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
