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

from typing import TYPE_CHECKING

import numpy as np

from sim.engine.kernels.backend import kernels
from sim.engine.kernels.consensus import lognormal_levels, yuma_incentive
from sim.engine.kernels.observation import probe_thresholds, settle_ties
from sim.engine.protocols.base import MarketProtocol
from sim.scenario import Scenario
from sim.scenario import Validators as ValidatorSpec

if TYPE_CHECKING:
    from sim.engine.model import DiriskModel
    from sim.engine.nodes import NodeTable

__all__ = ["STAKE_UNITS", "ValidatorProtocol", "ValidatorSet"]


#: Stake is held in whole units: the validators' total is about 2^26 of them.
STAKE_UNITS = 1 << 26


class ValidatorSet:
    """The validators' stake, their scores of every miner, and the resulting incentive.

    Scores are kept by miner (a row of V single-precision scores per miner, with room
    for miners to join), the layout in which the consensus sorts each miner's
    validators, and up to a common factor (the weights are shares of subnet sums, which
    no common factor changes): the day's decay is that factor, so a day's update is one
    addition per score; :attr:`scores` gives the (V, N) scores themselves.

    Args:
        spec: The scenario's validators block.
        n_subnets: Subnets, fixed at the start; miner i belongs to subnet i mod n_subnets.
        stake: (V,) stake of each validator, in whole units.
        scores: (N, V) score of each miner by each validator.
    """

    def __init__(
        self, spec: ValidatorSpec, n_subnets: int, stake: np.ndarray, scores: np.ndarray
    ) -> None:
        self.spec = spec
        self.n_subnets = n_subnets
        self.stake = stake
        self._rows = np.ascontiguousarray(scores, dtype=np.float32)
        self._n = scores.shape[0]
        self._factor = 1.0  # scores = rows x factor
        self._kernels = kernels()
        self._noise = lognormal_levels(spec.observation_noise)
        #: (N,) share of its subnet's incentive (0 when offline)
        self.incentive = self._incentive(np.ones(self._n, dtype=bool))
        self.probes = 0  #: probes sent in the last step
        self.probes_caught = 0  #: probes a miner answered in the last step

    @classmethod
    def create(cls, spec: ValidatorSpec, n_nodes: int, rng: np.random.Generator) -> ValidatorSet:
        """Validators with log-normal stake (in whole units, about 2^26 in all); every
        miner starts with equal scores; as many subnets as the initial miners fill."""
        drawn = rng.lognormal(0.0, spec.stake_dispersion, spec.count)
        stake = np.rint(drawn / drawn.sum() * STAKE_UNITS).astype(np.int64)
        n_subnets = max(1, -(-n_nodes // spec.miners_per_subnet))
        return cls(spec, n_subnets, stake, np.ones((n_nodes, spec.count), dtype=np.float32))

    @property
    def by_miner(self) -> np.ndarray:
        """(N, V) float32 scores up to the common factor, a row per miner (a view)."""
        return self._rows[: self._n]

    @property
    def scores(self) -> np.ndarray:
        """(V, N) float32 moving average of each validator's scores of each miner."""
        return (self.by_miner * np.float32(self._factor)).T

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
        n = self._n
        fill = (
            self.by_miner.mean(axis=0, dtype=np.float64).astype(np.float32)
            if n
            else np.full(self.spec.count, 1 / self._factor, dtype=np.float32)
        )
        if n + n_new > self._rows.shape[0]:  # room for a quarter more
            grown = np.empty((n + n_new + (n + n_new) // 4, self.spec.count), dtype=np.float32)
            grown[:n] = self.by_miner
            self._rows = grown
        self._rows[n : n + n_new] = fill
        self._n = n + n_new
        self.incentive = np.pad(self.incentive, (0, n_new))

    def update(
        self,
        helpfulness: np.ndarray,
        answering: np.ndarray,
        active: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """One day of scoring, probing and consensus.

        Args:
            helpfulness: (N,) share of benign prompts each miner answers.
            answering: (N,) probability that each miner answers a probe (its answer
                probability averaged over the probe categories, one of which a probe
                draws uniformly; all nan without probe categories).
            active: (N,) bool, miner online.
            rng: the run's generator.

        Two uniform 16-bit words per score (from the generator's raw 64-bit draws)
        decide its noise and its probe (:mod:`sim.engine.kernels.observation`): the
        first indexes :func:`~sim.engine.kernels.consensus.lognormal_levels`; the
        second, a uniform U refined by a double where it ties a threshold, probes the
        score when U < ``probe_rate`` and finds the miner answering when U <
        ``probe_rate`` x its answer probability (the same as drawing the answer on its
        own, or a probe category uniformly, which is never recorded).
        """
        spec = self.spec
        scores = self.by_miner
        n, n_val = scores.shape
        memory = spec.score_memory
        if memory > 0:  # the day's decay goes into the common factor
            self._factor *= memory
            if self._factor < 1e-20:  # keep the stored scores in range
                scores *= np.float32(self._factor)
                self._factor = 1.0
        else:
            scores[...] = 0.0
            self._factor = 1.0
        seen = ((1 - memory) / self._factor * helpfulness * active).astype(np.float32)
        probing = spec.probe_rate > 0 and not np.isnan(answering).all()
        self.probes = self.probes_caught = 0
        if spec.observation_noise > 0 or probing:
            # 16-bit words of little-endian raw 64-bit draws (the same on any platform):
            # a noise level for every score, then a probe word for every score
            size = n * n_val
            words = rng.bit_generator.random_raw(-(-size // 2)).astype("<u8", copy=False)
            words = words.view("<u2")
            rate = spec.probe_rate if probing else 0.0
            answer = answering if probing else np.zeros(n)
            answered_below, probed_below = probe_thresholds(rate, answer, active)
            keep = np.float32(1.0 - spec.penalty)
            probes, caught, ties = self._kernels.observe(
                scores, words, self._noise, seen, answered_below, probed_below, keep
            )
            more_probes, more_caught = settle_ties(
                scores, words[size : 2 * size], ties, rate, answer, probed_below, keep, rng
            )
            self.probes, self.probes_caught = probes + more_probes, caught + more_caught
        else:
            scores += seen[:, None]
        self.incentive = self._incentive(active)

    def _incentive(self, active: np.ndarray) -> np.ndarray:
        return yuma_incentive(
            self.by_miner,
            active,
            self.stake,
            self.spec.consensus_quantile,
            self.n_subnets,
            self._kernels,
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
        kind_helpfulness = 1.0 - model.refusal[:, ~model.harmful].mean(axis=1)
        # A probe's answer probability by node type (host, model kind, compliance; see
        # Market.node_types), averaged over the probe categories.
        n_models = len(model.model_names)
        types = np.arange(len(model.jurisdiction_names) * n_models * 2)
        host, kind, compliant = types // (2 * n_models), (types // 2) % n_models, types % 2
        probes = self.probe_index
        answer = (1 - model.refusal[kind][:, probes]) * (
            1 - model.market.filter_matrix()[host][:, probes] * compliant[:, None]
        )
        answering = answer.mean(axis=1) if probes else np.full(types.size, np.nan)
        self.validators.update(
            kind_helpfulness[nodes.model],
            answering[model.market.node_types()],
            nodes.active,
            model.rng,
        )
        nodes.pay(self.validators.emissions())

    def grow(self, n_new: int) -> None:
        """New miners join with their validators' mean score."""
        self.validators.extend(n_new)

    def probe_counts(self) -> tuple[int, int]:
        """Probes sent and probes answered in the last step."""
        return self.validators.probes, self.validators.probes_caught
