"""Will a trial ever fit? Fixed local instances refuse early; autoscaling clusters are checked
against the node types they can launch, never against the (possibly empty) nodes up now.

Real Ray throughout: a local instance with 1 CPU and no GPU, node types published the way an
autoscaler publishes them (the GCS cluster config) or read from a cluster launcher's bootstrap
config (the shipped cluster.yaml), and a second process that joins the instance by address.
The full launch path on a fake autoscaling cluster is in test_autoscaling.py.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import ray
from conftest import ray_tmp

from raybo.app.capacity import NodeType, autoscaler_node_types, check_trial_fits

pytestmark = pytest.mark.ray

REPO_ROOT = Path(__file__).resolve().parents[2]
CLUSTER_YAML = REPO_ROOT / "cluster.yaml"
CLI = {"CPU": "--cpus-per-trial", "GPU": "--gpus-per-trial"}


@pytest.fixture(scope="module")
def local_ray():
    """A Ray instance this process starts: 1 CPU, no GPU, and nothing will ever add a node."""
    ray.init(address="local", num_cpus=1, num_gpus=0, _temp_dir=ray_tmp("P"),
             include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture
def no_bootstrap(tmp_path):
    return tmp_path / "absent.yaml"  # the check must not depend on this machine's home


def _publish(groups: list[tuple[str, dict[str, int], int]]) -> None:
    """Publish node types to GCS as an autoscaler does (an empty list clears them)."""
    from ray._private.worker import global_worker
    from ray.core.generated import autoscaler_pb2

    config = autoscaler_pb2.ClusterConfig()
    for name, resources, max_count in groups:
        group = config.node_group_configs.add()
        group.name, group.max_count = name, max_count
        group.resources.update(resources)
    global_worker.gcs_client.report_cluster_config(config.SerializeToString())


def test_a_request_that_fits_a_node_passes(local_ray, no_bootstrap):
    check_trial_fits(1, 0, bootstrap_config=no_bootstrap)
    check_trial_fits(0.5, 0, bootstrap_config=no_bootstrap)


@pytest.mark.parametrize(
    ("cpus", "gpus", "names", "named", "not_named"),
    [
        (1, 0.25, None, "gpus_per_trial=0.25", "cpus_per_trial"),
        (2, 0, None, "cpus_per_trial=2", "gpus_per_trial"),
        (1, 0.5, CLI, "--gpus-per-trial=0.5", "--cpus-per-trial"),
        (4, 1, CLI, "--cpus-per-trial=4, --gpus-per-trial=1", "cpus_per_trial"),
    ],
)
def test_a_fixed_local_instance_refuses_naming_what_the_user_typed(
    local_ray, no_bootstrap, cpus, gpus, names, named, not_named
):
    with pytest.raises(ValueError) as info:
        check_trial_fits(cpus, gpus, names=names, bootstrap_config=no_bootstrap)
    message = str(info.value)
    assert message.startswith(named + ":") and not_named not in message
    assert "no node of this local Ray instance" in message and "CPU 1, GPU 0" in message


def test_node_types_published_in_gcs_decide(local_ray, no_bootstrap):
    """Nothing up now has a GPU, but the autoscaler can launch one: no refusal."""
    assert autoscaler_node_types(no_bootstrap) is None
    _publish([("cpu_head", {"CPU": 1}, 0), ("gpu_1x", {"CPU": 4, "GPU": 1}, 8)])
    try:
        assert autoscaler_node_types(no_bootstrap) == [
            NodeType("cpu_head", {"CPU": 1.0}, 0),
            NodeType("gpu_1x", {"CPU": 4.0, "GPU": 1.0}, 8),
        ]
        check_trial_fits(1, 0.25, bootstrap_config=no_bootstrap)
        check_trial_fits(4, 1, bootstrap_config=no_bootstrap)
        with pytest.raises(ValueError, match=r"^--gpus-per-trial=2: no node type of this auto"):
            check_trial_fits(1, 2, names=CLI, bootstrap_config=no_bootstrap)
        # Both fit some type on their own, but no type has 5 CPUs and a GPU.
        with pytest.raises(ValueError, match="no single node has both"):
            _publish([("big_cpu", {"CPU": 16}, -1), ("gpu_1x", {"CPU": 4, "GPU": 1}, 8)])
            check_trial_fits(5, 1, bootstrap_config=no_bootstrap)
    finally:
        _publish([])
    assert autoscaler_node_types(no_bootstrap) is None


def test_cluster_launcher_bootstrap_config_decides(local_ray, tmp_path):
    """On a `ray up` head the bootstrap config is the cluster.yaml: its CPU-0 head and
    min_workers-0 GPU types mean "nothing fits now, everything fits after a launch"."""
    bootstrap = tmp_path / "ray_bootstrap_config.yaml"
    bootstrap.write_text(CLUSTER_YAML.read_text())
    types = {t.name: t for t in autoscaler_node_types(bootstrap)}
    assert types["head_cpu"] == NodeType("head_cpu", {"CPU": 0.0, "GPU": 0.0}, 1)
    assert types["gpu_1x_a10g"] == NodeType("gpu_1x_a10g", {"CPU": 4.0, "GPU": 1.0}, 8)
    assert types["gpu_4x_a10g"] == NodeType("gpu_4x_a10g", {"CPU": 48.0, "GPU": 4.0}, 2)

    check_trial_fits(1, 0.25, names=CLI, bootstrap_config=bootstrap)
    check_trial_fits(48, 4, names=CLI, bootstrap_config=bootstrap)
    with pytest.raises(ValueError) as info:
        check_trial_fits(1, 8, names=CLI, bootstrap_config=bootstrap)
    assert str(info.value).startswith("--gpus-per-trial=8: no node type of this autoscaling")
    assert "gpu_4x_a10g: CPU 48, GPU 4" in str(info.value)


def test_undeclared_resources_only_warn(local_ray, tmp_path, caplog):
    bootstrap = tmp_path / "ray_bootstrap_config.yaml"
    bootstrap.write_text("head_node_type: h\navailable_node_types: {h: {}, w: {max_workers: 2}}")
    with caplog.at_level(logging.WARNING, logger="raybo.app.capacity"):
        check_trial_fits(1, 1, bootstrap_config=bootstrap)
    assert "do not declare their resources" in caplog.text


JOINER = textwrap.dedent("""
    import logging, sys
    import ray
    from raybo.app.capacity import check_trial_fits
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    ray.init(address=sys.argv[1], log_to_driver=False)
    check_trial_fits(1, 0.25, names={"CPU": "--cpus-per-trial", "GPU": "--gpus-per-trial"},
                     bootstrap_config=sys.argv[2])
    print("NO ERROR")
""")


def test_a_process_that_joins_a_cluster_only_warns(local_ray, no_bootstrap):
    """It cannot know whether the cluster autoscales (a KubeRay cluster, say): never refuse."""
    proc = subprocess.run(
        [sys.executable, "-c", JOINER, local_ray, str(no_bootstrap)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "NO ERROR" in proc.stdout
    assert "raybo.app.capacity WARNING No node of the connected Ray cluster" in proc.stderr
    assert "--gpus-per-trial" in proc.stderr
