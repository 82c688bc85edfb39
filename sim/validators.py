"""Validators of a Bittensor-like protocol: scores, probes and Yuma-style consensus.

Each day every validator observes each miner's helpfulness (the share of benign prompts
its model answers, with log-normal noise) into a moving average of its scores, and
optionally probes a share of miners with a harmful prompt, cutting its running score of
each miner that answers by the penalty. Each validator's scores are normalised to a
weight vector over the miners of a subnet. A miner's *consensus* weight is the
stake-weighted ``kappa``-quantile of the validators' weights for it; weights above
consensus are clipped to it; the miner's *incentive* is its share of the stake-weighted
clipped weights in its subnet. Traffic
and emissions follow incentive (Yuma consensus, simplified: no bonds, no dividends);
offline miners get none. Subnets are formed at the start (``miners_per_subnet`` miners
each) and joiners are dealt round-robin, so they stay balanced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.scenario import Validators as ValidatorSpec


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


@dataclass
class ValidatorSet:
    """The validators' stake, their scores of every miner, and the resulting incentive."""

    spec: ValidatorSpec
    n_subnets: int  #: subnets, fixed at the start; miner i belongs to subnet i mod n_subnets
    stake: np.ndarray  #: (V,) stake of each validator
    scores: np.ndarray  #: (V, N) moving average of each validator's scores
    incentive: np.ndarray  #: (N,) share of its subnet's incentive (0 when offline)
    probes: int = 0  #: probes sent in the last step
    probes_caught: int = 0  #: probes a miner answered in the last step

    @classmethod
    def create(cls, spec: ValidatorSpec, n_nodes: int, rng: np.random.Generator) -> ValidatorSet:
        """Validators with log-normal stake; every miner starts with equal scores; as
        many subnets as the initial miners fill."""
        stake = rng.lognormal(0.0, spec.stake_dispersion, spec.count)
        scores = np.ones((spec.count, n_nodes))
        n_subnets = max(1, -(-n_nodes // spec.miners_per_subnet))
        subnet = np.arange(n_nodes) % n_subnets
        return cls(
            spec=spec,
            n_subnets=n_subnets,
            stake=stake,
            scores=scores,
            incentive=incentive(scores, stake, spec.consensus_quantile, subnet),
        )

    def subnet(self, n_nodes: int) -> np.ndarray:
        """(N,) subnet of each miner: ids are dealt round-robin, so subnets stay balanced
        as miners join."""
        return np.arange(n_nodes) % self.n_subnets

    def relative_incentive(self, active: np.ndarray) -> np.ndarray:
        """(N,) incentive relative to the mean of the online miners of its subnet (1: an
        average miner); traffic follows it across subnets."""
        subnet = self.subnet(active.size)
        online = np.bincount(subnet, weights=active, minlength=self.n_subnets)
        return self.incentive * online[subnet]

    def extend(self, n_new: int) -> None:
        """New miners start with the mean score of their validator (an immunity period)."""
        fill = (
            self.scores.mean(axis=1, keepdims=True)
            if self.scores.size
            else np.ones((self.spec.count, 1))
        )
        self.scores = np.hstack([self.scores, np.repeat(fill, n_new, axis=1)])
        self.incentive = np.pad(self.incentive, (0, n_new))

    def update(
        self,
        helpfulness: np.ndarray,
        probe_refusal: np.ndarray,
        active: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """One day of scoring, probing and consensus.

        Args:
            helpfulness: (N,) share of benign prompts each miner answers.
            probe_refusal: (N, P) probability each miner refuses each probe category.
            active: (N,) bool, miner online.
            rng: the run's generator.
        """
        spec = self.spec
        n_val, n_nodes = self.scores.shape
        noise = (
            np.exp(spec.observation_noise * rng.standard_normal((n_val, n_nodes), dtype=np.float32))
            if spec.observation_noise > 0
            else 1.0
        )  # log-normal, single precision
        observed = helpfulness[None, :] * active[None, :] * noise
        self.scores = spec.score_memory * self.scores + (1 - spec.score_memory) * observed
        self.probes = self.probes_caught = 0
        if spec.probe_rate > 0 and probe_refusal.shape[1] > 0:
            probed = (rng.random((n_val, n_nodes)) < spec.probe_rate) & active[None, :]
            v, i = np.nonzero(probed)
            category = rng.integers(0, probe_refusal.shape[1], v.size)
            answered = rng.random(v.size) >= probe_refusal[i, category]
            self.scores[v[answered], i[answered]] *= 1.0 - spec.penalty
            self.probes, self.probes_caught = int(v.size), int(answered.sum())
        self.incentive = incentive(
            self.scores * active[None, :], self.stake, spec.consensus_quantile, self.subnet(n_nodes)
        )

    def emissions(self) -> np.ndarray:
        """(N,) USD paid to each miner today."""
        return self.spec.emission_usd_per_subnet_day * self.incentive
