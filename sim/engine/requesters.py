"""Requester populations as arrays: one entry per individual, never one object per request."""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field

import numpy as np

from sim.engine.kernels.run_sums import Runs
from sim.engine.kernels.serving import Demand, ServingResult
from sim.scenario import REQUESTER_KINDS, Scenario

__all__ = ["MALICIOUS", "Requesters", "apportion", "vpn_exits"]

#: Index of the malicious requester kind.
MALICIOUS = REQUESTER_KINDS.index("malicious")


def apportion(total: int, shares: np.ndarray) -> np.ndarray:
    """Split ``total`` into integer parts proportional to ``shares`` (largest remainder).

    The parts sum to ``total`` exactly and each is within 1 of ``total * share``.
    """
    shares = np.asarray(shares, dtype=np.float64)
    exact = total * shares / shares.sum() if shares.sum() > 0 else np.zeros_like(shares)
    parts = np.floor(exact).astype(np.int64)
    short = total - int(parts.sum())
    if short > 0:
        parts[np.argsort(-(exact - parts), kind="stable")[:short]] += 1
    return parts


@dataclass
class Requesters:
    """Every requester's traits (length R each), in blocks of one jurisdiction and kind.

    Individual traits (VPN use and exit, verified identity, remembered node) are drawn
    per requester; behavioural parameters (rate, mix, persistence, jailbreak attempts)
    are those of the requester's block (its kind's profile with its jurisdiction's
    overrides).
    """

    jurisdiction: np.ndarray  #: int, residence
    kind: np.ndarray  #: int, index into REQUESTER_KINDS
    vpn: np.ndarray  #: bool, appears elsewhere through a VPN
    apparent: np.ndarray  #: int, jurisdiction the market sees (exit node if vpn)
    verified: np.ndarray  #: bool, holds a verified (or forged) identity
    known: np.ndarray  #: int, the node a requester remembers as serving it (-1: none)
    kind_memory: np.ndarray  #: (K,) probability of remembering a serving node
    kind_loyalty: np.ndarray  #: (K,) probability of going first to the remembered node
    kind_word_of_mouth: np.ndarray  #: (K,) daily probability of learning a node from others
    kind_give_up: np.ndarray  #: (K,) probability of abandoning after a KYC gate
    block_start: np.ndarray  #: (B+1,) requesters sit in contiguous blocks of one
    #: jurisdiction and kind: block b is ``block_start[b]:block_start[b+1]``
    block_rate: np.ndarray  #: (B,) mean requests per requester per day in each block
    block_mix: np.ndarray  #: (B, C) category mix of each block
    block_persistence: np.ndarray  #: (B,) retries after a refusal
    block_jailbreak: np.ndarray  #: (B,) probability that a request carries a jailbreak
    _flag_buffer: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def size(self) -> int:
        """Number of requesters."""
        return int(self.kind.size)

    @classmethod
    def create(cls, scenario: Scenario, rng: np.random.Generator) -> Requesters:
        """Draw the population: counts by jurisdiction and kind are apportioned exactly,
        individual traits (VPN use, verification, VPN exit) are Bernoulli/categorical draws."""
        jur_names = list(scenario.jurisdictions)
        cat_names = list(scenario.categories)
        spec = scenario.requesters
        kinds = [spec.kinds[k] for k in REQUESTER_KINDS]
        per_jur = apportion(
            spec.count, np.array([j.requester_share for j in scenario.jurisdictions.values()])
        )
        kind_shares = np.array([p.share for p in kinds])
        counts = np.stack([apportion(int(n), kind_shares) for n in per_jur]).ravel()  # (J*K,)
        blocks = [scenario.profile(j, k) for j in jur_names for k in REQUESTER_KINDS]
        jurisdiction = np.repeat(np.repeat(np.arange(len(jur_names)), len(kinds)), counts)
        kind = np.repeat(np.tile(np.arange(len(kinds)), len(jur_names)), counts)

        def trait(name: str, dtype: type) -> np.ndarray:
            return np.repeat(np.array([getattr(p, name) for p in blocks], dtype=dtype), counts)

        vpn = rng.random(kind.size) < trait("vpn_use", np.float64)
        exit_weights = np.array(
            [
                0.0 if j.enforcement.geo_block_foreign else j.hosting_share
                for j in scenario.jurisdictions.values()
            ]
        )
        apparent = jurisdiction.copy()
        if vpn.any() and exit_weights.sum() > 0:
            apparent[vpn] = vpn_exits(jurisdiction[vpn], exit_weights, rng)
        return cls(
            jurisdiction=jurisdiction.astype(np.int64),
            kind=kind.astype(np.int64),
            vpn=vpn,
            apparent=apparent.astype(np.int64),
            verified=rng.random(kind.size) < trait("kyc_verified", np.float64),
            known=np.full(kind.size, -1, dtype=np.int64),
            kind_memory=np.array([p.memory for p in kinds]),
            kind_loyalty=np.array([p.loyalty for p in kinds]),
            kind_word_of_mouth=np.array([p.word_of_mouth for p in kinds]),
            kind_give_up=np.array([p.kyc_give_up for p in kinds]),
            block_start=np.r_[0, np.cumsum(counts)].astype(np.int64),
            block_rate=np.array([p.requests_per_day for p in blocks]),
            block_mix=np.array([[p.category_mix.get(c, 0.0) for c in cat_names] for p in blocks]),
            block_persistence=np.array([p.persistence for p in blocks], dtype=np.int16),
            block_jailbreak=np.array([p.jailbreak_attempt for p in blocks]),
        )

    @functools.cached_property
    def block_sizes(self) -> np.ndarray:
        """(B,) requesters per block (block = jurisdiction x kind)."""
        return np.diff(self.block_start)

    @functools.cached_property
    def block_kind(self) -> np.ndarray:
        """(B,) requester kind of each block."""
        return np.arange(self.block_sizes.size) % len(REQUESTER_KINDS)

    @functools.cached_property
    def _run_block(self) -> np.ndarray:
        """(C*B,) int32 block of each run of requests that :meth:`emit` makes, category
        by category, block by block."""
        n_blocks, n_cat = self.block_mix.shape
        return np.tile(np.arange(n_blocks, dtype=np.int32), n_cat)

    @functools.cached_property
    def _run_cell(self) -> np.ndarray:
        """(C*B,) int32 cell (``block * C + category``) of each run of :meth:`emit`."""
        n_blocks, n_cat = self.block_mix.shape
        return self._run_block * n_cat + np.repeat(np.arange(n_cat, dtype=np.int32), n_blocks)

    @functools.cached_property
    def learning(self) -> bool:
        """Some kind can learn a node (by memory or word of mouth)."""
        return bool(self.kind_memory.any() or self.kind_word_of_mouth.any())

    @functools.cached_property
    def _blocks(self) -> Runs:
        """The blocks as runs of requesters."""
        return Runs.of(self.block_sizes)

    @functools.cached_property
    def _flag_dtype(self) -> type:
        """Type of the per-requester flags: uint16 while every block's count fits in it,
        summed over each block in that type (summing into a wider one costs a cast, three
        times the sum); else bool, counted block by block (``count_nonzero``: a byte per
        requester and no cast, for blocks large enough that a call per block is cheap)."""
        return np.uint16 if self.block_sizes.max(initial=0) <= np.iinfo(np.uint16).max else bool

    def block_counts(self, *groups: tuple[np.ndarray, np.ndarray | None]) -> np.ndarray:
        """(B, len(groups)): per block, the number of *distinct* requesters in each group.

        A group is ``(who, flag)``: the requester of each of some requests and, unless
        None, which of those requests count (bool, like ``who``).
        """
        seen = self._flags(len(groups))
        for row, (who, flag) in zip(seen, groups, strict=True):
            if flag is None:
                row[who] = 1  # 1-D fancy assignment: twice as fast as seen[i, who]
            elif row.dtype == bool:
                row[who[flag]] = True
            else:  # seen if any of the requester's requests counts (same type: fast loop)
                np.maximum.at(row, who, flag.astype(row.dtype))
        return self._block_sums(seen).T

    def knowing_counts(self) -> np.ndarray:
        """(B, 1): per block, requesters who know a node (none without memory or word of
        mouth, the only ways to learn one)."""
        if not self.learning:
            return np.zeros((self.block_sizes.size, 1), dtype=self._flag_dtype)
        flags = self._flags(1)
        np.greater_equal(self.known, 0, out=flags[0])
        return self._block_sums(flags).T

    def _block_sums(self, flags: np.ndarray) -> np.ndarray:
        """(rows, B) flags set in each block (see :attr:`_flag_dtype`)."""
        if flags.dtype != bool:
            return self._blocks.sums(flags)
        bounds = list(itertools.pairwise(self.block_start.tolist()))
        return np.array([[np.count_nonzero(row[a:b]) for a, b in bounds] for row in flags])

    def _flags(self, rows: int) -> np.ndarray:
        """(rows, R) zeros of :attr:`_flag_dtype`, one per requester.

        Kept between calls and cleared in place: a fresh allocation this size costs more
        than the sums.
        """
        buffer = self._flag_buffer
        if buffer is None or buffer.shape[0] < rows:
            shape = (rows, self.size)
            buffer = self._flag_buffer = np.zeros(shape, dtype=self._flag_dtype)
        flags = buffer[:rows]
        flags.fill(0)
        return flags

    def emit(self, rng: np.random.Generator) -> Demand:
        """One day's requests: each requester emits Poisson(rate x mix) requests per
        category.

        Drawn per block (a block's requesters share rate and mix): the block's count per
        category is Poisson(size x rate x mix) and each request's requester is uniform in
        the block, which is the same distribution as independent per-requester draws.
        """
        sizes = self.block_sizes
        n_cat = self.block_mix.shape[1]
        counts = rng.poisson((sizes * self.block_rate)[:, None] * self.block_mix)  # (B, C)
        # Requests come category by category, block by block within a category: the
        # requests of a category are one run.
        runs = counts.T.ravel()
        per_category = counts.sum(axis=0)

        def per_request(per_block: np.ndarray) -> np.ndarray:
            """Each request's value of a block trait."""
            return np.repeat(per_block[self._run_block], runs)

        cell = np.repeat(self._run_cell, runs)
        category_start = np.zeros(n_cat + 1, dtype=np.int64)
        np.cumsum(per_category, out=category_start[1:])
        size = per_request(sizes)
        offset = np.minimum((rng.random(cell.size) * size).astype(np.int32), size - 1)
        who = per_request(self.block_start[:-1].astype(np.int32)) + offset
        if self.kind_loyalty.any():
            loyal = rng.random(who.size) < per_request(self.kind_loyalty[self.block_kind])
            preferred = np.where(loyal, self.known[who], -1)
        else:
            preferred = np.broadcast_to(np.int64(-1), who.shape)  # none, read-only
        return Demand(
            requester=who,
            category=np.repeat(np.arange(n_cat, dtype=np.int32), per_category),
            cell=cell,
            apparent=self.apparent[who],
            persistence=per_request(self.block_persistence),
            jailbreak=per_request(self.block_jailbreak),
            verified=self.verified[who],
            kyc_give_up=per_request(self.kind_give_up[self.block_kind]),
            preferred=preferred,
            category_start=category_start,
        )

    def learn(
        self, demand: Demand, outcome: ServingResult, active: np.ndarray, rng: np.random.Generator
    ) -> None:
        """Update remembered nodes after a step.

        A requester forgets its node when the first attempt there failed or the node is
        gone; remembers a node that served it with its kind's memory probability; and,
        without a node, learns one from the shared list of its kind (word of mouth).
        """
        if not self.learning:
            return
        who = demand.requester
        served = outcome.served
        tried_known = (demand.preferred >= 0) & (outcome.first_node == demand.preferred)
        self.known[who[tried_known & (outcome.node != demand.preferred)]] = -1
        remember = served & (rng.random(who.size) < self.kind_memory[self.kind[who]])
        self.known[who[remember]] = outcome.node[remember]
        holding = self.known >= 0
        self.known[holding] = np.where(active[self.known[holding]], self.known[holding], -1)
        for k in np.flatnonzero(self.kind_word_of_mouth):
            mine = self.kind == k
            pool = self.known[mine & (self.known >= 0)]
            seekers = np.flatnonzero(mine & (self.known < 0))
            if pool.size == 0 or seekers.size == 0:
                continue
            seekers = seekers[rng.random(seekers.size) < self.kind_word_of_mouth[k]]
            self.known[seekers] = pool[rng.integers(0, pool.size, seekers.size)]


def vpn_exits(residence: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exit jurisdiction of each VPN user: drawn by ``weights`` among the *other*
    jurisdictions (a VPN user with no other exit keeps their residence)."""
    out = residence.copy()
    for home in np.unique(residence):
        w = weights.copy()
        w[home] = 0.0
        if w.sum() <= 0:
            continue
        mine = residence == home
        out[mine] = rng.choice(weights.size, size=int(mine.sum()), p=w / w.sum())
    return out
