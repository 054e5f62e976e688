"""GPSearch's saved state: one versioned plain-data dict, and the migration of older versions.

Version 4 (current)::

    {"format": "raybo.GPSearch", "version": 4,
     "settings": Settings.to_dict(),          # metric, mode, seed, engine... (settings.py)
     "space": SearchSpace.to_dict() | None,   # raybo's own description, no Tune class (space.py)
     "design": InitialDesign.to_dict(),       # user points left, Sobol position (design.py)
     "n_evaluated": int,                      # known points added so far (their record ids)
     "trials": TrialState.to_dict(),          # one record per trial id (state.py)
     "prior": {"values": ..., "confidence": ...} | None,   # the user's prior (prior.py)
     "warm_data": [[config, value], ...]}     # earlier trials waiting for the space (warmstart.py)

The dict shares no container with the live searcher (``plain_copy``), and pickles without any of
Ray's classes, so a checkpoint survives Ray renaming or moving its domain classes. Values the user
put in the space (constants, category values such as ``torch.nn.ReLU``) are kept as they are.
Every key is required: a state missing one is refused instead of being read with a default.

Version 3 (raybo before several objectives, outcome constraints, user priors and warm
starts) had no ``prior`` and ``warm_data``, settings without ``outcomes`` and trial records
without ``outcomes``: it loads as a one-metric search with neither a prior nor warm data.

Version 2 (raybo before multi-fidelity search) had the same keys, settings without
``resource_attr``/``max_resource`` and trial records without ``reports``. It loads with
``resource_attr=None``: such a searcher ignored intermediate results, and it continues as it
would have (a run that used a scheduler keeps reading each trial's last result as its value,
instead of mixing trials recorded that way with learning curves).

Version 1 (raybo before conditional spaces) stored Tune's own space dict, domain objects
included. It still loads (unpickling it needs Ray's domain classes, as it always did): the space
is parsed again and the records are kept, provided their encodings fit the parsed space. A
version-1 space with domains inside lists or choices was searched with those domains frozen as
constants; such a state cannot continue under the new encoding and is refused with that reason.
"""

from __future__ import annotations

from typing import Any

from raybo.space import SearchSpace
from raybo.state import RECORD_KEYS

STATE_FORMAT = "raybo.GPSearch"
STATE_VERSION = 4
KEYS_V2 = {"format", "version", "settings", "space", "design", "n_evaluated", "trials"}
KEYS_V3 = KEYS_V2
KEYS_V4 = KEYS_V3 | {"prior", "warm_data"}
SETTINGS_V2 = {"seed", "metric", "mode", "acquisition", "n_initial", "max_concurrent", "budget",
               "engine"}
KEYS_V1 = {"format", "version", "space", "metric", "mode", "acquisition", "n_initial", "seed",
           "max_concurrent", "queue", "rewards", "sobol_index", "n_evaluated", "trials"}
OPTIONAL_V1 = {"budget"}  # added during version 1; absent in its oldest states
# The engine a version-1 searcher ran with, as EngineOptions fields that have changed since: a
# restored experiment continues with the engine it started with.
V1_ENGINE = {"max_fantasized": 0, "cat_lengthscale_prior": 0, "min_pending_distance": 0.0}


def plain_copy(value: Any) -> Any:
    """Copy of nested dicts, lists and tuples; other values (the user's objects) are shared."""
    if isinstance(value, dict):
        return {k: plain_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain_copy(v) for v in value)
    return value


def check_state(state: Any) -> dict[str, Any]:
    """A saved state in the current version (migrated if older); ValueError saying why not."""
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"not a GPSearch state: format={found!r}")
    version = state.get("version")
    if version not in (1, 2, 3, STATE_VERSION):
        raise ValueError(f"not a GPSearch state of version 1 to {STATE_VERSION}: "
                         f"version={version!r} (saved by a newer raybo?)")
    if version == 1:
        state = migrate_v1(state)
    if state["version"] == 2:
        state = migrate_v2(state)
    if state["version"] == 3:
        state = migrate_v3(state)
    _check_keys(state, KEYS_V4, set(), STATE_VERSION)
    return state


def migrate_v3(state: dict[str, Any]) -> dict[str, Any]:
    """A version-3 state -> version 4: a one-metric search (``outcomes`` None), no prior, no
    warm data."""
    _check_keys(state, KEYS_V3, set(), 3)
    settings = state["settings"]
    if isinstance(settings, dict) and "outcomes" not in settings:
        settings = {**settings, "outcomes": None}
    return {**state, "version": STATE_VERSION, "settings": settings, "prior": None,
            "warm_data": []}


def migrate_v2(state: dict[str, Any]) -> dict[str, Any]:
    """A version-2 state -> version 3 (then 4): intermediate results stay ignored (module
    docstring); the trial records are read by ``TrialState`` in their own version."""
    _check_keys(state, KEYS_V2, set(), 2)
    settings = state["settings"]
    if isinstance(settings, dict) and set(settings) == SETTINGS_V2:
        settings = {**settings, "resource_attr": None, "max_resource": None}
    # (other settings are left for Settings.from_dict to refuse, naming the keys)
    return {**state, "version": 3, "settings": settings}


def migrate_v1(state: dict[str, Any]) -> dict[str, Any]:
    """A version-1 state -> version 2 (see the module docstring), for ``migrate_v2``."""
    _check_keys(state, KEYS_V1, OPTIONAL_V1, 1)
    space = None if state["space"] is None else SearchSpace(state["space"])
    records = state["trials"].get("records", {}) if isinstance(state["trials"], dict) else {}
    if space is not None:
        bad = sorted(k for k, r in records.items() if len(r.get("x", ())) != space.dim)
        if bad:
            raise ValueError(
                "this GPSearch state was saved by an older raybo (state version 1) whose space "
                "froze domains inside lists or choices as constants; raybo now searches them, "
                f"so the recorded encodings of {len(bad)} trials (e.g. {bad[0]!r}) do not fit "
                f"the space's {space.dim} columns. Start a new experiment, or restore this one "
                "with the raybo that saved it")
    return {
        "format": STATE_FORMAT, "version": 2,
        "settings": {"seed": state["seed"], "metric": state["metric"], "mode": state["mode"],
                     "acquisition": state["acquisition"], "n_initial": state["n_initial"],
                     "max_concurrent": state["max_concurrent"], "budget": state.get("budget"),
                     "engine": dict(V1_ENGINE)},
        "space": None if space is None else space.to_dict(),
        "design": {"points": state["queue"], "rewards": state["rewards"],
                   "sobol_index": state["sobol_index"]},
        "n_evaluated": state["n_evaluated"],
        "trials": state["trials"],  # TrialState reads its own version 1
    }


def v1_state_from_attributes(d: dict[str, Any]) -> dict[str, Any]:
    """The version-1 state of a GPSearch pickled as an object before version 2 (its
    ``__dict__``; a Tuner's ``tuner.pkl`` holds the searcher that way)."""
    return {"format": STATE_FORMAT, "version": 1, "space": d["_space_config"],
            "metric": d["_metric"], "mode": d["_mode"], "acquisition": d["_acquisition"],
            "n_initial": d["_n_initial"], "seed": d["_seed"],
            "max_concurrent": d["_max_concurrent"], "queue": d["_queue"],
            "rewards": d["_rewards"], "sobol_index": d["_sobol_index"],
            "n_evaluated": d["_n_evaluated"], "trials": _records_as(d["_state"], 1),
            "budget": d.get("_budget")}


def v2_state_from_attributes(d: dict[str, Any]) -> dict[str, Any]:
    """The version-2 state of a GPSearch pickled as an object at state version 2 (its
    ``__dict__``, e.g. in a Tuner's ``tuner.pkl``). Its objects were unpickled into today's
    classes without running their constructors, so fields added since (``Settings``'
    ``resource_attr``, ``Record.reports``) are absent: read only the version-2 ones."""
    settings = vars(d["_settings"])
    return {"format": STATE_FORMAT, "version": 2,
            "settings": {**{k: settings[k] for k in SETTINGS_V2},
                         "engine": dict(vars(settings["engine"]))},
            "space": None if d["_space"] is None else d["_space"].to_dict(),
            "design": d["_design"].to_dict(), "n_evaluated": d["_n_evaluated"],
            "trials": _records_as(d["_state"], 2)}


def _records_as(state: Any, version: int) -> dict[str, Any]:
    """``TrialState.to_dict()`` as ``version`` wrote it, from an unpickled older TrialState
    whose records lack the fields added since (read from their ``__dict__``)."""
    keys = RECORD_KEYS[version]
    return {"version": version,
            "records": {k: {key: vars(r)[key] for key in keys} for k, r in state.records.items()}}


def _check_keys(state: dict[str, Any], required: set[str], optional: set[str],
                version: int) -> None:
    missing, extra = required - set(state), set(state) - required - optional
    if missing or extra:
        raise ValueError(
            f"GPSearch state of version {version} is corrupt or from another raybo: "
            f"missing keys {sorted(missing)}, unexpected keys {sorted(extra)}")
