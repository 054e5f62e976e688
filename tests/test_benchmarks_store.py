"""benchmarks/store.py and compact.py: the one-file run store round-trips records, resumes by
appending, survives a cut-short append, converts per-run JSON folders, and feeds the reports."""

from __future__ import annotations

import gzip
import json

import pytest

from benchmarks import ablate, compact, report
from benchmarks.run import main
from benchmarks.store import RUNS_FILE, RunStore, load_records, record_key


def _run(problem: str, searcher: str, seed: int, regret: float = 0.5) -> dict:
    evals = [{"best_regret": regret, "value": regret, "n_obs_at_suggest": 0,
              "n_pending_at_suggest": 0, "suggest_cpu_s": 0.01, "min_dist_pending": None}]
    return {"problem": problem, "searcher": searcher, "workers": 4, "seed": seed, "budget": 1,
            "f_star": 0.0, "target": 0.1, "truncated": False, "evaluations": evals}


def test_round_trip_keeps_every_field_and_the_last_record_per_key(tmp_path):
    store = RunStore(tmp_path)
    runs = [_run("branin", "gp", s, regret=0.1 * s) for s in range(3)]
    assert store.write_all(runs) == 3
    assert store.records() == runs
    store.append({**runs[1], "cpu_s": 9.0})  # a rerun (--force) supersedes the earlier line
    back = store.records()
    assert len(back) == 3 and back[1]["cpu_s"] == 9.0
    assert store.keys() == {record_key(r) for r in runs}
    with gzip.open(store.path, "rt") as f:  # plain gzip tools read it: one line per record
        assert len(f.read().splitlines()) == 4


def test_a_cut_short_append_loses_only_that_run(tmp_path):
    store = RunStore(tmp_path)
    store.append(_run("branin", "gp", 0))
    store.append(_run("branin", "gp", 1))
    data = store.path.read_bytes()
    store.path.write_bytes(data[:-7])  # a crash in the middle of the last member
    with pytest.warns(UserWarning, match="cut short"):
        assert [r["seed"] for r in store.records()] == [0]


def test_compact_converts_raw_json_and_deletes_it_only_after_reading_back(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    runs = [_run(p, s, seed) for p in ("branin", "mixed") for s in ("gp", "random")
            for seed in (0, 1)]
    for r in runs:
        (raw / f"{r['problem']}__{r['searcher']}__w4__s{r['seed']}.json").write_text(
            json.dumps(r))
    with pytest.raises(FileNotFoundError, match="benchmarks.compact"):
        load_records(tmp_path)
    assert compact.main([str(tmp_path), "--delete"]) == 0
    assert not raw.exists() and (tmp_path / RUNS_FILE).exists()
    assert sorted(load_records(tmp_path), key=record_key) == sorted(runs, key=record_key)
    # the reports read it
    report.write_report(tmp_path)
    assert "| branin | gp | 4 | 2 |" in (tmp_path / "summary.md").read_text()
    table = ablate.table(ablate.load(tmp_path), "gp", ["random"], [4])
    assert "| branin | 4 | 2 |" in table


def test_cli_resumes_from_the_store_by_appending_only_missing_runs(tmp_path):
    out = tmp_path / "resume"
    args = ["--problems", "branin", "--searchers", "random", "--workers", "2", "--budget", "5",
            "--out", str(out), "--no-report"]
    assert main([*args, "--seeds", "1"]) == 0
    first = RunStore(out).records()
    before = RunStore(out).path.read_bytes()
    assert main([*args, "--seeds", "2"]) == 0  # seed 0 is skipped, seed 1 appended
    runs = RunStore(out).records()
    assert [r["seed"] for r in runs] == [0, 1] and runs[0] == first[0]
    after = RunStore(out).path.read_bytes()
    assert len(after) > len(before) and after.startswith(before)
    assert main(["--report-only", "--out", str(out)]) == 0
    assert "| branin | random | 2 | 2 |" in (out / "summary.md").read_text()
