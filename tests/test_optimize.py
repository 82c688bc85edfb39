"""The many-objective policy search (``dirisk optimize``, sim.experiments.optimize).

The search itself is checked on a toy evaluation whose front is known (harm falls and
spend rises with one lever, the other lever only costs), injected in place of the sweep
engine so it runs in about a second. One small search on classroom_demo runs end to end
on Dask and writes every output; the command line resumes it and reports bad input in
one line with exit 2.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app, main
from sim.experiments.folder import read_parts
from sim.experiments.optimize import (
    EvaluationBatch,
    Objective,
    OptimizeError,
    futures_without_levers,
    load_levers,
    optimize,
    parse_objectives,
    reduce_outcomes,
)
from sim.experiments.uncertainty import catalogue_for, draw_futures
from sim.output.optimize_report import pareto_figure
from sim.scenario import ScenarioError, load_scenario

#: Two levers of the toy problem: the audit rate lowers harm and costs, the detection
#: probability only costs.
TOY_LEVERS = {
    "levers": [
        {"name": "audit", "path": "jurisdictions.*.enforcement.audit_rate", "bounds": [0.0, 0.2]},
        {
            "name": "detect",
            "path": "jurisdictions.*.enforcement.detection_probability",
            "bounds": [0.0, 1.0],
        },
    ]
}


def toy(batch: EvaluationBatch) -> pd.DataFrame:
    """Harm 100 (1 − a)(1 + f/10) and spend 50 a + 30 b in future f, with a and b the
    levers scaled to [0, 1]: every Pareto-optimal policy has b = 0."""
    rows = []
    for index, levers in enumerate(batch.candidates):
        a, b = levers["audit"] / 0.2, levers["detect"]
        for future in batch.futures["future"]:
            rows.append(
                {
                    "candidate": index,
                    "future": int(future),
                    "harmful_completed": 100 * (1 - a) * (1 + future / 10),
                    "enforcement_spend_usd": 50 * a + 30 * b,
                }
            )
    return pd.DataFrame(rows)


def search(out: Path, seed: int = 1, generations: int = 30, **options) -> object:
    return optimize(
        "classroom_demo",
        TOY_LEVERS,
        out,
        objectives=["harmful_completed:min"],
        futures=3,
        generations=generations,
        population=20,
        seed=seed,
        evaluate=toy,
        **options,
    )


# --------------------------------------------------------------------------- the search


def test_the_search_finds_the_known_front_of_a_toy_problem(tmp_path: Path) -> None:
    result = search(tmp_path / "toy")
    pareto = result.pareto
    assert result.settings["algorithm"] == "NSGA-II"
    assert [str(o) for o in result.objectives] == [
        "harmful_completed:min",
        "enforcement_spend_usd:min",
    ]
    assert len(pareto) >= 10
    # The lever that only costs sits at its lower bound ...
    assert pareto["detect"].max() < 0.02
    # ... and the front spans the other lever's range.
    assert pareto["audit"].min() < 0.02 and pareto["audit"].max() > 0.18
    # Objectives are the mean over the three futures (factors 1, 1.1 and 1.2).
    a = pareto["audit"] / 0.2
    assert np.allclose(pareto["harmful_completed"], 110 * (1 - a))
    assert np.allclose(pareto["enforcement_spend_usd"], 50 * a + 30 * pareto["detect"])
    # No Pareto policy is dominated by any candidate the search evaluated.
    history = result.history
    for row in pareto.itertuples():
        better = (history["harmful_completed"] <= row.harmful_completed) & (
            history["enforcement_spend_usd"] <= row.enforcement_spend_usd
        )
        strictly = (history["harmful_completed"] < row.harmful_completed) | (
            history["enforcement_spend_usd"] < row.enforcement_spend_usd
        )
        assert not (better & strictly).any()
    assert len(history) == 30 * 20


def test_the_same_seed_gives_the_same_search_and_another_seed_another(tmp_path: Path) -> None:
    first = search(tmp_path / "a", seed=5, generations=5)
    again = search(tmp_path / "b", seed=5, generations=5)
    other = search(tmp_path / "c", seed=6, generations=5)
    pd.testing.assert_frame_equal(first.history, again.history)
    assert (tmp_path / "a" / "pareto.csv").read_text() == (
        tmp_path / "b" / "pareto.csv"
    ).read_text()
    assert not first.history[["audit", "detect"]].equals(other.history[["audit", "detect"]])


def test_more_generations_continue_the_same_search(tmp_path: Path) -> None:
    search(tmp_path / "run", seed=2, generations=3)
    longer = search(tmp_path / "run", seed=2, generations=6)
    fresh = search(tmp_path / "fresh", seed=2, generations=6)
    pd.testing.assert_frame_equal(longer.history, fresh.history)
    with pytest.raises(OptimizeError, match="differs in seed"):
        search(tmp_path / "run", seed=3, generations=3)


def test_four_objectives_use_nsga3_and_reevaluate_the_pareto_policies(tmp_path: Path) -> None:
    def four(batch: EvaluationBatch) -> pd.DataFrame:
        table = toy(batch)
        table["benign_over_refusal"] = table["enforcement_spend_usd"] / 100
        table["dual_use_over_refusal"] = 1 - table["harmful_completed"] / 200
        return table

    result = optimize(
        "classroom_demo",
        TOY_LEVERS,
        tmp_path / "four",
        futures=2,
        generations=3,
        population=8,
        seed=1,
        evaluate=four,
    )
    assert result.settings["algorithm"] == "NSGA-III" and len(result.objectives) == 4
    table = result.reevaluation
    assert table is not None and list(table["policy"]) == list(result.pareto["policy"])
    assert {"harmful_completed_reevaluated", "rank_reevaluated"} <= set(table.columns)
    assert table["non_dominated"].any()


def test_q90_takes_the_worse_side_of_each_objective() -> None:
    table = pd.DataFrame(
        {
            "candidate": [0] * 11 + [1] * 11,
            "future": list(range(11)) * 2,
            "harmful_completed": list(range(11)) * 2,
            "requests_served": list(range(11)) * 2,
        }
    )
    objectives = [Objective("harmful_completed", "min"), Objective("requests_served", "max")]
    q90 = reduce_outcomes(table, objectives, "q90")
    assert list(q90["harmful_completed"]) == [9.0, 9.0]  # the 90th percentile of a minimum
    assert list(q90["requests_served"]) == [1.0, 1.0]  # the 10th of a maximum
    mean = reduce_outcomes(table, objectives, "mean")
    assert list(mean["harmful_completed"]) == [5.0, 5.0]
    with pytest.raises(OptimizeError, match="mean or qNN"):
        reduce_outcomes(table, objectives, "median")


def test_objectives_always_include_the_spend_and_refuse_unknown_outcomes() -> None:
    assert [str(o) for o in parse_objectives(["policy_leakage:min,harmful_completed"])] == [
        "policy_leakage:min",
        "harmful_completed:min",
        "enforcement_spend_usd:min",
    ]
    assert [str(o) for o in parse_objectives(None)][-1] == "enforcement_spend_usd:min"
    for bad, message in (
        (["harm:min"], "expected a run-level outcome"),
        (["harmful_completed:least"], "OUTCOME:min or OUTCOME:max"),
        (["harmful_completed", "harmful_completed:max"], "given twice"),
        (["enforcement_spend_usd:max"], "always minimised"),
    ):
        with pytest.raises(OptimizeError, match=message):
            parse_objectives(bad)


def test_futures_never_override_a_lever() -> None:
    spec = load_scenario("classroom_demo")
    data = spec.to_dict()
    levers = load_levers(
        {
            "levers": [
                {"path": "jurisdictions.*.enforcement.audit_rate", "bounds": [0, 0.1]},
                {"path": "nodes.filter_recall", "bounds": [0.7, 0.99]},
            ]
        },
        spec,
    )
    catalogue = catalogue_for(data)
    futures = draw_futures(data, 4, 1, catalogue)
    kept = futures_without_levers(futures, catalogue, levers.places(data))
    assert "nodes.filter_recall" in futures.columns
    dropped = set(futures.columns) - set(kept.columns)
    assert dropped == {"nodes.filter_recall"} | {
        f"jurisdictions.{j}.enforcement.audit_rate"
        for j in spec.jurisdictions
        if f"jurisdictions.{j}.enforcement.audit_rate" in futures.columns
    }
    assert levers.columns == ["audit_rate", "filter_recall"]


# --------------------------------------------------------------------------- levers files


BAD_LEVERS: dict[str, tuple[str, str]] = {
    "unknown_path": (
        """
        levers:
          - {name: audit, path: jurisdictions.*.enforcement.audit_rat, bounds: [0, 0.1]}
        """,
        "levers.0.path",
    ),
    "reversed_bounds": (
        """
        levers:
          - {name: audit, path: jurisdictions.eu.enforcement.audit_rate, bounds: [0.5, 0.1]}
        """,
        "levers.0.bounds",
    ),
    "outside_schema": (
        """
        levers:
          - {name: recall, path: nodes.filter_recall, bounds: [0.5, 1.5]}
        """,
        "levers.0.bounds",
    ),
    "bool_with_bounds": (
        """
        levers:
          - {name: kyc, path: jurisdictions.eu.enforcement.kyc_mandate, type: bool, bounds: [0, 1]}
        """,
        "levers.0.bounds",
    ),
    "bool_on_a_number": (
        """
        levers:
          - {name: audit, path: jurisdictions.eu.enforcement.audit_rate, type: bool}
        """,
        "levers.0.type",
    ),
    "number_on_a_switch": (
        """
        levers:
          - {name: kyc, path: jurisdictions.eu.enforcement.kyc_mandate, bounds: [0, 1]}
        """,
        "levers.0.path",
    ),
    "whole_numbers": (
        """
        levers:
          - {name: tries, path: requesters.kinds.malicious.persistence, bounds: [0, 8]}
        """,
        "levers.0.integer",
    ),
    "typo": (
        """
        levers:
          - {name: audit, path: jurisdictions.eu.enforcement.audit_rate, bound: [0, 0.1]}
        """,
        "levers.0.bound",
    ),
    "same_name": (
        """
        levers:
          - {name: rate, path: jurisdictions.eu.enforcement.audit_rate, bounds: [0, 0.1]}
          - {name: rate, path: jurisdictions.us.enforcement.audit_rate, bounds: [0, 0.1]}
        """,
        "levers.1.name",
    ),
    "no_levers": ("extends: baseline\nsteps: 10\n", "levers"),
}


def write_levers(folder: Path, case: str) -> tuple[Path, str]:
    text, field = BAD_LEVERS[case]
    path = folder / f"{case}.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path, field


@pytest.mark.parametrize("case", sorted(BAD_LEVERS))
def test_a_levers_file_error_names_the_file_and_the_field(tmp_path: Path, case: str) -> None:
    path, field = write_levers(tmp_path, case)
    with pytest.raises(ScenarioError) as error:
        load_levers(path, load_scenario("classroom_demo"))
    assert error.value.source == str(path)
    assert error.value.path == field
    assert f"{path}: {field}: " in str(error.value)


def test_the_example_levers_file_is_valid_for_classroom_demo() -> None:
    root = Path(__file__).resolve().parents[1]
    levers = load_levers(
        root / "experiments" / "levers_enforcement.yaml", load_scenario("classroom_demo")
    )
    assert 4 <= len(levers.levers) <= 6
    assert {lever.type for lever in levers.levers} == {"number", "bool"}
    assert "filter_recall" in levers.columns


# --------------------------------------------------------------------------- end to end


E2E_LEVERS = """
levers:
  - name: audit_rate
    path: jurisdictions.*.enforcement.audit_rate
    bounds: [0.0, 0.1]
  - name: kyc_mandate
    path: jurisdictions.*.enforcement.kyc_mandate
    type: bool
"""
E2E_OPTIONS = {"futures": 3, "generations": 2, "population": 4, "steps": 10, "seed": 1}


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    """A small search of classroom_demo on one Dask worker, with its figure."""
    folder = tmp_path_factory.mktemp("optimize")
    levers = folder / "levers.yaml"
    levers.write_text(E2E_LEVERS.lstrip("\n"), encoding="utf-8")
    result = optimize("classroom_demo", levers, folder / "out", workers=1, **E2E_OPTIONS)
    pareto_figure(result)
    return result, levers


def test_a_small_search_of_classroom_demo_writes_every_output(searched) -> None:
    result, _ = searched
    out = result.folder
    for name in (
        "optimization.json",
        "futures.csv",
        "history.csv",
        "pareto.csv",
        "pareto.png",
        "pareto.svg",
        "reevaluation_futures.csv",
        "reevaluation.csv",
    ):
        assert (out / name).is_file(), name
    assert result.settings["state"] == "complete"
    assert result.settings["algorithm"] == "NSGA-III"  # four objectives by default
    assert len(result.history) == 8
    assert sorted(p.name for p in (out / "generations").iterdir()) == ["g0", "g1"]
    assert len(list((out / "generations" / "g0").iterdir())) == 4
    futures = pd.read_csv(out / "futures.csv")
    assert len(futures) == 3 and not any("audit_rate" in c for c in futures.columns)
    pareto = pd.read_csv(out / "pareto.csv")
    assert len(pareto) >= 1
    assert {"audit_rate", "kyc_mandate", "harmful_completed", "enforcement_spend_usd"} <= set(
        pareto.columns
    )
    reevaluation = pd.read_csv(out / "reevaluation.csv")
    assert list(reevaluation["policy"]) == list(pareto["policy"])
    assert reevaluation["non_dominated"].dtype == bool and reevaluation["non_dominated"].any()
    assert (out / "pareto.png").stat().st_size > 10_000


def test_each_pareto_policy_is_a_valid_scenario_with_its_lever_values(searched) -> None:
    result, _ = searched
    for row in result.pareto.itertuples():
        path = result.folder / row.scenario
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert document["extends"] == "classroom_demo"
        spec = load_scenario(path)
        for place in spec.jurisdictions.values():
            assert place.enforcement.audit_rate == pytest.approx(row.audit_rate)
            assert place.enforcement.kyc_mandate == bool(row.kyc_mandate)
    runner = CliRunner()
    policies = sorted(str(p) for p in (result.folder / "policies").glob("policy_*.yaml"))
    assert len(policies) == len(result.pareto)
    assert runner.invoke(app, ["validate", *policies]).exit_code == 0


def test_candidates_share_the_seeds_of_each_future_and_score_their_mean(searched) -> None:
    result, _ = searched
    generation = result.folder / "generations" / "g0"
    runs = {c: read_parts(generation / f"c{c}") for c in range(4)}
    for c in range(1, 4):
        assert list(runs[c]["seed"]) == list(runs[0]["seed"])
    assert runs[0]["seed"].nunique() == 3
    first = result.history[(result.history["generation"] == 0)].set_index("candidate")
    for c, table in runs.items():
        assert (table["status"] == "ok").all()
        assert first.loc[c, "harmful_completed"] == pytest.approx(table["harmful_completed"].mean())
    again = read_parts(next((result.folder / "reevaluation").iterdir()))
    assert not set(again["seed"]) & set(runs[0]["seed"])  # fresh futures, fresh seeds


# --------------------------------------------------------------------------- command line


def test_the_cli_resumes_a_finished_search_and_prints_the_pareto_policies(
    searched, tmp_path: Path
) -> None:
    result, levers = searched
    copy = tmp_path / "copy"
    shutil.copytree(result.folder, copy)
    args = ["optimize", "classroom_demo", "--levers", str(levers), "--out", str(copy)]
    args += [f"--{k}={v}" for k, v in E2E_OPTIONS.items()]
    outcome = CliRunner().invoke(app, [*args, "--workers", "1"])
    assert outcome.exit_code == 0, outcome.output
    assert "Pareto-optimal policies" in outcome.stdout
    assert "stay non-dominated" in outcome.stdout
    assert "generation 2/2" in outcome.stderr
    assert (copy / "pareto.csv").read_text() == (result.folder / "pareto.csv").read_text()
    other = CliRunner().invoke(app, [*args[:-1], "--seed=2", "--workers", "1"])
    assert other.exit_code == 2 and "holds another optimisation" in other.stderr


@pytest.mark.parametrize(
    "extra, expected",
    [
        ([], "Missing option '--levers'"),
        (["--levers", "LEVERS", "--objectives", "harm:min"], "expected a run-level outcome"),
        (["--levers", "LEVERS", "--objectives", "enforcement_spend_usd:max"], "minimised"),
        (["--levers", "LEVERS", "--statistic", "median"], "mean or qNN"),
        (["--levers", "LEVERS", "--workers", "1", "--scheduler", "tcp://h:1"], "not both"),
        (["--levers", "LEVERS", "--population", "1"], "Invalid value for '--population'"),
        (["--levers", "missing.yaml"], "missing.yaml: file not found"),
        (["--levers", "BAD"], "levers.0.bounds: "),
    ],
    ids=[
        "no-levers",
        "objective",
        "spend-max",
        "statistic",
        "workers",
        "population",
        "file",
        "bad",
    ],
)
def test_usage_errors_are_one_line_with_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("levers.yaml").write_text(E2E_LEVERS.lstrip("\n"), encoding="utf-8")
    bad, _ = write_levers(tmp_path, "reversed_bounds")
    swap = {"LEVERS": "levers.yaml", "BAD": str(bad)}
    args = ["optimize", "classroom_demo", *(swap.get(a, a) for a in extra), "--out", "o"]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    out = capsys.readouterr()
    assert exit_.value.code == 2 and out.out == ""
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], out.err
    assert not Path("o").exists()


def test_the_report_of_a_search_draws_its_policies_and_lists_them(optimize_dir, tmp_path):
    from sim.experiments.optimize import load_result
    from sim.output.optimize_report import make_optimize_report

    result = load_result(optimize_dir)
    page = make_optimize_report(optimize_dir, tmp_path / "report")
    text = page.read_text(encoding="utf-8")
    assert (tmp_path / "report" / "pareto.png").is_file()
    assert (tmp_path / "report" / "pareto.svg").is_file()
    assert "data:image/png;base64," in text
    assert text.count("</tr>") == 2 * (len(result.pareto) + 1)  # policies, re-evaluation
    assert "stay non-dominated" in text and "audit_rate" in text


def test_dirisk_report_of_a_search_folder_writes_its_report(optimize_dir, tmp_path):
    out = tmp_path / "report"
    outcome = CliRunner().invoke(app, ["report", str(optimize_dir), "--out", str(out)])
    assert outcome.exit_code == 0, outcome.output
    assert (out / "report.html").is_file() and (out / "pareto.png").is_file()
    assert "report written to" in outcome.output


def test_pareto_policies_come_best_first_whatever_the_direction(tmp_path: Path) -> None:
    result = optimize(
        "classroom_demo",
        TOY_LEVERS,
        tmp_path / "out",
        objectives=["harmful_completed:max"],
        futures=3,
        generations=5,
        population=12,
        seed=2,
        evaluate=toy,
        reevaluate=0,
    )
    harm = result.pareto["harmful_completed"].to_numpy()
    assert len(harm) > 1 and (np.diff(harm) <= 0).all()  # maximised: descending
    assert result.pareto["policy"].tolist() == list(range(len(harm)))
