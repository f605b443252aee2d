"""Training configuration: profiles, YAML files, --set overrides and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybrid_ir.errors import HybridIRError
from hybrid_ir.training.config import (
    NAMED_CONFIGS,
    TrainConfig,
    config_hash,
    load_config,
    save_config,
)


@pytest.mark.parametrize("name", NAMED_CONFIGS)
def test_profiles_load_and_validate(name: str) -> None:
    cfg = load_config(name)
    assert cfg.batch_size >= 1 and cfg.output_dir.startswith("runs/")


def test_paper_profile_follows_the_paper() -> None:
    cfg = load_config("paper")
    assert (cfg.model, cfg.batch_size, cfg.lr, cfg.weight_decay) == ("xlm-roberta-base", 100, 3e-5, 0.01)
    assert cfg.early_stopping_patience > 0 and cfg.strategy == "hybrid" and cfg.alpha == 0.5


def test_defaults() -> None:
    cfg = load_config(None)
    assert cfg == TrainConfig()
    assert (cfg.temperature, cfg.negatives, cfg.precision, cfg.batch_size) == (0.05, "in-batch", "auto", 100)


def test_overrides_convert_types() -> None:
    cfg = load_config(
        "smoke",
        [
            "lr=3e-5", "max_steps=7", "freeze_embeddings=yes", "languages=en,de", "datasets=[mlqa-r]",
            "dropout=none", "pooling=cls", "query_prefix=Query: ", "alpha = 0.4", "batch_size=1_000",
        ],
    )
    assert cfg.lr == 3e-5 and isinstance(cfg.lr, float)
    assert cfg.max_steps == 7 and cfg.freeze_embeddings is True
    assert cfg.languages == ["en", "de"] and cfg.datasets == ["mlqa-r"]
    assert cfg.dropout is None and cfg.pooling == "cls" and cfg.query_prefix == "Query:"
    assert cfg.alpha == 0.4 and cfg.batch_size == 1000


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("lerning_rate=1", "unknown setting 'lerning_rate'"),
        ("tempreature=0.1", "did you mean 'temperature'"),
        ("lr=fast", "lr must be a number"),
        ("max_steps=2.5", "max_steps must be an integer"),
        ("max_steps=true", "max_steps must be an integer"),
        ("freeze_embeddings=maybe", "must be true or false"),
        ("strategy=mixed", "strategy must be one of mono, cross, hybrid"),
        ("precision=fp8", "precision must be one of"),
        ("alpha=1.5", r"alpha must be in \[0.0, 1.0\]"),
        ("temperature=0", "temperature must be > 0"),
        ("batch_size=0", "batch_size must be >= 1"),
        ("datasets=xquad-r", "both a training set and an excluded evaluation set"),
        ("lr", "not of the form key=value"),
        ("dropout=1.0", "dropout must be in"),
    ],
)
def test_bad_overrides(override: str, match: str) -> None:
    with pytest.raises(HybridIRError, match=match):
        load_config("smoke", [override])


def test_yaml_file_roundtrip_and_errors(tmp_path: Path) -> None:
    cfg = load_config("cpu", ["seed=3"])
    path = tmp_path / "c.yaml"
    save_config(cfg, path)
    again = load_config(str(path))
    assert again == cfg and config_hash(again) == config_hash(cfg)

    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: 1e-4\nbatch_sise: 4\n")
    with pytest.raises(HybridIRError, match=r"bad.yaml: unknown setting 'batch_sise'; did you mean 'batch_size'"):
        load_config(str(bad))
    bad.write_text("lr: [1, 2\n")
    with pytest.raises(HybridIRError, match="not valid YAML"):
        load_config(str(bad))
    bad.write_text("- a\n- b\n")
    with pytest.raises(HybridIRError, match="expected a mapping"):
        load_config(str(bad))
    with pytest.raises(HybridIRError, match="neither a named configuration"):
        load_config("no-such-profile")


def test_hash_ignores_run_control_fields() -> None:
    a = load_config("smoke")
    assert load_config("smoke", ["output_dir=elsewhere", "log_every=1", "progress=false"]).hash() == a.hash()
    assert load_config("smoke", ["seed=1"]).hash() != a.hash()


def test_describe_lists_every_field_with_help() -> None:
    text = TrainConfig.describe()
    assert "temperature (float, default 0.05)" in text
    assert "precision (str, default 'auto') [auto|fp32|bf16|fp16]" in text
    assert len(text.splitlines()) == len(TrainConfig.__dataclass_fields__)


@pytest.mark.parametrize(
    ("colab", "gpu", "expected"),
    [(True, True, "colab"), (True, False, "colab-cpu"), (False, True, "default"), (False, False, "default")],
)
def test_auto_profile_says_which_and_why(monkeypatch, colab: bool, gpu: bool, expected: str) -> None:
    import hybrid_ir.book.profiles as profiles

    monkeypatch.setattr(profiles, "in_colab", lambda: colab)
    monkeypatch.setattr(profiles, "has_gpu", lambda: gpu)
    profile, why = profiles.resolve_profile("auto")
    assert profile.name == expected and why.startswith("auto:")
    assert profiles.resolve_profile("ci") == (profiles.PROFILES["ci"], "asked for")


@pytest.mark.parametrize("name", ["ci", "default", "colab", "colab-cpu"])
def test_live_training_trains_exactly_the_stated_steps(name: str, tmp_path) -> None:
    """The default profile states 64 steps; an epoch of its data holds ~30 batches of 32, so the
    chapters' configs must not let `epochs` or early stopping cut the run short."""
    from hybrid_ir.book.live import live_train_config
    from hybrid_ir.book.profiles import PROFILES
    from hybrid_ir.data.examples import load_training_set

    prof = PROFILES[name]
    cfg = live_train_config(prof, 0, str(tmp_path / "run"), ["strategy=mono"])
    assert (cfg.max_steps, cfg.batch_size, cfg.strategy) == (prof.train_steps, prof.batch_size, "mono")
    assert cfg.early_stopping_patience == 0
    assert not cfg.keep_checkpoints  # 1.3 GB each for multilingual-e5-small: the CI disk ran out
    ts = load_training_set("mlqa-r", exclude_overlap_with=["xquad-r"], seed=0)
    n_examples = min(len(ts.examples), prof.train_examples or len(ts.examples))
    batches_per_epoch = n_examples // prof.batch_size
    assert cfg.epochs * batches_per_epoch >= prof.train_steps  # epochs never bind


def test_colab_rehearsal_swaps_the_model_and_sizes_only_for_colab(monkeypatch, tmp_path) -> None:
    from hybrid_ir.book import profiles
    from hybrid_ir.book.live import live_train_config

    monkeypatch.setenv(profiles.REHEARSAL_ENV, str(tmp_path))
    prof, _ = profiles.resolve_profile("colab")
    assert prof.name == "colab" and prof.encoder == str(tmp_path) and prof.train_steps == 4
    assert "REHEARSAL" in prof.description
    assert profiles.resolve_profile("default")[0] == profiles.PROFILES["default"]
    cfg = live_train_config(prof, 0, str(tmp_path / "run"))
    assert cfg.model == str(tmp_path) and cfg.precision == "auto"  # the colab-gpu training base
    monkeypatch.setenv(profiles.REHEARSAL_ENV, str(tmp_path / "missing"))
    with pytest.raises(HybridIRError, match="not a model folder"):
        profiles.resolve_profile("colab")


def test_expected_time_is_computed_from_sizes_and_recorded_rates(monkeypatch) -> None:
    from hybrid_ir.book import profiles, timing

    monkeypatch.setattr(profiles, "has_gpu", lambda: False)
    monkeypatch.setattr(timing, "profile_times_path", lambda profile: None)  # no chapter timed: estimates
    default = profiles.PROFILES["default"]
    line = timing.expected_time(default, "03_training")
    assert f"{default.train_steps} steps x {default.batch_size} triplets" in line and "min" in line
    monkeypatch.setattr(timing, "_recorded_cpu_rates", lambda: (0.25, 100.0))
    # 3.5 runs x 64 x 32 triplets x 0.25 s = 1792 s = 30 min
    assert "about 30 min" in timing.expected_time(default, "03_training")
    # 11 x (1190 + 13014 / 11) texts / 100 per s = 261 s = 4 min
    assert "about 4 min" in timing.expected_time(default, "04_evaluation")
    monkeypatch.setattr(profiles, "has_gpu", lambda: True)
    assert "not measured" in timing.expected_time(profiles.PROFILES["colab"], "03_training")


def test_the_rendered_first_cell_gives_the_default_profiles_time(monkeypatch, tmp_path) -> None:
    """In the ci profile (the rendered book) the first cell also says how long the chapter takes in
    the default profile on 2 CPU cores (measured where timed, else labelled an estimate) and that no
    GPU time is measured; the other profiles print no such line."""
    import json

    from hybrid_ir.book import profiles, timing

    record = tmp_path / "times.json"
    record.write_text(json.dumps({"profile": "default", "chapters": {"04_evaluation.ipynb": {
        "seconds": 150.0, "machine": "X, 2 cores", "date": "2026-12-01", "network": "offline"}}}))
    monkeypatch.setattr(timing, "profile_times_path", lambda profile: record)
    monkeypatch.setattr(timing, "_recorded_cpu_rates", lambda: (0.25, 100.0))
    ci = profiles.PROFILES["ci"]
    assert timing.elsewhere_time(ci, "04_evaluation").startswith(
        "default profile on 2 CPU cores: 2 min (measured); Colab profile on a GPU: not measured")
    assert "default profile on 2 CPU cores: estimate: about 30 min;" in timing.elsewhere_time(ci, "03_training")
    assert timing.elsewhere_time(profiles.PROFILES["default"], "04_evaluation") is None


def test_expected_time_never_starts_empty() -> None:
    """A chapter with nothing large to run in a profile says so (chapter 6 in ci printed ``expected: ;``)."""
    from hybrid_ir.book.profiles import PROFILES
    from hybrid_ir.book.timing import expected_time

    line = expected_time(PROFILES["ci"], "06_miracl")
    assert line.startswith("no live training and no large encoding;")


def test_recorded_runs_keep_their_config_hash_and_the_exact_schedule_changes_it() -> None:
    """A field added later (batch_schedule) is left out of the hash at the value the recorded runs used,
    so their checkpoints still resume; any other value changes the hash."""
    import json

    root = Path(__file__).resolve().parents[1] / "results"
    for run in sorted(root.glob("*/*/seed0/run.json"))[:6]:
        record = json.loads(run.read_text(encoding="utf-8"))
        cfg = TrainConfig()
        for key, value in record["train_config"].items():
            setattr(cfg, key, value)
        assert config_hash(cfg) == record["train_result"]["config_hash"], run
        cfg.batch_schedule = "exact"
        assert config_hash(cfg) != record["train_result"]["config_hash"]


def test_first_cell_gives_the_measured_ci_time_and_labels_estimates(monkeypatch, tmp_path) -> None:
    """The ci build's measured time comes from book/chapter_times.json; the default profile's CPU time
    is an estimate and says so."""
    import json

    from hybrid_ir.book import profiles, timing

    record = tmp_path / "chapter_times.json"
    record.write_text(json.dumps({"profile": "ci", "machine": "Test CPU, 2 cores",
                                  "seconds": {"03_training.ipynb": 55.5}}), encoding="utf-8")
    monkeypatch.setattr(timing, "chapter_times_path", lambda: record)
    monkeypatch.setattr(timing, "profile_times_path", lambda profile: None)
    monkeypatch.setattr(profiles, "has_gpu", lambda: False)
    monkeypatch.setattr(timing, "_recorded_cpu_rates", lambda: (0.25, 100.0))
    assert timing.measured_seconds("03_training") == (55.5, "Test CPU, 2 cores")
    assert timing.measured_seconds("04_evaluation") is None
    ci_line = timing.expected_time(profiles.PROFILES["ci"], "03_training")
    assert ci_line.endswith("the ci build ran this chapter in 56 s (Test CPU, 2 cores)")
    default_line = timing.expected_time(profiles.PROFILES["default"], "03_training")
    assert "estimate about 30 min" in default_line and "56 s" in default_line
    assert "not recorded yet" in timing.expected_time(profiles.PROFILES["ci"], "04_evaluation")
    assert timing.cpu_estimate(profiles.PROFILES["default"], "04_evaluation") == "about 4 min"
    assert timing.cpu_estimate(profiles.PROFILES["ci"], "03_training") == "not estimated"  # tiny model: no rate
    record.write_text("{not json", encoding="utf-8")
    with pytest.raises(HybridIRError, match="not a record of chapter times"):
        timing.measured_seconds("03_training")


def test_record_times_refuses_a_partial_build(capsys) -> None:
    """Recorded chapter times come from a full ci build only: refused before anything runs."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_book", Path(__file__).resolve().parents[1] / "tools" / "build_book.py")
    build_book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_book)
    for argv in (["--record-times", "--only", "01_data"], ["--record-times", "--profile", "default"],
                 ["--record-times", "--reuse"]):
        with pytest.raises(SystemExit) as stop:
            build_book.main(argv)
        assert stop.value.code == 2
        assert "--record-times needs a full build" in capsys.readouterr().err


def test_a_chapter_timed_in_the_default_profile_says_measured(monkeypatch, tmp_path) -> None:
    """tools/time_chapters.py's record turns the default profile's estimate into a measured time, for
    the chapters it timed only; a damaged record is one line."""
    import json

    from hybrid_ir.book import profiles, timing

    record = tmp_path / "chapter_times_default.json"
    entry = {"seconds": 719.0, "machine": "Test CPU, 2 cores", "date": "2026-12-01", "commit": "abc",
             "network": "offline"}
    record.write_text(json.dumps({"profile": "default", "chapters": {"04_evaluation.ipynb": entry,
                                                                     "01_data.ipynb": {**entry, "seconds": 42}}}))
    monkeypatch.setattr(timing, "profile_times_path", lambda profile: record if profile == "default" else None)
    monkeypatch.setattr(profiles, "has_gpu", lambda: False)
    monkeypatch.setattr(timing, "_recorded_cpu_rates", lambda: (0.25, 100.0))
    default = profiles.PROFILES["default"]
    line = timing.expected_time(default, "04_evaluation")
    assert "the default profile ran this chapter in 12 min (measured 2026-12-01, offline, Test CPU, 2 cores)" in line
    assert "estimate" not in line
    assert "ran it in under a minute (measured" in timing.expected_time(default, "01_data")
    assert "estimate about 30 min" in timing.expected_time(default, "03_training")  # not timed: estimated
    assert timing.measured_in_profile("04_evaluation", "colab") is None
    record.write_text('{"profile": "default"}')
    with pytest.raises(HybridIRError, match="not a record of chapter times"):
        timing.measured_in_profile("04_evaluation", "default")
