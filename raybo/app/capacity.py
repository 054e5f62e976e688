"""Can one trial's resource request ever be placed on this Ray cluster? Checked before any trial.

A Tune trial that no node can hold waits forever, so ``raybo tune`` asks before it starts. What
"can hold" means depends on the cluster:

1. A node that is up now holds it: fine.
2. The autoscaler's node types are readable: the request must fit one node type that may be
   launched. Sources, first found wins:
   - the cluster config an autoscaler publishes in GCS (``ray._private.state.state.
     get_cluster_config()``; Ray Train and Ray Data size their requests from it too);
   - the cluster launcher's bootstrap config on the head (``~/ray_bootstrap_config.yaml``, the
     file Tune itself takes as the sign of an autoscaling cluster; ``ray job submit`` runs the
     driver there).
   An autoscaling cluster may start with no worker at all (raybo's ``cluster.yaml``: a head with
   ``CPU: 0`` and every worker type at ``min_workers: 0``); that is never refused.
3. Node types unknown: if this process started the Ray instance (a fixed local instance,
   nothing will add nodes), fail; if it joined an existing cluster, which may autoscale, only
   warn. Tune itself warns again after 60 s without progress.

Reading the node types uses Ray internals; if they move, the check degrades to rules 1 and 3.
Resource requests are ``{"CPU": c, "GPU": g}`` in Ray's units (CPUs and GPUs per trial,
fractions allowed); node resources are whole numbers.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

# Written on the head by `ray up` (and read by Tune's cluster_info._is_ray_cluster).
BOOTSTRAP_CONFIG = Path("~/ray_bootstrap_config.yaml")
# Python names of the two request parameters; the CLI passes its option names instead.
PYTHON_NAMES = {"CPU": "cpus_per_trial", "GPU": "gpus_per_trial"}
UNLIMITED = sys.maxsize  # max_count -1 in Ray's cluster config: no per-type cap


@dataclass(frozen=True)
class NodeType:
    """One kind of node the cluster has or can launch.

    ``resources``: declared logical resources (may be empty when the provider detects them at
    launch, in which case nothing can be concluded from it). ``max_count``: how many may run
    (0: never launched; ``UNLIMITED``).
    """

    name: str
    resources: dict[str, float] = field(default_factory=dict)
    max_count: int = UNLIMITED


def check_trial_fits(
    cpus: float,
    gpus: float,
    *,
    names: Mapping[str, str] | None = None,
    bootstrap_config: str | Path = BOOTSTRAP_CONFIG,
) -> None:
    """Raise ``ValueError`` if a trial asking for ``cpus`` CPUs and ``gpus`` GPUs can never be
    placed on the connected Ray cluster; log a warning where that cannot be known yet.

    ``names`` maps "CPU"/"GPU" to the names the caller's user typed (default: the Python
    parameters ``cpus_per_trial``/``gpus_per_trial``; the CLI passes its option names).
    Requires ``ray.is_initialized()``.
    """
    import ray

    names = {**PYTHON_NAMES, **(names or {})}
    request = {k: float(v) for k, v in (("CPU", cpus), ("GPU", gpus)) if v > 0}
    alive = [
        NodeType(f"node {n['NodeID'][:8]}", dict(n.get("Resources") or {}), 1)
        for n in ray.nodes()
        if n.get("Alive")
    ]
    if any(_fits(request, node.resources) for node in alive):
        return
    types = autoscaler_node_types(bootstrap_config)
    if types is not None:
        launchable = [t for t in types if t.max_count != 0]
        if any(_fits(request, t.resources) for t in launchable):
            logger.info("No node holds a trial of %s yet; the autoscaler can add one.", request)
            return
        if any(not t.resources for t in launchable):
            logger.warning(
                "No node holds a trial of %s now, and some node types of this autoscaling "
                "cluster do not declare their resources; trials wait until the autoscaler "
                "adds a node that fits.",
                request,
            )
            return
        raise ValueError(
            _too_big(request, names, launchable, "no node type of this autoscaling cluster")
            + "; lower the request or add a larger node type"
        )
    if _started_by_this_process():
        raise ValueError(
            _too_big(request, names, alive, "no node of this local Ray instance")
            + "; lower the request or connect to a larger cluster (RAY_ADDRESS)"
        )
    logger.warning(
        "No node of the connected Ray cluster holds a trial of %s now, and its autoscaler's "
        "node types are not readable from here. If the cluster autoscales, trials wait until "
        "a node that fits is added; if it does not, they wait forever: stop the run and lower "
        "%s / %s.",
        request,
        names["CPU"],
        names["GPU"],
    )


def trials_at_once(cpus: float, gpus: float) -> tuple[int, bool]:
    """``(n, fixed)``: how many trials asking for ``cpus`` CPUs and ``gpus`` GPUs the nodes up
    now can run side by side, and whether that is final (a local instance this process started:
    nothing adds nodes). Requires ``ray.is_initialized()``."""
    import math

    import ray

    request = {k: float(v) for k, v in (("CPU", cpus), ("GPU", gpus)) if v > 0}
    n = 0
    for node in ray.nodes():
        if node.get("Alive"):
            resources = node.get("Resources") or {}
            # a small tolerance: Ray stores resources in 1e-4 units (0.3 * 3 may read 0.8999...)
            n += min((math.floor(resources.get(k, 0.0) / v + 1e-6) for k, v in request.items()),
                     default=0)
    return n, _started_by_this_process()


def autoscaler_node_types(
    bootstrap_config: str | Path = BOOTSTRAP_CONFIG,
) -> list[NodeType] | None:
    """The node types the cluster's autoscaler may launch, or None if none can be read.

    See the module docstring for the sources. The head type counts once (it is up already).
    """
    types = _types_from_gcs()
    if types is None:
        types = _types_from_bootstrap(Path(bootstrap_config).expanduser())
    return types


def _types_from_gcs() -> list[NodeType] | None:
    from ray.exceptions import RayError

    try:
        from ray._private.state import state

        config = state.get_cluster_config()
    # Ray moved its internals (import/attribute/signature), or this process has no GCS
    # connection of its own (Ray Client): fall back to the other sources.
    except (ImportError, AttributeError, TypeError, RayError) as exc:
        logger.debug("cluster config not readable from GCS: %r", exc)
        return None
    if config is None or not config.node_group_configs:
        return None
    return [
        NodeType(
            g.name,
            {k: float(v) for k, v in g.resources.items()},
            UNLIMITED if g.max_count == -1 else int(g.max_count),
        )
        for g in config.node_group_configs
    ]


def _types_from_bootstrap(path: Path) -> list[NodeType] | None:
    """Node types of a cluster-launcher config (cluster.yaml as bootstrapped on the head)."""
    if not path.is_file():
        return None
    import yaml

    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        logger.warning("cannot read %s: %s", path, exc)
        return None
    node_types = config.get("available_node_types") if isinstance(config, dict) else None
    if not isinstance(node_types, dict) or not node_types:
        return None
    head = config.get("head_node_type")
    return [
        NodeType(
            name,
            {k: float(v) for k, v in (spec.get("resources") or {}).items()},
            1 if name == head else int(spec.get("max_workers", config.get("max_workers", 2))),
        )
        for name, spec in node_types.items()
        if isinstance(spec, dict)
    ]


def _started_by_this_process() -> bool:
    """True if this process started the Ray instance it is connected to (``ray.init()`` without
    an existing cluster): nothing will add nodes to it. False when unknown."""
    try:
        from ray._private import worker

        return bool(worker._global_node is not None and worker._global_node.head)
    except (ImportError, AttributeError):
        return False


def _fits(request: Mapping[str, float], resources: Mapping[str, float]) -> bool:
    return all(resources.get(k, 0.0) >= v for k, v in request.items())


def _too_big(
    request: Mapping[str, float],
    names: Mapping[str, str],
    nodes: list[NodeType],
    where: str,
) -> str:
    """One-line error naming the parameter(s) the user typed and what the nodes offer."""
    short = [k for k, v in request.items() if all(n.resources.get(k, 0.0) < v for n in nodes)]
    asked = ", ".join(f"{names[k]}={request[k]:g}" for k in (short or request))
    offer = "; ".join(
        f"{n.name}: " + ", ".join(f"{k} {n.resources.get(k, 0.0):g}" for k in ("CPU", "GPU"))
        for n in nodes
    )
    why = "" if short else " (no single node has both)"
    return f"{asked}: {where} can hold one trial{why} ({offer or 'no nodes'})"
