"""Scale-out on a real multi-node Ray cluster with logical ("fake") GPUs, driven by GPSearch.

Cluster: a GPU-less head (the driver and the searcher) plus two worker nodes with 2 logical
GPUs each; trials ask for {cpu: 1, gpu: 0.25}, so GPUs (4 trials each, 8 per node) are the
binding resource. Placement is read back from what the trials themselves report
(trainables.probe): Ray node id, GPU ids, start/end wall-clock times. Concurrency is proven
with a file barrier, not inferred from overlapping sleeps: no trial passes it before
CONCURRENT trials have arrived.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
import torch
from conftest import peak_overlap
from ray import cloudpickle, tune
from ray.cluster_utils import Cluster
from ray.tune import Callback

from raybo import GPSearch
from trainables.probe import placement_probe

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.timeout(600)]

MB = 1024**2
TRIAL_RESOURCES = {"cpu": 1, "gpu": 0.25}
TRIALS_PER_GPU = 4  # 1 / TRIAL_RESOURCES["gpu"]
CONCURRENT = 8
BARRIER_TIMEOUT_S = 240.0  # 8 workers importing torch at once on a loaded 2-core box: ~1-2 min
SPACE = {"x": tune.uniform(-2.0, 2.0), "y": tune.uniform(-2.0, 2.0)}

# Workers cannot import this test module: ship its functions (barrier_probe) by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def barrier_probe(config: dict[str, Any]) -> None:
    """placement_probe behind a file barrier: the trial drops a file in config["barrier_dir"]
    and waits until config["barrier_n"] files exist, so the first barrier_n trials are
    provably alive at once; it fails (ERROR) rather than run on if the barrier times out."""
    barrier = Path(config["barrier_dir"])
    (barrier / uuid.uuid4().hex).touch()
    deadline = time.monotonic() + BARRIER_TIMEOUT_S
    while len(os.listdir(barrier)) < config["barrier_n"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(os.listdir(barrier))} of {config['barrier_n']} trials "
                               f"reached the barrier within {BARRIER_TIMEOUT_S} s")
        time.sleep(0.05)
    placement_probe(config)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """Head: 1 CPU, no GPU. Two workers: 8 logical CPUs and 2 logical GPUs each.

    Shared by the tests of this module (start-up costs ~25 s on 2 cores); the node-removal
    test leaves one worker, which the placement test would also accept.
    """
    with pytest.MonkeyPatch.context() as mp:
        # Session files and the "current cluster" address file go under /tmp/rB/ray.
        mp.setenv("RAY_TMPDIR", "/tmp/rB")
        os.makedirs("/tmp/rB", exist_ok=True)
        cluster = Cluster(
            initialize_head=True,
            head_node_args={
                "num_cpus": 1,
                "num_gpus": 0,
                "object_store_memory": 100 * MB,
                "include_dashboard": False,
            },
        )
        try:
            for _ in range(2):
                cluster.add_node(num_cpus=8, num_gpus=2, object_store_memory=100 * MB)
            cluster.wait_for_nodes()
            ray.init(address=cluster.address)
            yield cluster
        finally:
            ray.shutdown()
            cluster.shutdown()


def _worker_ids(cluster: Cluster) -> set[str]:
    return {node.node_id for node in cluster.worker_nodes}



class RecordingGPSearch(GPSearch):
    """GPSearch that logs its pending count after every suggestion (driver-side only).

    Tune may copy the searcher, so the log is a class attribute shared by all copies.
    """

    pending_log: list[int] = []

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        config = super().suggest(trial_id)
        if config is not None:
            RecordingGPSearch.pending_log.append(self.n_pending)
        return config


def _check_placement(
    results: list[dict[str, Any]], cluster: Cluster, extra_nodes: set[str] = frozenset()
) -> dict[str, Any]:
    """Assert per-trial placement facts; return the measured placement for the report.

    ``extra_nodes``: ids of worker nodes removed since the trials ran.
    """
    head_id, workers = cluster.head_node.node_id, _worker_ids(cluster) | extra_nodes
    for r in results:
        assert r["node_id"] != head_id, "a trial landed on the GPU-less head node"
        assert r["node_id"] in workers
        assert len(r["gpu_ids"]) == 1 and r["gpu_share"] == pytest.approx(0.25)
        assert r["cuda_visible_devices"] == r["gpu_ids"][0]
        assert r["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    per_gpu: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in results:
        per_gpu.setdefault((r["node_id"], r["gpu_ids"][0]), []).append(
            (r["start_time"], r["end_time"])
        )
    peak_per_gpu = {key: peak_overlap(iv) for key, iv in per_gpu.items()}
    assert max(peak_per_gpu.values()) <= TRIALS_PER_GPU, peak_per_gpu
    return {
        "trials_per_node": Counter(r["node_id"][:8] for r in results),
        "trials_per_gpu": {f"{n[:8]}/gpu{g}": len(iv) for (n, g), iv in per_gpu.items()},
        "peak_per_gpu": {f"{n[:8]}/gpu{g}": p for (n, g), p in peak_per_gpu.items()},
        "peak": peak_overlap([(r["start_time"], r["end_time"]) for r in results]),
    }


def test_fractional_gpu_trials_spread_over_gpu_workers_with_gpsearch(cluster, tmp_path):
    RecordingGPSearch.pending_log = []
    n_trials = 10
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    analysis = tune.run(
        barrier_probe,
        config={**SPACE, "duration_s": 2.0, "barrier_dir": str(barrier), "barrier_n": CONCURRENT},
        resources_per_trial=TRIAL_RESOURCES,
        search_alg=RecordingGPSearch(seed=0),
        metric="loss",
        mode="min",
        num_samples=n_trials,
        max_concurrent_trials=CONCURRENT,
        reuse_actors=True,  # the second wave skips worker start-up (imports dominate here)
        storage_path=str(tmp_path),
        verbose=0,
    )

    results = [t.last_result for t in analysis.trials]
    # TERMINATED, not ERROR: every trial passed the barrier, so the first 8 were alive at once
    # (none could pass before 8 had arrived, and a trial that timed out there would fail).
    assert len(results) == n_trials and all(t.status == "TERMINATED" for t in analysis.trials)
    assert len(os.listdir(barrier)) == n_trials
    placement = _check_placement(results, cluster)
    print("placement:", placement, "pending log:", RecordingGPSearch.pending_log)
    # No trial could finish before the 8th was suggested: GPSearch had 8 points pending.
    assert max(RecordingGPSearch.pending_log) == CONCURRENT
    assert len(RecordingGPSearch.pending_log) == n_trials


class RemoveBusiestWorker(Callback):
    """Once ``after`` trials have completed, remove the worker node running the most trials.

    Only trials with at least two more steps to go count (and become "victims"), so each
    victim is certainly cut off rather than finishing while its node goes down. Records the
    TERMINATED trials at that moment with their last results, to check what survived.
    """

    def __init__(self, cluster: Cluster, after: int, steps: int):
        self._cluster = cluster
        self.after, self.steps = after, steps
        self.latest: dict[str, tuple[str, int]] = {}  # trial id -> (node id, step) last seen
        self.removed_node: str | None = None
        self.victims: set[str] = set()
        self.done_before: dict[str, dict[str, Any]] = {}
        self.recovered: set[str] = set()

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.latest[trial.trial_id] = (result["node_id"], result["step"])
        done = [t for t in trials if t.status == "TERMINATED"]
        if self.removed_node is not None or len(done) < self.after:
            return
        cuttable = {
            t.trial_id: self.latest[t.trial_id][0]
            for t in trials
            if t.status == "RUNNING"
            and t.trial_id in self.latest
            and self.latest[t.trial_id][1] <= self.steps - 2
        }
        if not cuttable:
            return
        busiest, _ = Counter(cuttable.values()).most_common(1)[0]
        self.done_before = {t.trial_id: dict(t.last_result) for t in done}
        self.victims = {t for t, node in cuttable.items() if node == busiest}
        self.removed_node = busiest
        node = next(n for n in self._cluster.worker_nodes if n.node_id == busiest)
        self._cluster.remove_node(node)

    def on_trial_recover(self, iteration, trials, trial, **info):
        self.recovered.add(trial.trial_id)

    def __getstate__(self) -> dict[str, Any]:
        # Tuner pickles its RunConfig (callbacks included) into the experiment directory;
        # the cluster's Node objects hold process handles and are not needed there.
        return {k: v for k, v in self.__dict__.items() if k != "_cluster"}


def test_trials_of_a_removed_node_are_retried_and_finished_results_survive(cluster, tmp_path):
    n_trials, steps = 8, 4
    assert len(cluster.worker_nodes) == 2
    killer = RemoveBusiestWorker(cluster, after=2, steps=steps)
    tuner = tune.Tuner(
        tune.with_resources(placement_probe, TRIAL_RESOURCES),
        param_space={**SPACE, "duration_s": 8.0, "steps": steps},
        tune_config=tune.TuneConfig(
            search_alg=GPSearch(seed=1),
            metric="loss",
            mode="min",
            num_samples=n_trials,
            max_concurrent_trials=4,  # fewer worker start-ups; placement is tested above
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            failure_config=tune.FailureConfig(max_failures=3),
            callbacks=[killer],
            verbose=0,
        ),
    )
    grid = tuner.fit()

    assert killer.removed_node is not None, "the experiment ended before a node was removed"
    assert killer.victims, "no trial was running on the removed node"
    assert grid.num_errors == 0 and grid.num_terminated == n_trials
    final = {r.metrics["trial_id"]: r.metrics for r in grid}
    # Trials cut off by the node removal were retried on the surviving node and finished.
    assert killer.victims <= killer.recovered
    for trial_id in killer.victims:
        assert final[trial_id]["step"] == steps
        assert final[trial_id]["node_id"] != killer.removed_node
    # Results completed before the removal are all still there, unchanged.
    assert len(killer.done_before) >= 2
    for trial_id, before in killer.done_before.items():
        after = final[trial_id]
        for key in ("loss", "node_id", "gpu_ids", "start_time", "end_time", "step"):
            assert after[key] == before[key], (trial_id, key)
    # Everything after the removal ran on the surviving worker, never on the head.
    survivors = _worker_ids(cluster)
    assert len(survivors) == 1 and killer.removed_node not in survivors
    _check_placement(list(final.values()), cluster, extra_nodes={killer.removed_node})
    print(
        "removed", killer.removed_node[:8], "victims", len(killer.victims),
        "done before", len(killer.done_before),
        "trials per node", Counter(r["node_id"][:8] for r in final.values()),
    )
