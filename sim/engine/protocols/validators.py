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
from typing import TYPE_CHECKING

import numpy as np

from sim.engine.kernels.consensus import incentive
from sim.engine.protocols.base import MarketProtocol
from sim.scenario import Scenario
from sim.scenario import Validators as ValidatorSpec

if TYPE_CHECKING:
    from sim.engine.model import DiriskModel
    from sim.engine.nodes import NodeTable

__all__ = ["ValidatorProtocol", "ValidatorSet"]


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


class ValidatorProtocol(MarketProtocol):
    """``validators``: reach as in the open market; traffic and emissions follow the
    validators' consensus incentive."""

    name = "validators"

    def __init__(
        self, scenario: Scenario, *, n_nodes: int, n_requesters: int, rng: np.random.Generator
    ) -> None:
        super().__init__(scenario, n_nodes=n_nodes, n_requesters=n_requesters, rng=rng)
        self.validators = ValidatorSet.create(scenario.market.validators, n_nodes, rng)
        probes = scenario.market.validators.probe_categories
        categories = list(scenario.categories)
        harmful = [n for n, c in scenario.categories.items() if c.harmful]
        #: Category indices of the probes (by default the harmful categories)
        self.probe_index = [categories.index(c) for c in (harmful if probes is None else probes)]

    def routing_weights(
        self, nodes: NodeTable, fixed: np.ndarray, quality_factor: np.ndarray
    ) -> np.ndarray:
        """(N,) capacity x the miner's incentive relative to its subnet's online mean."""
        relative = self.validators.relative_incentive(nodes.active)
        return np.where(nodes.active, nodes.capacity * relative, 0.0)

    def daily(self, model: DiriskModel) -> None:
        """Validators score helpfulness and probe miners; emissions are paid."""
        nodes = model.node_table
        helpfulness = 1.0 - model.refusal[nodes.model][:, ~model.harmful].mean(axis=1)
        node_refusal = 1 - (1 - model.refusal[nodes.model]) * (
            1 - model.market.filter_matrix()[nodes.jurisdiction] * nodes.compliant[:, None]
        )
        self.validators.update(
            helpfulness, node_refusal[:, self.probe_index], nodes.active, model.rng
        )
        nodes.pay(self.validators.emissions())

    def grow(self, n_new: int) -> None:
        """New miners join with their validators' mean score."""
        self.validators.extend(n_new)

    def probe_counts(self) -> tuple[int, int]:
        """Probes sent and probes answered in the last step."""
        return self.validators.probes, self.validators.probes_caught
