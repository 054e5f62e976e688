"""Offline validation of a Ray cluster-launcher YAML (cluster.yaml) for GPU tuning with raybo.

What ``ray up`` checks before it touches a cloud, reproduced here without network or
credentials:
  1. ``prepare_config``: merges the provider's ``defaults.yaml`` shipped inside Ray,
     prepends ``setup_commands`` to head/worker setup, sanity-checks ``docker`` and fills
     per-node-type ``min_workers``/``max_workers``. Reads local files only.
  2. ``validate_config``: Ray's JSON schema (``ray-schema.json``) plus cross-field checks.
``ray up`` then asks the cloud for instance resources (AWS: EC2 DescribeInstanceTypes,
which needs credentials) and creates IAM roles, key pairs and subnets; those steps are not
run here. The autodetection does not matter for configs that pass: the rules below make
every GPU worker type declare its resources explicitly, and Ray's schema then takes the
declared values as they are.

raybo's rules, each a ``ValueError`` naming the node type and the fix:
  - node-type resources are whole numbers (fractional GPUs belong in per-trial requests);
  - at least one worker node type advertises ``GPU >= 1`` and may launch (max_workers >= 1);
  - images are ``rayproject/ray:<version>-py3XX[-gpu|-cuXXX]`` (not ray-ml), the CUDA variant
    on GPU workers;
  - versions as Ray itself requires them: every node joins the head's cluster only if its Ray
    version equals the head's and its Python matches to the patch level
    (``ray._private.utils.check_version_info``, run when a node or driver connects), so all
    images carry one Ray version and one Python; and that Ray satisfies raybo's own ``ray``
    requirement, or ``pip install -e`` in setup_commands would replace it on every node. The
    driver (``raybo tune`` under ``ray job submit``) runs on the head, so the local Ray may
    differ: only a ``UserWarning`` (Ray Client, ``ray://``, would need the same Ray and Python
    major.minor);
  - GPU workers run docker with ``--gpus all``; a GPU-less head does not (docker would fail);
  - head and GPU-worker setup commands ``pip install`` a file_mounts target whose local
    source is this project (relative local paths resolve against the YAML's directory,
    i.e. run ``ray up`` from there).

``python -m raybo.app.cluster_config cluster.yaml`` runs the check and prints one line saying
what was checked and found (exit code 1 and the reason otherwise).

Steps 1 and 2 are Ray's private API (``ray.autoscaler._private.util``), imported only when a
config is validated, never by ``import raybo``. If a Ray release moves them, validation raises
``RuntimeError`` saying so (``ray up`` still runs Ray's own checks).
"""

from __future__ import annotations

import copy
import logging
import os
import re
import shlex
import sys
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonschema
import ray
import yaml
from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

LAUNCHER_API = "ray.autoscaler._private.util"  # prepare_config, validate_config

# rayproject/ray:2.60.0-py311-gpu, rayproject/ray:2.60.0-py311-cu124, rayproject/ray:2.60.0-py311
_IMAGE_RE = re.compile(
    r"^(?:docker\.io/)?rayproject/ray:(?P<version>[^-]+)-py(?P<python>3\d+)(?:-(?P<variant>[\w.]+))?$"
)
_GPU_VARIANT_RE = re.compile(r"^(?:gpu|cu\d+)$")
_COMMAND_SEPARATORS = re.compile(r"&&|\|\||[;|\n]")
# Ray bind-mounts "~/x" file_mounts at the container user's home; rayproject/ray runs as "ray".
_CONTAINER_HOME = "/home/ray"


def validate_cluster_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Validate the cluster YAML at ``path`` as ``ray up`` would, plus raybo's GPU rules.

    Returns the prepared config (Ray's defaults merged in). Raises ``ValueError`` naming
    the problem; ``FileNotFoundError`` if ``path`` does not exist.
    """
    path = Path(path)
    with path.open() as f:
        raw = yaml.safe_load(f)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a YAML mapping at the top level, got {type(raw)}")

    prepare_config, validate_config = _ray_launcher_checks()
    try:
        config = prepare_config(copy.deepcopy(raw))
    except (KeyError, AssertionError, NotImplementedError, ValueError, TypeError) as e:
        raise ValueError(f"{path}: Ray's prepare_config rejected the config: {e!r}") from e
    try:
        # Before Ray's schema check, which reports fractions only as "not of type 'integer'".
        _check_whole_resources(config)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    try:
        validate_config(config)
    except jsonschema.ValidationError as e:
        where = ".".join(str(p) for p in e.absolute_path) or "<top level>"
        raise ValueError(f"{path}: Ray's schema check failed at {where}: {e.message}") from e
    except (RuntimeError, ValueError) as e:
        raise ValueError(f"{path}: Ray's validate_config rejected the config: {e}") from e

    try:
        gpu_types = _gpu_worker_types(config)
        _check_images(config, gpu_types)
        _check_docker_gpus(config, gpu_types)
        _check_project_installed(config, gpu_types, path.parent)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return config


def describe(config: dict[str, Any], path: str | os.PathLike[str] = "cluster.yaml") -> str:
    """One line on a config ``validate_cluster_config`` accepted: what was checked, what it
    found (GPU worker types, image, Ray), and what only ``ray up`` can check."""
    head = config["head_node_type"]
    types = _node_types(config)
    gpus = ", ".join(
        f"{name} ({_count(types[name]['resources']['GPU'], 'GPU')}, up to "
        f"{types[name].get('max_workers', 0)})" for name in _gpu_worker_types(config))
    image, _ = _image_for(config, head)
    return (f"{path}: OK -- Ray {ray.__version__}'s prepare_config and schema, whole node "
            f"resources, GPU workers {gpus}, one image {image}, docker --gpus all on GPU "
            "workers, this project pip-installed on head and GPU workers (not checked: cloud "
            "credentials and instance types, which `ray up` asks the cloud for)")


def _count(n: float, word: str) -> str:
    return f"{n:g} {word}" + ("" if n == 1 else "s")


def main(argv: list[str] | None = None) -> int:
    """``python -m raybo.app.cluster_config [cluster.yaml]``: validate, print one line."""
    args = sys.argv[1:] if argv is None else argv
    path = args[0] if args else "cluster.yaml"
    # Ray's "setting max workers for head node type to 0" INFO line says nothing about validity
    logging.getLogger("ray.autoscaler").setLevel(logging.WARNING)
    try:
        config = validate_cluster_config(path)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"{path}: NOT OK -- {err}", file=sys.stderr)
        return 1
    print(describe(config, path))
    return 0


def _ray_launcher_checks() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """Ray's own ``ray up`` pre-flight: ``(prepare_config, validate_config)``."""
    try:
        from ray.autoscaler._private.util import prepare_config, validate_config
    except ImportError as e:
        raise RuntimeError(
            f"cannot validate the cluster config with Ray {ray.__version__}: this check reuses "
            f"Ray's cluster-launcher internals ({LAUNCHER_API}.prepare_config and "
            f"validate_config), which this Ray no longer provides ({e}). Nothing was checked; "
            "`ray up` still runs Ray's own checks. Update raybo, or run this check under a Ray "
            "that has them (2.55 to 2.60 do)."
        ) from e
    return prepare_config, validate_config


def _node_types(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return config.get("available_node_types") or {}


def _check_whole_resources(config: dict[str, Any]) -> None:
    for name, node_type in _node_types(config).items():
        for key, value in (node_type.get("resources") or {}).items():
            whole = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not whole or not float(value).is_integer():
                raise ValueError(
                    f"available_node_types.{name}.resources.{key} = {value!r}: node-type "
                    "resources must be whole numbers; request fractions per trial instead, "
                    "e.g. tune.with_resources(trainable, {'cpu': 1, 'gpu': 0.25})"
                )


def _gpu_worker_types(config: dict[str, Any]) -> list[str]:
    """Names of worker node types that advertise at least one GPU and may be launched."""
    head = config["head_node_type"]
    names = [
        name
        for name, node_type in _node_types(config).items()
        if name != head
        and (node_type.get("resources") or {}).get("GPU", 0) >= 1
        and node_type.get("max_workers", 0) >= 1
    ]
    if not names:
        raise ValueError(
            "no GPU worker node type: add an entry to available_node_types (other than the "
            f"head {head!r}) with resources: {{GPU: 1 or more}} declared explicitly and "
            "max_workers >= 1"
        )
    return names


def _docker_for(config: dict[str, Any], node_type: str) -> dict[str, Any]:
    """The docker section a node type runs with: node-type keys override global ones."""
    docker = dict(config.get("docker") or {})
    if node_type != config["head_node_type"]:
        docker.update(_node_types(config)[node_type].get("docker") or {})
    return docker


def _image_for(config: dict[str, Any], node_type: str) -> tuple[str, str]:
    """(image, YAML key it came from) for a node type."""
    docker = _docker_for(config, node_type)
    key = "head_image" if node_type == config["head_node_type"] else "worker_image"
    if docker.get(key):
        return docker[key], f"docker.{key}"
    if docker.get("image"):
        return docker["image"], "docker.image"
    raise ValueError(
        f"node type {node_type!r} has no docker image: set docker.image to "
        f"rayproject/ray:{ray.__version__}-py3XX-gpu (one Ray version on every node)"
    )


def _check_images(config: dict[str, Any], gpu_types: list[str]) -> None:
    expected = f"rayproject/ray:{ray.__version__}-py3XX-gpu"
    head = config["head_node_type"]
    launchable = [
        name
        for name, node_type in _node_types(config).items()
        if name == head or node_type.get("max_workers", 0) >= 1
    ]
    versions: dict[str, str] = {}
    pythons: dict[str, str] = {}
    for name in launchable:
        image, key = _image_for(config, name)
        where = f"{key} {image!r} (node type {name!r})"
        if "ray-ml" in image:
            raise ValueError(
                f"{where}: ray-ml images are discontinued; use {expected} and let "
                "setup_commands install torch/gpytorch with the project"
            )
        match = _IMAGE_RE.match(image)
        if match is None:
            raise ValueError(f"{where}: expected an image of the form {expected}")
        if name in gpu_types and not _GPU_VARIANT_RE.match(match["variant"] or ""):
            raise ValueError(f"{where}: GPU workers need the CUDA variant, e.g. {expected}")
        versions[name], pythons[name] = match["version"], match["python"]
    # Ray's rule (ray._private.utils.check_version_info, run as each node joins): a node whose
    # Ray version, or Python version (to the patch level by default), differs from the head's
    # fails to start. Images with one Ray tag and one pyXY share both.
    if len(set(versions.values())) > 1:
        raise ValueError(
            f"images mix Ray versions {versions}: Ray refuses a node whose Ray version differs "
            "from the head's ('Version mismatch' when it joins), so every node type needs the "
            "same Ray"
        )
    if len(set(pythons.values())) > 1:
        raise ValueError(
            f"images mix Python versions {pythons}: Ray refuses a node whose Python version "
            "differs from the head's, so every node type needs the same py3XX image"
        )
    image, key = _image_for(config, head)
    _check_raybo_supports(versions[head], f"{key} {image!r}", expected)


def _ray_requirement() -> Requirement | None:
    """raybo's own requirement on ``ray`` (from the installed package), if known."""
    try:
        requires = metadata.requires("raybo") or []
    except metadata.PackageNotFoundError:
        return None
    for line in requires:
        requirement = Requirement(line)
        if requirement.name == "ray" and requirement.marker is None:
            return requirement
    return None


def _check_raybo_supports(version: str, where: str, expected: str) -> None:
    """The cluster's Ray must satisfy raybo's requirement; the local Ray need not equal it."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        raise ValueError(
            f"{where}: {version!r} is not a released Ray version; pin one, e.g. {expected}"
        ) from None
    requirement = _ray_requirement()
    if requirement is not None and parsed not in requirement.specifier:
        raise ValueError(
            f"{where}: image Ray {version} is outside raybo's requirement "
            f"ray{requirement.specifier}, so `pip install -e` in setup_commands would replace "
            f"the image's Ray on every node; use an image in that range, e.g. {expected}"
        )
    if version != ray.__version__:
        warnings.warn(
            f"{where}: the cluster runs Ray {version}, this machine Ray {ray.__version__}. "
            "That works for `ray job submit` (raybo tune runs on the head, with the image's "
            "Ray), but Ray Client (ray://) needs the same Ray and Python major.minor on both "
            "sides, and `ray up` here writes the config the head's autoscaler reads: matching "
            f"versions avoids both ({expected})",
            UserWarning,
            stacklevel=4,
        )


def _run_options(config: dict[str, Any], node_type: str) -> list[str]:
    """Docker run options as Ray assembles them: run_options + head/worker_run_options."""
    docker = _docker_for(config, node_type)
    role = "head" if node_type == config["head_node_type"] else "worker"
    tokens: list[str] = []
    for option in [*docker.get("run_options", []), *docker.get(f"{role}_run_options", [])]:
        tokens.extend(shlex.split(str(option)))
    return tokens


def _has_gpus_all(tokens: list[str]) -> bool:
    pairs = zip(tokens, [*tokens[1:], ""], strict=True)
    return "--gpus=all" in tokens or any(a == "--gpus" and b == "all" for a, b in pairs)


def _check_docker_gpus(config: dict[str, Any], gpu_types: list[str]) -> None:
    for name in gpu_types:
        if not _has_gpus_all(_run_options(config, name)):
            raise ValueError(
                f"node type {name!r} advertises GPUs but its docker run options lack "
                "'--gpus all', so the container would see no GPU: add it to "
                "docker.worker_run_options"
            )
    head = config["head_node_type"]
    head_gpus = (_node_types(config)[head].get("resources") or {}).get("GPU", 0)
    if head_gpus == 0 and any(t.startswith("--gpus") for t in _run_options(config, head)):
        raise ValueError(
            f"head node type {head!r} has no GPU but its docker run options include --gpus "
            "(docker.run_options apply to the head too), which fails on a GPU-less host: "
            "move '--gpus all' to docker.worker_run_options"
        )


def _normalize_remote(path: str) -> str:
    for home in ("~", "$HOME", "${HOME}"):
        if path == home or path.startswith(home + "/"):
            path = _CONTAINER_HOME + path[len(home) :]
    return path.rstrip("/") or "/"


def _pip_install_targets(command: str) -> set[str]:
    """Positional arguments of every `pip install` in a shell command line."""
    targets: set[str] = set()
    for segment in _COMMAND_SEPARATORS.split(command):
        try:
            words = shlex.split(segment)
        except ValueError:  # unbalanced quotes: not an install we can recognise
            continue
        for i in range(len(words) - 1):
            if words[i].endswith("pip") and words[i + 1] == "install":
                for word in words[i + 2 :]:
                    if not word.startswith("-"):
                        targets.add(_normalize_remote(re.sub(r"\[.*\]$", "", word)))
    return targets


def _project_mounts(config: dict[str, Any], base_dir: Path) -> set[str]:
    """Remote file_mounts paths whose local source is this project (has raybo/ + pyproject)."""
    mounts = set()
    for remote, local in (config.get("file_mounts") or {}).items():
        source = Path(os.path.expanduser(str(local)))
        source = source if source.is_absolute() else base_dir / source
        if (source / "pyproject.toml").is_file() and (source / "raybo").is_dir():
            mounts.add(_normalize_remote(str(remote)))
    return mounts


def _check_project_installed(config: dict[str, Any], gpu_types: list[str], base: Path) -> None:
    mounts = _project_mounts(config, base)
    if not mounts:
        raise ValueError(
            "file_mounts copy no directory containing this project (pyproject.toml and "
            f"raybo/; relative paths resolve against {str(base)!r}): add e.g. "
            "'/home/ray/raybo: .' so Ray workers can import raybo and trainables"
        )
    head = config["head_node_type"]
    setups = {head: config.get("head_setup_commands") or []}
    for name in gpu_types:
        node_type = _node_types(config)[name]
        setups[name] = node_type.get("worker_setup_commands", config["worker_setup_commands"])
    for name, commands in setups.items():
        if not any(_pip_install_targets(str(c)) & mounts for c in commands):
            raise ValueError(
                f"setup commands of node type {name!r} do not install this project: add "
                f"'pip install -e {sorted(mounts)[0]}' to setup_commands (and to any "
                "node-type worker_setup_commands, which replace the global ones); file_mounts "
                "only copy files, and Ray workers must be able to import raybo and trainables"
            )


if __name__ == "__main__":
    sys.exit(main())
