"""The validators' compiled kernels (numba) give numpy's numbers bit for bit: the
observations, the consensus passes and whole runs; the sorting network sorts; the probe
words probe and find answers with the stated probabilities; DIRISK_KERNELS chooses."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.cli import main
from sim.engine.kernels.backend import KernelChoiceError, kernels
from sim.engine.kernels.consensus import sorting_network, yuma_incentive
from sim.engine.kernels.observation import WORD, observe, probe_thresholds, settle_ties

COMPILED = kernels("numba")
NUMPY = kernels("numpy")


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(1, 300),
    n_val=st.sampled_from([1, 2, 5, 64, 70]),
    rate=st.sampled_from([0.0, 1e-4, 0.2, 0.25, 1.0]),
    answers=st.sampled_from(["none", "all", "mixed"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_compiled_observation_equals_numpy(n, n_val, rate, answers, seed):
    """Noise, cuts, probe counts and ties are the same, offline miners and rates of 0
    and 1 included; ties come out in ascending order."""
    rng = np.random.default_rng(seed)
    scores = rng.lognormal(0, 0.5, (n, n_val)).astype(np.float32)
    words = rng.integers(0, WORD, 2 * n * n_val, dtype=np.uint16)
    words[: n_val * 2] = min(int(rate * WORD), WORD - 1)  # ties at the probe threshold
    levels = np.exp(0.1 * rng.standard_normal(WORD)).astype(np.float32)
    seen = rng.random(n).astype(np.float32)
    active = rng.random(n) < 0.8
    answering = {"none": np.zeros(n), "all": np.ones(n), "mixed": rng.random(n)}[answers]
    low, high = probe_thresholds(rate, answering, active)
    a, b = scores.copy(), scores.copy()
    got = COMPILED.observe(a, words, levels, seen, low, high, np.float32(0.1))
    want = NUMPY.observe(b, words, levels, seen, low, high, np.float32(0.1))
    assert got[:2] == want[:2]
    assert np.array_equal(got[2], want[2]) and (np.diff(got[2]) > 0).all()
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    "n, n_val, n_subnets", [(1, 1, 1), (7, 3, 2), (600, 64, 3), (4099, 64, 17), (300, 70, 2)]
)
@pytest.mark.parametrize("kappa", [0.0, 0.5, 1.0])
def test_compiled_consensus_equals_numpy(n, n_val, n_subnets, kappa):
    """Subnet scale, clipped weights and incentive are equal to the last bit, with ties
    between validators, offline miners and validators without stake."""
    rng = np.random.default_rng(n + n_val)
    scores = rng.lognormal(0, 0.3, (n, n_val)).astype(np.float32)
    scores[::5] = np.round(scores[::5] * 2) / 2  # equal weights
    active = rng.random(n) < 0.9
    stake = rng.integers(0, 1 << 20, n_val)
    stake[0] += 1
    for chosen in (COMPILED, NUMPY):
        assert chosen.subnet_scale(scores, active, n_subnets).dtype == np.float32
    scale = COMPILED.subnet_scale(scores, active, n_subnets)
    assert np.array_equal(scale, NUMPY.subnet_scale(scores, active, n_subnets))
    got = COMPILED.clipped_weights(scores, active, scale, stake, kappa)
    want = NUMPY.clipped_weights(scores, active, scale, stake, kappa)
    assert np.array_equal(got, want)
    assert np.array_equal(
        yuma_incentive(scores, active, stake, kappa, n_subnets, COMPILED),
        yuma_incentive(scores, active, stake, kappa, n_subnets, NUMPY),
    )


@pytest.mark.parametrize("preset", ["protocol_self_governance", "defence_in_depth"])
def test_runs_are_the_same_with_either_kernels(monkeypatch, preset):
    """Every table of a validators preset is identical under DIRISK_KERNELS=numba and
    numpy."""
    tables = {}
    for choice in ("numba", "numpy"):
        monkeypatch.setenv("DIRISK_KERNELS", choice)
        tables[choice] = sim.run(preset, seed=3, steps=40).tables()
    for name, frame in tables["numba"].items():
        assert frame.equals(tables["numpy"][name]), name


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 11, 12])
def test_sorting_network_sorts_every_zero_one_input(n):
    """The 0-1 principle: a comparator network that sorts every sequence of 0s and 1s
    sorts every sequence."""
    low, high = sorting_network(n)
    assert (low < high).all() and (high < n).all()
    for bits in itertools.product((0, 1), repeat=n):
        items = list(bits)
        for i, j in zip(low, high, strict=True):
            items[i], items[j] = min(items[i], items[j]), max(items[i], items[j])
        assert items == sorted(bits)


@pytest.mark.parametrize("n", [64, 70])
def test_sorting_network_sorts_random_rows(n):
    rng = np.random.default_rng(n)
    rows = rng.integers(0, 50, (n, 200))  # a column per sequence, with repeats
    out = rows.copy()
    for i, j in zip(*sorting_network(n), strict=True):
        out[i], out[j] = np.minimum(out[i], out[j]), np.maximum(out[i], out[j])
    assert np.array_equal(out, np.sort(rows, axis=0))


def test_a_probe_is_answered_with_the_answer_probability():
    """One uniform per score decides probe and answer: P(probed) = rate and
    P(answered | probed) = the miner's answer probability."""
    rng = np.random.default_rng(5)
    n, n_val, rate = 4000, 64, 0.3
    answering = np.where(np.arange(n) % 2 == 0, 0.25, 0.8)
    active = np.ones(n, dtype=bool)
    low, high = probe_thresholds(rate, answering, active)
    scores = np.ones((n, n_val), dtype=np.float32)
    words = rng.integers(0, WORD, 2 * n * n_val, dtype=np.uint16)
    levels = np.ones(WORD, dtype=np.float32)
    probed, answered, ties = observe(
        scores, words, levels, np.zeros(n, np.float32), low, high, np.float32(0.0)
    )
    more = settle_ties(
        scores, words[n * n_val :], ties, rate, answering, high, np.float32(0.0), rng
    )
    probed, answered = probed + more[0], answered + more[1]
    trials = n * n_val
    assert probed == pytest.approx(rate * trials, abs=5 * np.sqrt(trials * rate))
    expected = rate * trials * answering.mean()
    assert answered == pytest.approx(expected, abs=5 * np.sqrt(expected))
    assert (scores == 0).sum() == answered  # every answered score, and only those, is cut
    even = (scores[::2] == 0).sum() / (rate * trials / 2)
    assert even == pytest.approx(0.25, abs=0.01)


def test_a_tie_is_settled_by_a_double():
    """A probe word equal to floor(rate x 2^16) is probed with probability equal to the
    fraction that rounding dropped."""
    rate = 1000.5 / WORD  # the word 1000 is probed half the time
    n = 20000
    answering = np.zeros(n)
    low, high = probe_thresholds(rate, answering, np.ones(n, dtype=bool))
    words = np.full(2 * n, 1000, dtype=np.uint16)
    scores = np.ones((n, 1), dtype=np.float32)
    probed, _, ties = observe(
        scores,
        words,
        np.ones(WORD, np.float32),
        np.zeros(n, np.float32),
        low,
        high,
        np.float32(0.5),
    )
    assert probed == 0 and ties.size == n
    more, answered = settle_ties(
        scores, words[n:], ties, rate, answering, high, np.float32(0.5), np.random.default_rng(1)
    )
    assert more == pytest.approx(n / 2, abs=5 * np.sqrt(n / 4)) and answered == 0


def test_offline_miners_and_a_zero_rate_are_never_probed():
    low, high = probe_thresholds(0.5, np.ones(3), np.array([True, False, True]))
    assert list(low) == [32768, -1, 32768] and list(high) == [32768, -1, 32768]
    assert (np.concatenate(probe_thresholds(0.0, np.ones(3), np.ones(3, dtype=bool))) == -1).all()


def test_kernels_choice_is_checked(monkeypatch):
    monkeypatch.setenv("DIRISK_KERNELS", "fortran")
    with pytest.raises(KernelChoiceError, match="DIRISK_KERNELS=.fortran.: expected one of auto"):
        kernels()
    monkeypatch.setenv("DIRISK_KERNELS", "auto")
    assert kernels().name == "numba"  # numba is a dependency


def test_the_cli_refuses_an_unknown_kernel_choice_in_one_line(monkeypatch, capsys, tmp_path):
    """A bad DIRISK_KERNELS is bad input: exit 2, one line on stderr, no traceback."""
    monkeypatch.setenv("DIRISK_KERNELS", "fortran")
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_:
        main(["run", "protocol_self_governance", "--steps", "2", "--quiet", "--out", str(out)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "error: DIRISK_KERNELS='fortran': expected one of auto, numba, numpy"
    ]
