"""The experiment runner: run folders, exact reload of recorded ranks, resume, aggregation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from hybrid_ir.cli import main
from hybrid_ir.errors import HybridIRError
from hybrid_ir.experiments.reproduce import (
    UNTUNED,
    alpha_sweep,
    collect,
    compare_runs,
    load_experiment,
    load_run_result,
    mean_pair_matrix,
    mean_per_language,
    run_experiment,
    strategy_alpha,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("exp")
    config = {
        "name": "tiny-exp",
        "eval_dataset": "xquad-r",
        "eval_languages": ["en", "de"],
        "base_config": "smoke",
        "train": {"max_steps": 2, "train_subset": 48, "batch_size": 8, "eval_every": 2,
                  "val_batch_size": 8, "val_batches": 1},
        "strategies": {"x-x-mono": {"strategy": "mono"}, "hybrid": {"strategy": "hybrid", "alpha": 0.5}},
        "seeds": [0, 1],
        "tatoeba": True,
        "tatoeba_languages": ["de", "th"],
        "results_dir": str(root / "results"),
        "runs_dir": str(root / "runs"),
    }
    path = root / "exp.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_runs_write_small_files_and_reload_exactly(experiment: Path, data_dir: Path) -> None:
    exp = load_experiment(experiment)
    done = run_experiment(exp, log=lambda *_: None)
    assert len(done) == 1 + 2 * 2
    folder = exp.run_folder("hybrid", 1)
    names = {p.name for p in folder.iterdir()}
    assert {"run.json", "metrics.json", "per_language.csv", "pairs.csv", "bias.json", "ranks.csv.gz",
            "train_log.jsonl", "exposure.json", "tatoeba.json"} <= names
    exposure = json.loads((folder / "exposure.json").read_text())
    assert exposure["steps"] == 2 and exposure["trained"]["batches"] == 2
    assert exposure["trained"]["triplets"] == 2 * 8
    tatoeba = json.loads((folder / "tatoeba.json").read_text())
    assert set(tatoeba["per_language"]) == {"de", "th"}
    assert len(tatoeba["hits"]["th"]["to_en"]) == tatoeba["per_language"]["th"]["pairs"] == 548
    assert (exp.run_folder(UNTUNED, None) / "tatoeba.json").is_file()
    assert all(p.stat().st_size < 2_000_000 for p in folder.iterdir())
    run = json.loads((folder / "run.json").read_text())
    assert run["seed"] == 1 and run["train_config"]["seed"] == 1
    assert run["environment"]["hybrid_ir"] and "eval_seconds" in run
    assert run["environment"]["cpu_model"]  # the machines vary: every run names its CPU
    assert set(run["eval_data_checksums"]) == {"lareqa/xquad-r/de.json", "lareqa/xquad-r/en.json"}
    recorded = json.loads((folder / "metrics.json").read_text())
    reloaded = load_run_result(folder).to_json()
    assert reloaded == recorded  # every metric recomputed from ranks.csv.gz


def test_resume_skips_finished_runs(experiment: Path, data_dir: Path) -> None:
    exp = load_experiment(experiment)
    marker = exp.run_folder(UNTUNED, None) / "metrics.json"
    before = marker.stat().st_mtime_ns
    lines: list[str] = []
    run_experiment(exp, log=lines.append)
    assert marker.stat().st_mtime_ns == before
    assert all("done already" in line for line in lines)


def test_aggregate_tables(experiment: Path, data_dir: Path) -> None:
    exp = load_experiment(experiment)
    runs = collect(exp)
    assert sorted(runs.strategy.unique()) == ["hybrid", UNTUNED, "x-x-mono"]
    summary = json.loads((exp.folder / "summary.json").read_text())
    assert summary["strategies"]["hybrid"]["mono_map"]["n"] == 2
    sig = (exp.folder / "significance.csv").read_text().splitlines()
    assert sig[0].startswith("a,b,metric") and len(sig) == 1 + 3 * 4  # 3 pairs x 4 metrics
    table = mean_per_language(exp, "hybrid")
    assert list(table.index) == ["de", "en", "Mean"]
    assert mean_pair_matrix(exp, "hybrid").shape == (2, 2)


def test_rerun_of_one_seed_is_identical(experiment: Path, data_dir: Path, tmp_path: Path) -> None:
    import shutil

    exp = load_experiment(experiment)
    folder = exp.run_folder("hybrid", 0)
    first = tmp_path / "first"
    shutil.copytree(folder, first)
    run_experiment(exp, only=["hybrid/seed0"], force=True, log=lambda *_: None)
    same = compare_runs(first, folder)
    assert (same.max_abs_diff == 0).all()
    assert same.loc["per query multi_ap", "queries_differing"] == 0
    assert json.loads((folder / "run.json").read_text())["finished"] >= json.loads((first / "run.json").read_text())["finished"]
    other = compare_runs(folder, exp.run_folder("hybrid", 1))
    assert other.loc["per query multi_ap", "max_abs_diff"] > 0  # another seed is another model
    assert other.loc["per query multi_ap", "queries_differing"] > 0


def test_alpha_sweep_derives_alpha_from_each_strategy(experiment: Path, data_dir: Path) -> None:
    exp = load_experiment(experiment)
    sweep = alpha_sweep([exp], seed=1)
    assert sweep.alpha.tolist() == [0.5, 1.0]  # hybrid(0.5), then x-x-mono (all batches monolingual)
    assert sweep.run.tolist() == ["tiny-exp/hybrid/seed1", "tiny-exp/x-x-mono/seed1"]
    recorded = pd.read_csv(exp.run_folder("hybrid", 1) / "per_language.csv", index_col=0).loc["Mean"]
    assert sweep.loc[0, list(recorded.index)].tolist() == recorded.tolist()
    assert alpha_sweep([exp], seed=7).empty


def test_strategy_alpha() -> None:
    assert (strategy_alpha("cross", 0.3), strategy_alpha("hybrid", 0.3), strategy_alpha("mono", 0.3)) == (0.0, 0.3, 1.0)
    with pytest.raises(HybridIRError, match="unknown strategy"):
        strategy_alpha("mixed", 0.5)


def test_cli_list(experiment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", "--config", str(experiment), "--list"]) == 0
    out = capsys.readouterr().out.split("\n")
    assert out[0].split() == ["done", "untuned"]


def test_bad_experiment(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nstrategies: {a: {strategy: sideways}}\n")
    with pytest.raises(HybridIRError, match="strategy must be one of"):
        load_experiment(path)
    path.write_text("name: x\nwhatever: 1\n")
    with pytest.raises(HybridIRError, match=r"unknown keys \['whatever'\]"):
        load_experiment(path)
    with pytest.raises(HybridIRError, match="not found"):
        load_experiment(tmp_path / "missing.yaml")


def test_claims_exposure_and_tatoeba_tables(experiment: Path, data_dir: Path) -> None:
    """aggregate() writes claims.csv (seed-aware, Holm) and tatoeba_claims.csv; the book's readers
    turn the run files into tables."""
    from hybrid_ir.experiments.claims import CLAIMS_COLUMNS
    from hybrid_ir.experiments.result_tables import (
        cross_experiment_test,
        exposure_table,
        finished,
        read_claims,
        tatoeba_table,
    )

    exp = load_experiment(experiment)
    run_experiment(exp, log=lambda *_: None)
    claims = read_claims(exp)
    assert list(claims.columns) == list(CLAIMS_COLUMNS)
    ran = claims[claims.verdict != "not run"]  # x-x-mono and hybrid only: the hybrid - X-X-mono claims
    assert set(ran.b) == {"x-x-mono"} and len(ran) == 4
    assert (ran.p_holm >= ran.p_value - 1e-12).all() and (ran.seeds_a == 2).all()
    assert (claims[claims.b == "x-y"].verdict == "not run").all()
    tatoeba_claims = read_claims(exp, "tatoeba_claims.csv")
    assert {"hybrid", "x-x-mono"} <= set(tatoeba_claims.a) and UNTUNED in set(tatoeba_claims.b)

    exposure = exposure_table([exp])
    assert len(exposure) == 4 and (exposure.steps == 2).all()
    assert (exposure.loc[exposure.strategy == "x-x-mono", "cross batches"] == 0).all()
    assert set(tatoeba_table(exp).strategy) == {UNTUNED, "x-x-mono", "hybrid"}
    assert finished(exp) == (5, 5)
    same = cross_experiment_test((exp, "hybrid"), (exp, "hybrid"), "mono_ap")
    assert same.difference == 0 and same.p_value == 1.0
    t = cross_experiment_test((exp, "hybrid"), (exp, "x-x-mono"), "tatoeba:mean")
    assert t is not None and t.seeds_a == 2 and t.questions == 1548
    assert cross_experiment_test((exp, "x-y"), (exp, "hybrid"), "mono_ap") is None


def test_strategy_seeds_names_and_results_root(tmp_path: Path) -> None:
    """A strategy may list its own seeds (its runs only; not a training setting); names are single
    safe folder names; ``results_root`` replaces the file's results folder."""
    from hybrid_ir.experiments.reproduce import load_experiment

    config = tmp_path / "exp.yaml"
    base = ("name: exp\nbase_config: smoke\nbaseline: false\nseeds: [0, 1, 2]\nstrategies:\n"
            "  a: {strategy: mono}\n  b: {strategy: hybrid, batch_schedule: exact, seeds: [0, 3]}\n")
    config.write_text(base, encoding="utf-8")
    exp = load_experiment(config, results_root=tmp_path / "elsewhere")
    assert exp.runs() == [("a", 0), ("b", 0), ("a", 1), ("a", 2), ("b", 3)]
    assert exp.folder == tmp_path / "elsewhere" / "exp"
    from hybrid_ir.experiments.reproduce import train_config

    cfg = train_config(exp, "b", 3)
    assert (cfg.seed, cfg.batch_schedule) == (3, "exact") and not hasattr(cfg, "seeds")
    config.write_text(base.replace("base_config: smoke", "profile: smoke"), encoding="utf-8")
    assert load_experiment(config).base_config == "smoke"  # the key's old name still reads
    for bad, what in (("name: ../../x", "experiment name '../../x'"), ("name: /abs", "experiment name '/abs'"),
                      ("name: .hidden", "experiment name '.hidden'")):
        config.write_text(base.replace("name: exp", bad), encoding="utf-8")
        with pytest.raises(HybridIRError, match="is not a plain folder name"):
            load_experiment(config)
        with pytest.raises(HybridIRError, match=re.escape(what)):
            load_experiment(config)
    config.write_text(base.replace("  a: {strategy: mono}", "  ../a: {strategy: mono}"), encoding="utf-8")
    with pytest.raises(HybridIRError, match=re.escape("strategy label '../a' is not a plain folder name")):
        load_experiment(config)
    config.write_text(base.replace("seeds: [0, 3]", "seeds: [0, -3]"), encoding="utf-8")
    with pytest.raises(HybridIRError, match=re.escape("'strategies.b.seeds' must be a list of non-negative")):
        load_experiment(config)


def test_alpha_sweep_claims_compare_neighbouring_alphas(experiment: Path, data_dir: Path) -> None:
    """A sweep that names its reference experiment gets claims.csv of neighbouring alphas: the
    reference's X-X-mono is alpha = 1 and its hybrid 0.5; one run per alpha decides nothing, the
    question-level verdict of these runs stands beside it."""
    from hybrid_ir.experiments.claims import CLAIMS_COLUMNS
    from hybrid_ir.experiments.result_tables import read_claims

    reference = yaml.safe_load(experiment.read_text())
    sweep = {**reference, "name": "tiny-sweep", "baseline": False, "tatoeba": False, "seeds": [1],
             "strategies": {"alpha-0.75": {"strategy": "hybrid", "alpha": 0.75}},
             "alpha_reference": experiment.name}
    path = experiment.parent / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    run_experiment(load_experiment(experiment), log=lambda *_: None)
    exp = load_experiment(path)
    run_experiment(exp, log=lambda *_: None)
    claims = read_claims(exp)
    assert list(claims.columns) == list(CLAIMS_COLUMNS)
    assert claims.id.tolist() == [f"alpha-{hi}-vs-{lo}-{m}" for hi, lo in (("0.75", "0.5"), ("1", "0.75"))
                                  for m in ("mono", "cross", "multi", "bias")]
    assert (claims.seeds_a == 1).all() and (claims.seeds_b == 1).all()
    assert (claims.verdict == "undecided").all() and claims.decide.str.contains("at least 2 runs").all()
    assert set(claims.q_verdict) <= {"a higher", "a lower", "equivalent", "undecided"}
    assert (claims[claims.metric != "rank_distance"].margin == 0.005).all()
    # the alpha = 1 point is the reference's X-X-mono seed 1: its mean mono AP is that run's
    one = claims.loc[claims.id == "alpha-1-vs-0.75-mono"].iloc[0]
    mono = pd.read_csv(exp.folder.parent / "tiny-exp" / "summary.csv").query("strategy == 'x-x-mono' & seed == 1")
    sweep_run = pd.read_csv(exp.folder / "summary.csv").iloc[0]
    assert one.difference == pytest.approx(mono.mono_map.iloc[0] - sweep_run.mono_map, abs=1e-5)


def test_alpha_reference_stays_beside_its_file(tmp_path: Path) -> None:
    """alpha_reference is a file name in the same folder: a path, a missing file or the file itself is
    a one-line error before any training."""
    (tmp_path / "ref.yaml").write_text("name: ref\nbase_config: smoke\n")
    path = tmp_path / "sweep.yaml"
    for value, message in (("../ref.yaml", "must be the file name"), ("ref.txt", "must be the file name"),
                           ("other.yaml", "not found"), ("sweep.yaml", "names the file itself")):
        path.write_text(f"name: sweep\nbase_config: smoke\nalpha_reference: {value}\n")
        with pytest.raises(HybridIRError, match=message):
            load_experiment(path)
    path.write_text("name: sweep\nbase_config: smoke\nalpha_reference: ref.yaml\neval_dataset: mlqa-r\n")
    from hybrid_ir.experiments.config import alpha_reference

    with pytest.raises(HybridIRError, match="evaluates differently"):
        alpha_reference(load_experiment(path))


def test_an_alpha_sweep_refuses_points_it_cannot_pool(tmp_path: Path) -> None:
    """Two strategies with one alpha, a reference that trains differently or names a reference of
    its own, and a reference that is a link out of the folder: each a one-line error at load time."""
    ref = {"name": "ref", "base_config": "smoke", "strategies": {"x-y": {"strategy": "cross"},
                                                                 "hybrid": {"strategy": "hybrid", "alpha": 0.5}}}
    (tmp_path / "ref.yaml").write_text(yaml.safe_dump(ref))
    sweep = {"name": "sweep", "base_config": "smoke", "alpha_reference": "ref.yaml", "seeds": [0],
             "strategies": {"half": {"strategy": "hybrid", "alpha": 0.5}}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    with pytest.raises(HybridIRError, match=r"both have alpha = 0\.5"):
        load_experiment(path)
    sweep["strategies"] = {"quarter": {"strategy": "hybrid", "alpha": 0.25, "lr": 7.0e-4}}
    path.write_text(yaml.safe_dump(sweep))
    with pytest.raises(HybridIRError, match=r"trains differently \(lr\)"):
        load_experiment(path)
    sweep["strategies"] = {"quarter": {"strategy": "hybrid", "alpha": 0.25}}
    path.write_text(yaml.safe_dump(sweep))
    from hybrid_ir.experiments.config import alpha_points

    assert list(alpha_points(load_experiment(path))) == ["alpha-0", "alpha-0.25", "alpha-0.5"]
    (tmp_path / "ref.yaml").write_text(yaml.safe_dump({**ref, "alpha_reference": "sweep.yaml"}))
    with pytest.raises(HybridIRError, match="names a reference of its own"):
        load_experiment(path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "real.yaml").write_text(yaml.safe_dump(ref))
    (tmp_path / "link.yaml").symlink_to(outside / "real.yaml")
    path.write_text(yaml.safe_dump({**sweep, "alpha_reference": "link.yaml"}))
    with pytest.raises(HybridIRError, match="leads out of"):
        load_experiment(path)


def test_backfill_scores_only_the_recorded_runs_model(experiment: Path, data_dir: Path) -> None:
    """A model left in runs_dir by another training run (here: a result.json whose validation loss
    differs in the last digits, as a retrain on another machine does) gets no tatoeba.json."""
    from hybrid_ir.experiments.runner import backfill

    exp = load_experiment(experiment)
    folder = exp.run_folder("hybrid", 1)
    scored = (folder / "tatoeba.json").read_text()
    run = json.loads((folder / "run.json").read_text())
    result = Path(run["train_result"]["model_dir"]).parent / "result.json"
    original = result.read_text()
    other = json.loads(original)
    other["best_val_loss"] += 3e-6
    lines: list[str] = []
    try:
        (folder / "tatoeba.json").unlink()
        result.write_text(json.dumps(other))
        backfill(exp, log=lines.append)
        assert not (folder / "tatoeba.json").exists()
        assert any("not this run's (best_val_loss differ from run.json)" in line for line in lines)
        result.write_text(original)
        backfill(exp, log=lines.append)
        assert json.loads((folder / "tatoeba.json").read_text()) == json.loads(scored)
    finally:
        result.write_text(original)
        if not (folder / "tatoeba.json").exists():
            (folder / "tatoeba.json").write_text(scored)


@pytest.mark.parametrize("text", ["garbage", "[1]", "null"])
def test_an_unreadable_result_json_is_not_the_recorded_run(tmp_path: Path, text: str) -> None:
    from hybrid_ir.experiments.runner import trained_elsewhere

    run = tmp_path / "run.json"
    run.write_text(json.dumps({"train_result": {"config_hash": "a", "steps": 2, "best_step": 2,
                                                "best_val_loss": 1.0}}))
    (tmp_path / "result.json").write_text(text)
    assert trained_elsewhere(run, tmp_path / "result.json") == "run.json or result.json unreadable"
    (tmp_path / "result.json").write_text(json.dumps({"config_hash": "a", "steps": 2, "best_step": 2,
                                                      "best_val_loss": 1.0}))
    assert trained_elsewhere(run, tmp_path / "result.json") is None
