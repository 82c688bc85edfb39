"""A day of the validators' observations of the miners, on arrays.

Every score (one validator's running score of one miner) takes two uniform 16-bit words
of the run's generator. The first indexes a table of log-normal noise levels
(:func:`~sim.engine.kernels.consensus.lognormal_levels`): the score gains the miner's
helpfulness seen that day times that level. The second is a uniform U on [0, 1) to 16
bits, refined by a uniform double where it ties a threshold: the score is *probed* when
U < probe rate and *answered* (the miner completed the harmful probe, and the score is
cut by the penalty) when U < probe rate x the miner's answer probability. One uniform
decides both, so a probe is answered with the answer probability, as if the answer had
been drawn on its own.

:func:`observe` is the numpy statement; :mod:`sim.engine.kernels.compiled` does the same
in one compiled pass, with the same results bit for bit.
"""

from __future__ import annotations

import numpy as np

from sim.engine.kernels.consensus import BLOCK_SCORES, NOISE_LEVELS

__all__ = ["WORD", "observe", "probe_thresholds", "settle_ties"]

#: Equiprobable values of a 16-bit word (a noise word indexes one of as many levels).
WORD = NOISE_LEVELS


def probe_thresholds(
    rate: float, answering: np.ndarray, active: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(N,) int64 ``answered_below`` and ``probed_below``: the 16-bit probe words below
    ``floor(rate x answering x 2^16)`` (resp. ``floor(rate x 2^16)``) are answered
    (probed) for sure, a word equal to it is a tie settled by :func:`settle_ties`.
    Offline miners, and every miner when ``rate`` is 0, get -1: never probed.

    Args:
        rate: probability that a validator probes a miner on a day.
        answering: (N,) probability that each miner answers a probe, in [0, 1].
        active: (N,) bool, miner online.
    """
    if rate <= 0:
        never = np.full(active.size, -1, dtype=np.int64)
        return never, never.copy()
    answered = np.floor(rate * answering * WORD).astype(np.int64)
    probed = np.full(active.size, int(rate * WORD), dtype=np.int64)
    return np.where(active, answered, -1), np.where(active, probed, -1)


def observe(
    scores: np.ndarray,
    words: np.ndarray,
    levels: np.ndarray,
    seen: np.ndarray,
    answered_below: np.ndarray,
    probed_below: np.ndarray,
    keep: np.float32,
) -> tuple[int, int, np.ndarray]:
    """Add each score's noisy observation and cut the answered probes, in place.

    Args:
        scores: (N, V) float32 scores by miner, changed in place.
        words: (>= 2 N V,) uint16: N V noise words, then N V probe words, by miner.
        levels: (2^16,) float32 noise levels.
        seen: (N,) float32 what every validator sees of each miner before noise.
        answered_below, probed_below: (N,) int64 thresholds of :func:`probe_thresholds`.
        keep: float32 factor of an answered probe's score (1 - penalty).

    Returns:
        ``(probed, answered, ties)``: probes sent and answered among the words below
        their thresholds, and the flat indices (int64, ascending) of the scores whose
        probe word ties a threshold, for :func:`settle_ties`.
    """
    n, n_val = scores.shape
    size = n * n_val
    level = words[:size].reshape(n, n_val)
    draw = words[size : 2 * size].reshape(n, n_val)
    rows = max(1, BLOCK_SCORES // max(n_val, 1))
    noise = np.empty((min(n, rows), n_val), dtype=np.float32)
    # thresholds in [-1, 2^16]: 32-bit compares with the 16-bit words cost half of 64-bit
    answered_below, probed_below = (t.astype(np.int32) for t in (answered_below, probed_below))
    probed = answered = 0
    ties = []
    for first in range(0, n, rows):  # a block at a time: it stays in cache
        last = min(n, first + rows)
        block, word = scores[first:last], draw[first:last]
        part = noise[: last - first]
        np.take(levels, level[first:last], out=part, mode="clip")
        part *= seen[first:last, None]
        block += part
        low, high = answered_below[first:last, None], probed_below[first:last, None]
        hit = word < low
        np.multiply(block, keep, out=block, where=hit)
        answered += int(np.count_nonzero(hit))
        probed += int(np.count_nonzero(word < high))
        tie = np.flatnonzero((word == low) | (word == high))
        ties.append(tie + first * n_val)
    return probed, answered, np.concatenate(ties) if ties else np.zeros(0, dtype=np.int64)


def settle_ties(
    scores: np.ndarray,
    probe_words: np.ndarray,
    ties: np.ndarray,
    rate: float,
    answering: np.ndarray,
    probed_below: np.ndarray,
    keep: np.float32,
    rng: np.random.Generator,
) -> tuple[int, int]:
    """Settle the probe words that tie a threshold with one uniform double each: U =
    (word + u) / 2^16 is probed below ``rate``, answered below ``rate x answering``.
    Cuts the answered scores in place; returns the change to :func:`observe`'s
    ``(probed, answered)`` (a tie at the answer threshold was counted as probed).

    Args:
        scores: (N, V) float32 scores by miner.
        probe_words: (N V,) uint16 probe words, by miner.
        ties: flat indices of :func:`observe`.
        rate, answering: as for :func:`probe_thresholds`.
        probed_below: (N,) int64 of :func:`probe_thresholds`.
        keep: float32 factor of an answered probe's score.
        rng: the run's generator (one double per tie).
    """
    if ties.size == 0:
        return 0, 0
    n_val = scores.shape[1]
    miner = ties // n_val
    word = probe_words[ties].astype(np.int64)
    u = (word + rng.random(ties.size)) / WORD
    probed = u < rate
    answered = u < rate * answering[miner]
    scores.reshape(-1)[ties[answered]] *= keep
    counted = int(np.count_nonzero(word < probed_below[miner]))
    return int(probed.sum()) - counted, int(answered.sum())
