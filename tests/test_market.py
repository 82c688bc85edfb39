"""Market protocols: gateway, peer-to-peer discovery, validators with Yuma consensus."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.engine.kernels.consensus import (
    NOISE_LEVELS,
    consensus,
    incentive,
    lognormal_levels,
    sorted_consensus,
    yuma_incentive,
)
from sim.engine.protocols.validators import ValidatorSet
from sim.scenario import load_scenario
from tests.conftest import tiny_scenario

SEEDS = range(4)


def with_protocol(spec: dict, protocol: str, **options) -> dict:
    spec["market"] = {"protocol": protocol, **({protocol: options} if options else {})}
    return spec


# ------------------------------------------------------------------ gateway


def test_a_gateway_that_catches_everything_lets_no_harm_through():
    spec = with_protocol(
        tiny_scenario(persistence=3), "gateway", prohibited=["harm"], filter_recall=1.0
    )
    m = sim.run(spec).metrics
    assert m["harmful_requests"].sum() > 0 and m["harmful_completed"].sum() == 0


def test_gateway_recall_leaks_at_one_minus_recall_per_attempt():
    spec = with_protocol(
        tiny_scenario(persistence=1, requesters=2000),
        "gateway",
        prohibited=["harm"],
        filter_recall=0.8,
    )
    m = sim.run(spec, seed=3).metrics
    rate = m["harmful_completed"].sum() / m["harmful_requests"].sum()
    assert rate == pytest.approx(1 - 0.8**2, abs=0.03)


def test_gateway_kyc_serves_verified_users_only():
    spec = with_protocol(tiny_scenario(), "gateway", kyc_categories=["harm"])
    spec["requesters"]["kinds"]["malicious"]["kyc_verified"] = 0.5
    m = sim.run(spec, seed=1).metrics
    rate = m["harmful_completed"].sum() / m["harmful_requests"].sum()
    assert rate == pytest.approx(0.5, abs=0.06)  # identity is a trait: the same half passes


def test_gateway_geo_block_drops_requests_from_that_jurisdiction():
    spec = with_protocol(tiny_scenario(jurisdictions=2), "gateway", geo_block=["j0"])
    req = sim.run(spec).requests
    j0 = req[req["jurisdiction"] == "j0"]
    assert j0["served"].sum() == 0 and j0["dropped"].sum() == j0["emitted"].sum()
    assert req[req["jurisdiction"] == "j1"]["served"].sum() > 0


# ------------------------------------------------------------------ peer to peer


def served_nodes(spec: dict, seed: int = 0) -> int:
    states = sim.run(spec, seed=seed).node_states
    return int((states["served_total"] > 0).sum())


def test_p2p_with_depth_zero_reaches_only_the_entry_nodes():
    spec = with_protocol(
        tiny_scenario(nodes=100, requesters=2000), "p2p", entry_points=5, search_depth=0
    )
    assert served_nodes(spec) <= 5


def test_deeper_search_reaches_more_of_the_market_and_lowers_concentration():
    shallow = with_protocol(
        tiny_scenario(nodes=200, requesters=2000), "p2p", entry_points=5, search_depth=1
    )
    deep = with_protocol(
        tiny_scenario(nodes=200, requesters=2000), "p2p", entry_points=5, search_depth=10
    )
    for seed in SEEDS:
        assert served_nodes(deep, seed) > 2 * served_nodes(shallow, seed)
        hhi_deep = sim.run(deep, seed=seed).metrics["hhi_nodes"].mean()
        assert hhi_deep < sim.run(shallow, seed=seed).metrics["hhi_nodes"].mean()


# ------------------------------------------------------------------ validators


def test_consensus_is_the_stake_weighted_median():
    weights = np.array([[0.1], [0.5], [0.9]])
    assert consensus(weights, np.array([1.0, 1.0, 1.0]), 0.5)[0] == 0.5
    assert consensus(weights, np.array([1.0, 1.0, 5.0]), 0.5)[0] == 0.9
    assert consensus(weights, np.array([5.0, 1.0, 1.0]), 0.5)[0] == 0.1


def test_yuma_clipping_caps_a_colluding_validators_weight_at_consensus():
    """Four honest validators (stake 1 each) weight three miners equally; a colluder
    (stake 0.5) puts all its weight on miner 0. Clipped at consensus (1/3), its weight
    counts as 1/3: miner 0 gets (4/3 + 0.5/3) / (4 + 0.5/3) = 0.36, not the unclipped
    (4/3 + 0.5) / 4.5 = 0.407."""
    honest = np.full((4, 3), 1 / 3)
    colluding = np.vstack([honest, [[1.0, 0.0, 0.0]]])
    stake = np.array([1.0, 1.0, 1.0, 1.0, 0.5])
    subnet = np.zeros(3, dtype=np.int64)
    shares = incentive(colluding, stake, 0.5, subnet)
    assert shares[0] == pytest.approx((4 / 3 + 0.5 / 3) / (4 + 0.5 / 3))
    assert shares[0] < (4 / 3 + 0.5) / 4.5


def test_incentive_sums_to_one_in_every_subnet():
    rng = np.random.default_rng(0)
    subnet = np.arange(600) // 256
    inc = incentive(rng.random((8, 600)), rng.random(8), 0.5, subnet)
    assert np.bincount(subnet, weights=inc) == pytest.approx([1.0, 1.0, 1.0])


def permissive_minority(**validators) -> dict:
    spec = tiny_scenario(nodes=200, requesters=2000, steps=40, capacity=100)
    spec["models"]["m"]["refusal"] = {"chat": 0.0, "harm": 1.0}
    spec["models"]["open"] = {
        "refusal": {"chat": 0.0, "harm": 0.0},
        "jailbreak_susceptibility": 1.0,
    }
    for jur in spec["jurisdictions"].values():
        jur["model_mix"] = {"m": 0.7, "open": 0.3}
    return with_protocol(spec, "validators", **validators)


def test_without_probes_the_penalty_changes_nothing():
    a = sim.run(permissive_minority(probe_rate=0.0, penalty=0.0), seed=2)
    b = sim.run(permissive_minority(probe_rate=0.0, penalty=0.9), seed=2)
    pd.testing.assert_frame_equal(a.metrics, b.metrics)


def test_probe_rate_zero_gives_the_traffic_shares_of_no_probing():
    """Probes whose penalty is zero change no score: traffic shares match those of a
    protocol that does not probe, within sampling noise."""

    def permissive_share(spec: dict, seed: int) -> float:
        req = sim.run(spec, seed=seed).requests
        return req["served_permissive"].sum() / req["served"].sum()

    quiet = np.mean([permissive_share(permissive_minority(probe_rate=0.0), s) for s in SEEDS])
    harmless = np.mean(
        [permissive_share(permissive_minority(probe_rate=0.3, penalty=0.0), s) for s in SEEDS]
    )
    assert harmless == pytest.approx(quiet, abs=0.02)


def test_probing_moves_traffic_and_harm_away_from_permissive_miners():
    for seed in SEEDS:
        quiet = sim.run(permissive_minority(probe_rate=0.0), seed=seed).metrics.iloc[-10:]
        probed = sim.run(permissive_minority(probe_rate=0.3), seed=seed).metrics.iloc[-10:]
        assert probed["harm_completion_rate"].mean() < 0.7 * quiet["harm_completion_rate"].mean()


def test_emissions_are_paid_in_proportion_to_incentive():
    spec = permissive_minority(emission_usd_per_subnet_day=100.0)
    model = sim.build_model(spec)
    model.step()
    nodes = model.node_table
    paid = nodes.revenue_step - nodes.served_step * nodes.price
    assert paid.sum() == pytest.approx(100.0)  # 200 miners: one subnet
    assert paid == pytest.approx(100.0 * model.market.protocol.validators.incentive)


def test_gateway_refusals_use_no_node_capacity():
    """Requests the gateway stops never reach a node: the chat requests get all the
    capacity, as if the stopped requests had not been sent."""
    spec = with_protocol(
        tiny_scenario(nodes=10, requesters=1000, capacity=20),
        "gateway",
        prohibited=["harm"],
        filter_recall=1.0,
    )
    m = sim.run(spec).metrics
    assert (m["requests_served"] == 10 * 20).all()
    assert m["harmful_completed"].sum() == 0


def test_offline_miners_earn_no_incentive_or_emissions():
    spec = permissive_minority(emission_usd_per_subnet_day=100.0)
    spec["timeline"] = [{"step": 0, "kind": "node_shock", "action": "remove", "count": 50}]
    model = sim.build_model(spec, steps=3)
    for _ in range(3):
        model.step()
    offline = ~model.node_table.active
    assert offline.sum() == 50
    assert (model.market.protocol.validators.incentive[offline] == 0).all()
    assert model.market.protocol.validators.emissions().sum() == pytest.approx(100.0)


def test_subnets_stay_balanced_as_miners_join():
    spec = permissive_minority()
    spec["nodes"]["count"] = 600
    spec["timeline"] = [{"step": 0, "kind": "node_shock", "action": "add", "count": 60}]
    model = sim.build_model(spec, steps=2)
    model.step()
    model.step()
    sizes = np.bincount(model.market.protocol.validators.subnet(model.node_table.size))
    assert list(sizes) == [220, 220, 220]
    relative = model.market.protocol.validators.relative_incentive(model.node_table.active)
    assert relative.mean() == pytest.approx(1.0)


# ------------------------------------------------------------------ validators: fast kernels


@settings(max_examples=60, deadline=None)
@given(
    n_miners=st.integers(1, 40),
    n_val=st.sampled_from([1, 3, 5, 8, 64, 70]),
    kappa=st.sampled_from([0.0, 0.3, 0.5, 0.9, 1.0]),
    ties=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_sorted_consensus_equals_the_stake_weighted_quantile(n_miners, n_val, kappa, ties, seed):
    """Keys that carry weight and stake together give exactly the quantile of the
    argsort and running sum over each miner's validators, ties included."""
    rng = np.random.default_rng(seed)
    weights = rng.random((n_miners, n_val)).astype(np.float32)
    if ties:  # repeated weights (all validators agree at the start)
        weights = np.round(weights * 4).astype(np.float32) / 4
    stake = rng.integers(0, 1 << 20, n_val)
    stake[0] += 1  # some stake
    got = sorted_consensus(weights, stake, kappa)
    expected = consensus(weights.T.astype(np.float64), stake.astype(np.float64), kappa)
    assert (got == expected).all()


@pytest.mark.parametrize("n_miners, n_subnets", [(1, 1), (600, 3), (5000, 20), (4099, 17)])
def test_yuma_incentive_by_miner_equals_the_incentive_by_validator(n_miners, n_subnets):
    """Scores by miner in single precision, stake in whole units, blocks of subnets:
    the incentive of the (validators, miners) statement to single precision, offline
    miners at zero, every subnet with online miners summing to one."""
    rng = np.random.default_rng(n_miners)
    scores = rng.lognormal(0, 0.3, (n_miners, 64)).astype(np.float32)
    active = rng.random(n_miners) < 0.9
    active[0] = True
    stake = rng.integers(1, 1 << 24, 64)
    subnet = np.arange(n_miners) % n_subnets
    got = yuma_incentive(scores, active, stake, 0.5, n_subnets)
    online = (scores * active[:, None]).T.astype(np.float64)
    expected = incentive(online, stake.astype(np.float64), 0.5, subnet)
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-9)
    assert (got[~active] == 0).all()
    sums = np.bincount(subnet, weights=got, minlength=n_subnets)
    has_online = np.bincount(subnet, weights=active, minlength=n_subnets) > 0
    assert sums[has_online] == pytest.approx(1.0)


def test_lognormal_levels_are_the_normal_quantiles_through_exp():
    sigma = 0.1
    levels = lognormal_levels(sigma).astype(np.float64)
    z = np.log(levels) / sigma
    assert levels.size == NOISE_LEVELS and (np.diff(levels) >= 0).all()
    assert z.mean() == pytest.approx(0.0, abs=1e-6) and z.std() == pytest.approx(1.0, abs=1e-3)
    assert levels[0] * levels[-1] == pytest.approx(1.0, rel=1e-6)  # symmetric in log


@pytest.mark.parametrize("rate", [0.2, 1.0, 3.5 / 65536, 0.999999])
def test_probes_are_drawn_at_the_probe_rate_for_online_miners_only(rate):
    """Each online miner's score is probed with probability probe_rate (the 16-bit draw
    and the double that settles its rounding band), offline miners never."""
    spec = load_scenario("protocol_self_governance").market.validators
    spec = spec.model_copy(update={"probe_rate": rate, "count": 64})
    rng = np.random.default_rng(1)
    validators = ValidatorSet.create(spec, 2000, rng)
    active = np.arange(2000) % 4 != 0
    probes = []
    for _ in range(20):
        validators.update(np.ones(2000), np.zeros(2000), active, rng)
        probes.append(validators.probes)
    trials = 20 * 64 * active.sum()
    assert np.sum(probes) == pytest.approx(rate * trials, abs=5 * np.sqrt(trials * rate) + 1)
    assert validators.probes_caught == 0  # nobody answers


def test_scores_are_the_moving_average_of_what_validators_see():
    """Without noise or probes every score is the moving average of helpfulness x
    online, whatever common factor the stored rows carry."""
    spec = load_scenario("protocol_self_governance").market.validators
    spec = spec.model_copy(update={"probe_rate": 0.0, "observation_noise": 0.0})
    rng = np.random.default_rng(2)
    validators = ValidatorSet.create(spec, 300, rng)
    help_ = np.linspace(0.5, 1.0, 300)
    active = np.arange(300) % 3 != 0
    expected = np.ones(300)
    for _ in range(700):  # long enough for the common factor to be folded back
        validators.update(help_, np.full(300, np.nan), active, rng)
        expected = spec.score_memory * expected + (1 - spec.score_memory) * help_ * active
    assert validators.scores.shape == (spec.count, 300)
    assert validators.scores == pytest.approx(
        np.broadcast_to(expected, (spec.count, 300)), rel=1e-4, abs=1e-30
    )
