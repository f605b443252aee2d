"""The questions page's per-language tests agree with the files the runs wrote themselves."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hybrid_ir.book.recorded import recorded_experiment
from hybrid_ir.experiments.questions import (
    TEST_COLUMNS,
    language_tests,
    query_values_by_language,
)
from hybrid_ir.experiments.reproduce import dataset_of, seed_folders


@pytest.fixture(scope="module")
def main_experiment(data_dir: Path):
    exp = recorded_experiment("mlqa-to-xquad")
    if not seed_folders(exp, "hybrid") or not seed_folders(exp, "x-x-mono"):
        pytest.skip("the recorded main experiment is not there")
    return exp, dataset_of(seed_folders(exp, "hybrid")[0])


def test_per_language_means_are_the_runs_own_per_language_csv(main_experiment) -> None:
    """The mono AP per run and language, recomputed from ranks.csv.gz, equals per_language.csv."""
    exp, ds = main_experiment
    values = query_values_by_language(exp, "hybrid", "mono_ap", ds)
    for folder in seed_folders(exp, "hybrid"):
        written = pd.read_csv(folder / "per_language.csv", index_col=0)["mono_map"]
        for lang, frame in values.items():
            assert frame.loc[folder.name].mean() == pytest.approx(written[lang], abs=1e-5)


def test_language_tests_rows_and_verdicts(main_experiment) -> None:
    exp, ds = main_experiment
    table = language_tests(exp, "hybrid", "x-x-mono", ds=ds)
    assert list(table.columns) == TEST_COLUMNS
    assert len(table) == len(ds.languages)
    assert (table["difference"] - (table["mean_a"] - table["mean_b"])).abs().max() < 1e-9
    assert (table["ci_low"] <= table["difference"]).all()
    assert (table["difference"] <= table["ci_high"]).all()
    assert (table["p_holm"] >= table["p_value"] - 1e-12).all()
    for row in table.itertuples():
        if row.p_holm >= 0.05:
            assert row.verdict == "undecided"
        else:
            assert row.verdict == ("a higher" if row.difference > 0 else "a lower")
    assert table.set_index("lang").loc["th", "family"] == "Kra-Dai"


def test_reversed_comparison_flips_the_sign(main_experiment) -> None:
    exp, ds = main_experiment
    ab = language_tests(exp, "hybrid", "x-y", ds=ds).set_index("lang")
    ba = language_tests(exp, "x-y", "hybrid", ds=ds).set_index("lang")
    assert (ab["difference"] + ba["difference"]).abs().max() < 1e-12
    assert ab["p_value"].to_numpy() == pytest.approx(ba["p_value"].to_numpy())


def test_unknown_metric_is_refused(main_experiment) -> None:
    exp, ds = main_experiment
    with pytest.raises(ValueError, match="mono_ap"):
        query_values_by_language(exp, "hybrid", "cross_ap", ds)


def test_missing_strategy_gives_an_empty_table(main_experiment) -> None:
    exp, ds = main_experiment
    assert language_tests(exp, "hybrid", "no-such-strategy", ds=ds).empty
