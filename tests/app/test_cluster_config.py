"""Offline validation of cluster.yaml: the shipped file passes, typical mistakes are named."""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import ray
import yaml

from raybo.app.cluster_config import validate_cluster_config

REPO_ROOT = Path(__file__).resolve().parents[2]
CLUSTER_YAML = REPO_ROOT / "cluster.yaml"
V = ray.__version__
# A released Ray inside raybo's requirement (ray[tune]>=2.55) other than the installed one.
OTHER_V = "2.56.0" if V == "2.55.0" else "2.55.0"


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    with CLUSTER_YAML.open() as f:
        return yaml.safe_load(f)


def _write(tmp_path: Path, config: dict[str, Any]) -> Path:
    """Write a variant next to nothing: point the project mount at the repo explicitly."""
    config = copy.deepcopy(config)
    mounts = config.get("file_mounts") or {}
    config["file_mounts"] = {k: (str(REPO_ROOT) if v == "." else v) for k, v in mounts.items()}
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_shipped_cluster_yaml_passes_without_network_or_credentials(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise AssertionError("validation must not open network connections")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws either

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # image Ray == local Ray: nothing to warn about
        config = validate_cluster_config(CLUSTER_YAML)

    # prepare_config ran: Ray's defaults merged in, setup commands merged, head capped at 0.
    assert "cluster_synced_files" in config
    assert config["available_node_types"][config["head_node_type"]]["max_workers"] == 0
    assert "pip install -e /home/ray/raybo" in config["worker_setup_commands"]
    assert config["docker"]["image"] == f"rayproject/ray:{V}-py311-gpu"


def test_shipped_head_gets_no_trials_and_workers_have_gpus(shipped):
    types = shipped["available_node_types"]
    assert types[shipped["head_node_type"]]["resources"] == {"CPU": 0, "GPU": 0}
    gpus = {name: t["resources"].get("GPU", 0) for name, t in types.items()}
    assert sorted(g for g in gpus.values() if g) == [1, 4]


def _set(*keys: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(config: dict[str, Any]) -> None:
        node = config
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return mutate


def _drop_gpus(config: dict[str, Any]) -> None:
    for node_type in config["available_node_types"].values():
        node_type["resources"].pop("GPU", None)


def _no_gpu_capacity(config: dict[str, Any]) -> None:
    for name, node_type in config["available_node_types"].items():
        if name != config["head_node_type"]:
            node_type["max_workers"] = 0


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda config: config.pop(key)


MISTAKES = [
    ("ray-ml image", _set("docker", "image", value=f"rayproject/ray-ml:{V}-py311-gpu"), "ray-ml"),
    (
        "Ray below raybo's requirement",
        _set("docker", "image", value="rayproject/ray:2.50.0-py311-gpu"),
        "image Ray 2.50.0 is outside raybo's requirement ray",  # >=2.55
    ),
    (
        "head and workers on different Ray",
        _set("docker", "worker_image", value=f"rayproject/ray:{OTHER_V}-py311-gpu"),
        "images mix Ray versions",
    ),
    (
        "unreleased Ray tag",
        _set("docker", "image", value="rayproject/ray:nightly-py311-gpu"),
        "'nightly' is not a released Ray version",
    ),
    ("latest tag", _set("docker", "image", value="rayproject/ray:latest-gpu"), "of the form"),
    ("other repository", _set("docker", "image", value=f"me/ray:{V}-py311-gpu"), "of the form"),
    ("CPU image", _set("docker", "image", value=f"rayproject/ray:{V}-py311-cpu"), "CUDA variant"),
    (
        "mixed Python",
        _set("docker", "worker_image", value=f"rayproject/ray:{V}-py310-gpu"),
        "Python versions",
    ),
    ("no docker", _drop("docker"), "no docker image"),
    ("no GPU worker type", _drop_gpus, "no GPU worker node type"),
    ("GPU types never launched", _no_gpu_capacity, "no GPU worker node type"),
    (
        "fractional GPU",
        _set("available_node_types", "gpu_1x_a10g", "resources", "GPU", value=0.25),
        "resources.GPU = 0.25: node-type resources must be whole numbers",
    ),
    (
        "fractional CPU on head",
        _set("available_node_types", "head_cpu", "resources", "CPU", value=0.5),
        "head_cpu.resources.CPU = 0.5",
    ),
    ("missing --gpus all", _set("docker", "worker_run_options", value=[]), "lack '--gpus all'"),
    (
        "--gpus all on the CPU head",
        _set("docker", "run_options", value=["--gpus all"]),
        "move '--gpus all' to docker.worker_run_options",
    ),
    (
        "setup does not install the project",
        _set("setup_commands", value=["pip install torch gpytorch"]),
        "do not install this project",
    ),
    (
        "node-type setup override forgets the project",
        _set("available_node_types", "gpu_4x_a10g", "worker_setup_commands", value=["ls"]),
        "node type 'gpu_4x_a10g' do not install",
    ),
    ("project not copied", _set("file_mounts", value={}), "file_mounts copy no directory"),
    ("unknown top-level key", _set("gpus_per_trial", value=0.25), "'gpus_per_trial' was unexpec"),
    ("negative max_workers", _set("max_workers", value=-1), "schema check failed at max_workers"),
    (
        "min_workers above max_workers",
        _set("available_node_types", "gpu_1x_a10g", "min_workers", value=9),
        "smaller than the sum of `min_workers`",
    ),
    ("no provider", _drop("provider"), "prepare_config rejected"),
]


@pytest.mark.parametrize(
    ("mutate", "message"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
def test_typical_mistakes_are_rejected_with_a_clear_message(shipped, tmp_path, mutate, message):
    config = copy.deepcopy(shipped)
    mutate(config)
    with pytest.raises(ValueError) as info:
        validate_cluster_config(_write(tmp_path, config))
    assert message in str(info.value)


ACCEPTED = [
    ("--gpus=all spelling", _set("docker", "worker_run_options", value=["--gpus=all"])),
    ("CUDA-pinned image", _set("docker", "image", value=f"rayproject/ray:{V}-py311-cu124")),
    (
        "CPU head image with GPU worker image",
        lambda c: c["docker"].update(
            image=f"rayproject/ray:{V}-py311", worker_image=f"rayproject/ray:{V}-py311-gpu"
        ),
    ),
    (
        "home-relative mount, python -m pip, extras",
        lambda c: c.update(
            file_mounts={"~/raybo": "."},
            setup_commands=["cd ~ && python -m pip install -e '$HOME/raybo[vision]'"],
        ),
    ),
    (
        "--gpus all per node type",
        lambda c: (
            c["docker"].pop("worker_run_options"),
            c["available_node_types"]["gpu_1x_a10g"].update(
                docker={"worker_run_options": ["--gpus all"]}
            ),
            c["available_node_types"].pop("gpu_4x_a10g"),
        ),
    ),
]


@pytest.mark.parametrize("mutate", [a[1] for a in ACCEPTED], ids=[a[0] for a in ACCEPTED])
def test_equivalent_spellings_are_accepted(shipped, tmp_path, mutate):
    config = copy.deepcopy(shipped)
    mutate(config)
    validate_cluster_config(_write(tmp_path, config))


def test_relative_project_mount_resolves_against_the_yaml_directory(shipped, tmp_path):
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(shipped))  # "." is now tmp_path, which is not the project
    with pytest.raises(ValueError, match="file_mounts copy no directory"):
        validate_cluster_config(path)


def test_a_supported_ray_other_than_the_local_one_passes_with_a_warning(shipped, tmp_path):
    """Ray requires equal versions between the nodes of a cluster, not between the cluster and
    the machine that runs `ray up` / `ray job submit` (the driver runs on the head)."""
    config = copy.deepcopy(shipped)
    config["docker"]["image"] = f"rayproject/ray:{OTHER_V}-py311-gpu"
    with pytest.warns(UserWarning, match=f"the cluster runs Ray {OTHER_V}, this machine Ray {V}"):
        validate_cluster_config(_write(tmp_path, config))


MOVED_INTERNALS = textwrap.dedent("""
    import importlib.abc, sys
    import raybo, raybo.app.capacity, raybo.app.cli, raybo.app.cluster_config
    print("LOADED", [m for m in sys.modules if m.startswith("ray.autoscaler")])

    class RayWithoutLauncherInternals(importlib.abc.MetaPathFinder):
        # What a Ray release that moved ray.autoscaler._private looks like to an import.
        def find_spec(self, name, path=None, target=None):
            if name.startswith("ray.autoscaler._private"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, RayWithoutLauncherInternals())
    try:
        raybo.app.cluster_config.validate_cluster_config(sys.argv[1])
    except RuntimeError as e:
        print("ERROR", e)
""")


def test_import_raybo_loads_no_autoscaler_and_moved_internals_are_named():
    proc = subprocess.run(
        [sys.executable, "-c", MOVED_INTERNALS, str(CLUSTER_YAML)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LOADED []" in proc.stdout  # import raybo (and its CLI modules) never import them
    error = proc.stdout.split("ERROR ", 1)[1]
    assert f"cannot validate the cluster config with Ray {V}" in error
    assert "ray.autoscaler._private.util.prepare_config" in error
    assert "No module named 'ray.autoscaler._private" in error


def test_the_command_line_check_prints_one_ok_line_saying_what_it_checked(shipped, tmp_path):
    def check(path: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "raybo.app.cluster_config", str(path)],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})

    proc = check(CLUSTER_YAML)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = proc.stdout.splitlines()
    assert line.startswith(f"{CLUSTER_YAML}: OK -- Ray {V}'s prepare_config and schema")
    for found in ("gpu_1x_a10g (1 GPU, up to 8)", "gpu_4x_a10g (4 GPUs, up to 2)",
                  f"rayproject/ray:{V}-py311-gpu", "--gpus all", "pip-installed", "not checked"):
        assert found in line
    assert "INFO" not in proc.stderr  # Ray's own "setting max workers" line is not the answer
    bad = copy.deepcopy(shipped)
    bad["docker"]["image"] = "rayproject/ray-ml:2.9.0-py310-gpu"
    proc = check(_write(tmp_path, bad))
    assert proc.returncode == 1 and proc.stdout == ""
    assert "NOT OK -- " in proc.stderr and "ray-ml images are discontinued" in proc.stderr
