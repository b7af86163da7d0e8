"""Loading and validating experiment configurations (YAML).

A configuration is a mapping with these top-level keys (see
``docs/experiments.md`` for the full schema and examples):

``name``, ``task``, ``protocol``, ``model``, ``methods``, ``seeds``,
``stability``, ``tune``, ``figures``, ``smoke`` and ``variants``.

``smoke`` and each entry of ``variants`` are *variants*: partial configurations
deep-merged over the rest when selected (``--smoke``, ``--variant NAME``), e.g. a
tiny version for the test suite or the scaled-down version that was actually run
for ``docs/results.md``.

:func:`load_config` reads a file, applies a variant's overrides when asked,
fills in defaults and checks every key, so that a typo fails at once with a
message naming the key instead of silently running the wrong experiment.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path

import yaml

from .methods import METHODS, MODEL_KEYS

__all__ = ["ConfigError", "load_config", "resolve_config", "fingerprint", "TASKS", "PROTOCOLS"]


class ConfigError(ValueError):
    """A configuration is malformed; the message names the offending key."""


# Task parameters and their defaults. ``path`` of the weather task is resolved
# relative to the configuration file.
TASKS = {
    "mackey_glass": {
        "n_steps": 5000,
        "n_test_steps": None,  # None: same as n_steps
        "horizon": 15,
        "pairing": "forecast",  # or "recall", the authors' code (docs/datasets.md)
        "tau": 17,
        "substeps": 10,
        "washout": 100,
        "train_seed": 0,
        "test_seed": 1,
        "validation_seed": 2,
    },
    "copy_memory": {
        "n_train_sequences": 1,
        "n_test_sequences": 1,
        "n_symbols": 100,
        "delay": 10,
        "n_values": 8,
        "train_seed": 0,
        "test_seed": 1,
        "validation_seed": 2,
    },
    "weather": {
        "path": None,
        "horizon_hours": 1,
        "n_train": 33600,
        "max_train_steps": None,  # keep only the last N training steps
        "max_test_steps": None,  # keep only the first N test steps
        "validation_fraction": 0.1,
    },
}

PROTOCOLS = {
    "epochs": {"epochs": 100, "final_epochs": 50, "decorrelation_stride": 1},
    "prequential": {"chunk": 500, "decorrelation_stride": 1},
}

_TOP_LEVEL = {
    "name", "task", "protocol", "model", "methods", "seeds", "stability", "tune",
    "figures", "smoke", "variants",
}
_STABILITY = {"max_weight": 1.0e4, "max_loss": 1.0e4}
_TUNE = {
    "grid": {},
    "method_grids": {},
    "methods": None,  # None: all methods of the run
    "seeds": [0],
    "n_hidden": None,  # None: the first hidden size of the run
    "epochs": None,  # None: the run's epochs
    "final_epochs": None,
}
_TUNABLE = {"lr", "sigma", "lr_decorrelation"}

#: Environment variable that overrides the weather task's ``path``.
WEATHER_PATH_ENV = "STREAMLEARN_WEATHER_CSV"


def _deep_merge(base, override):
    """Return ``base`` with ``override`` merged in (mappings recursively).

    An empty mapping in ``override`` clears the mapping it replaces (so that a
    variant can drop, e.g., ``tune.method_grids``).
    """
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and value and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _check_keys(section, allowed, where):
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}"
        )


def _as_mapping(value, where):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(value).__name__}")
    return value


def _positive_int(value, where, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{where} must be an integer >= {minimum}, got {value!r}")
    return value


def _int_list(value, where):
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where} must be an integer or a non-empty list of integers")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{where} must contain integers, got {v!r}")
    if len(set(value)) != len(value):
        raise ConfigError(f"{where} has duplicates: {value}")
    return list(value)


def _check_model_settings(settings, where, *, allow_n_hidden):
    allowed = set(MODEL_KEYS) | ({"n_hidden"} if allow_n_hidden else set())
    _check_keys(settings, allowed, where)
    for key in ("lr", "sigma", "lr_decorrelation"):
        if key in settings and settings[key] is not None:
            value = settings[key]
            if isinstance(value, str):
                try:
                    value = float(value)  # YAML reads "1e-3" (no dot) as a string
                except ValueError:
                    raise ConfigError(f"{where}.{key} must be a number, got {value!r}") from None
                settings[key] = value
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"{where}.{key} must be a positive number, got {value!r}")
    if "optimizer" in settings and settings["optimizer"] not in ("sgd", "adam"):
        raise ConfigError(f"{where}.optimizer must be 'sgd' or 'adam', got {settings['optimizer']!r}")
    if "dtype" in settings and settings["dtype"] not in ("float32", "float64"):
        raise ConfigError(f"{where}.dtype must be 'float32' or 'float64', got {settings['dtype']!r}")


def _floats(values, where):
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where} must be a non-empty list of numbers")
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must contain numbers, got {v!r}") from None
        if isinstance(v, bool) or not f > 0:
            raise ConfigError(f"{where} must contain positive numbers, got {v!r}")
        out.append(f)
    return out


def _apply_variant(raw, variant):
    """Deep-merge the selected variant over the base configuration."""
    if variant == "smoke":
        section = _as_mapping(raw.get("smoke"), "smoke")
        if not section:
            raise ConfigError("smoke variant requested but the configuration has no 'smoke' section")
        where = "smoke"
    else:
        variants = _as_mapping(raw.get("variants"), "variants")
        if variant not in variants:
            known = ["smoke"] * ("smoke" in raw) + sorted(variants)
            raise ConfigError(f"variant {variant!r} is not defined; known variants: {known}")
        where = f"variants.{variant}"
        section = _as_mapping(variants[variant], where)
    _check_keys(section, _TOP_LEVEL - {"smoke", "variants"}, where)
    cfg = {k: v for k, v in raw.items() if k not in ("smoke", "variants")}
    methods = section.get("methods")
    cfg = _deep_merge(cfg, {k: v for k, v in section.items() if k != "methods"})
    if isinstance(methods, list):
        # a list selects methods, keeping their base settings
        base = cfg.get("methods") or {}
        base = base if isinstance(base, dict) else {m: {} for m in base}
        cfg["methods"] = {m: copy.deepcopy(base.get(m) or {}) for m in methods}
    elif methods is not None:
        base = cfg.get("methods") or {}
        base = base if isinstance(base, dict) else {m: {} for m in base}
        cfg["methods"] = _deep_merge(base, _as_mapping(methods, f"{where}.methods"))
    return cfg


def resolve_config(raw, *, smoke=False, variant=None, base_dir=None, name=None):
    """Validate a configuration mapping and fill in every default.

    Parameters
    ----------
    raw : dict
        The configuration as read from YAML.
    smoke : bool, default False
        Shorthand for ``variant="smoke"``.
    variant : str, optional
        Deep-merge this variant (``"smoke"`` or a key of ``variants``) over the
        rest first (after checking the configuration without it). A ``methods`` list in a variant selects methods (keeping
        their base settings); a ``methods`` mapping is merged into the base one.
    base_dir : path-like, optional
        Directory that relative data paths are resolved against (the config
        file's directory).
    name : str, optional
        Default for ``name`` when the configuration has none.

    Returns
    -------
    dict
        The resolved configuration; ``methods`` becomes a mapping from method name
        to its own settings, ``seeds`` and ``model.n_hidden`` lists of integers.

    Raises
    ------
    ConfigError
        On unknown keys or values of the wrong type, naming the key.

    Examples
    --------
    >>> cfg = resolve_config({"task": {"name": "mackey_glass", "n_steps": 200},
    ...                       "methods": ["bp", "danp"], "seeds": 2})
    >>> cfg["methods"]["danp"], cfg["seeds"], cfg["protocol"]["name"]
    ({}, [0, 1], 'epochs')
    """
    raw = _as_mapping(raw, "configuration")
    _check_keys(raw, _TOP_LEVEL, "configuration")
    if smoke:
        if variant not in (None, "smoke"):
            raise ConfigError(f"smoke=True contradicts variant={variant!r}")
        variant = "smoke"
    if variant is None:
        cfg = {k: v for k, v in raw.items() if k not in ("smoke", "variants")}
    else:
        # the full configuration first: a variant may hide an error in it
        try:
            resolve_config(raw, base_dir=base_dir, name=name)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (in the full configuration, checked before the "
                              f"{variant!r} variant)") from None
        cfg = _apply_variant(raw, variant)
    out = {"name": str(cfg.get("name") or name or "experiment"), "variant": variant}

    # task
    task = dict(_as_mapping(cfg.get("task"), "task"))
    if "name" not in task:
        raise ConfigError(f"task.name is required; one of {sorted(TASKS)}")
    if task["name"] not in TASKS:
        raise ConfigError(f"task.name {task['name']!r} is unknown; one of {sorted(TASKS)}")
    defaults = TASKS[task["name"]]
    _check_keys(task, set(defaults) | {"name"}, f"task ({task['name']})")
    task = {"name": task["name"], **_deep_merge(defaults, {k: v for k, v in task.items() if k != "name"})}
    if task["name"] == "weather":
        env = os.environ.get(WEATHER_PATH_ENV)
        if env:
            task["path"] = env
        if not task["path"]:
            raise ConfigError(f"task.path is required for the weather task (or set ${WEATHER_PATH_ENV})")
        path = Path(os.path.expanduser(str(task["path"])))
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        task["path"] = str(path.resolve()) if path.is_absolute() or base_dir else str(path)
        frac = task["validation_fraction"]
        if not isinstance(frac, (int, float)) or not 0 < frac < 1:
            raise ConfigError(f"task.validation_fraction must lie in (0, 1), got {frac!r}")
        _positive_int(task["horizon_hours"], "task.horizon_hours")
    if task["name"] == "mackey_glass" and task["pairing"] not in ("forecast", "recall"):
        raise ConfigError(f"task.pairing must be 'forecast' or 'recall', got {task['pairing']!r}")
    for key, value in task.items():
        if key in ("name", "path", "validation_fraction", "pairing") or value is None:
            continue
        _positive_int(value, f"task.{key}", minimum=0)
    out["task"] = task

    # protocol
    protocol = dict(_as_mapping(cfg.get("protocol"), "protocol"))
    pname = protocol.get("name", "epochs")
    if pname not in PROTOCOLS:
        raise ConfigError(f"protocol.name {pname!r} is unknown; one of {sorted(PROTOCOLS)}")
    _check_keys(protocol, set(PROTOCOLS[pname]) | {"name"}, f"protocol ({pname})")
    protocol = {"name": pname, **PROTOCOLS[pname], **{k: v for k, v in protocol.items() if k != "name"}}
    for key in PROTOCOLS[pname]:
        _positive_int(protocol[key], f"protocol.{key}", minimum=0 if key == "decorrelation_stride" else 1)
    if pname == "epochs" and protocol["final_epochs"] > protocol["epochs"]:
        raise ConfigError(
            f"protocol.final_epochs ({protocol['final_epochs']}) exceeds protocol.epochs "
            f"({protocol['epochs']})"
        )
    out["protocol"] = protocol

    # model (shared settings)
    model = dict(_as_mapping(cfg.get("model"), "model"))
    _check_model_settings(model, "model", allow_n_hidden=True)
    model["n_hidden"] = _int_list(model.get("n_hidden", 100), "model.n_hidden")
    for h in model["n_hidden"]:
        _positive_int(h, "model.n_hidden")
    out["model"] = model

    # methods: a list of names or a mapping name -> settings
    methods = cfg.get("methods")
    if methods is None:
        raise ConfigError(f"methods is required; any of {list(METHODS)}")
    if isinstance(methods, list):
        methods = {m: {} for m in methods}
    methods = _as_mapping(methods, "methods")
    if not methods:
        raise ConfigError("methods is empty")
    resolved_methods = {}
    for m, settings in methods.items():
        if m not in METHODS:
            raise ConfigError(f"methods: unknown method {m!r}; any of {list(METHODS)}")
        settings = dict(_as_mapping(settings, f"methods.{m}"))
        _check_model_settings(settings, f"methods.{m}", allow_n_hidden=False)
        resolved_methods[m] = settings
    out["methods"] = resolved_methods

    # seeds: a count or an explicit list
    seeds = cfg.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = list(range(_positive_int(seeds, "seeds")))
    out["seeds"] = _int_list(seeds, "seeds")

    stability = dict(_as_mapping(cfg.get("stability"), "stability"))
    _check_keys(stability, _STABILITY, "stability")
    stability = {**_STABILITY, **stability}
    for key, value in stability.items():
        stability[key] = _floats([value], f"stability.{key}")[0]
    out["stability"] = stability

    # tune
    tune = dict(_as_mapping(cfg.get("tune"), "tune"))
    _check_keys(tune, _TUNE, "tune")
    tune = {**copy.deepcopy(_TUNE), **tune}
    grid = dict(_as_mapping(tune["grid"], "tune.grid"))
    _check_keys(grid, _TUNABLE, "tune.grid")
    tune["grid"] = {k: _floats(v, f"tune.grid.{k}") for k, v in grid.items()}
    method_grids = dict(_as_mapping(tune["method_grids"], "tune.method_grids"))
    for m, g in method_grids.items():
        if m not in METHODS:
            raise ConfigError(f"tune.method_grids: unknown method {m!r}")
        g = dict(_as_mapping(g, f"tune.method_grids.{m}"))
        _check_keys(g, _TUNABLE, f"tune.method_grids.{m}")
        method_grids[m] = {k: _floats(v, f"tune.method_grids.{m}.{k}") for k, v in g.items()}
    tune["method_grids"] = method_grids
    if tune["methods"] is not None:
        if not isinstance(tune["methods"], list):
            raise ConfigError("tune.methods must be a list of method names")
        for m in tune["methods"]:
            if m not in resolved_methods:
                raise ConfigError(f"tune.methods: {m!r} is not one of the run's methods {list(resolved_methods)}")
    tune["seeds"] = _int_list(tune["seeds"], "tune.seeds")
    for key in ("n_hidden", "epochs", "final_epochs"):
        if tune[key] is not None:
            _positive_int(tune[key], f"tune.{key}")
    out["tune"] = tune

    figures = cfg.get("figures", True)
    if not isinstance(figures, bool):
        raise ConfigError(f"figures must be true or false, got {figures!r}")
    out["figures"] = figures
    return out


def load_config(path, *, smoke=False, variant=None):
    """Read and resolve a YAML configuration file.

    Parameters
    ----------
    path : path-like
        The YAML file.
    smoke : bool, default False
        Use the file's small ``smoke`` variant.
    variant : str, optional
        Use this variant (see :func:`resolve_config`).

    Returns
    -------
    dict
        See :func:`resolve_config`. Relative data paths are resolved against the
        file's directory; ``name`` defaults to the file's stem, and a variant's
        name is appended (``mackey_glass-smoke``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"configuration file not found: {str(path)!r}")
    with open(path, encoding="utf-8") as fh:
        try:
            raw = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    try:
        cfg = resolve_config(raw, smoke=smoke, variant=variant, base_dir=path.parent,
                             name=path.stem)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if cfg["variant"]:
        cfg["name"] += f"-{cfg['variant']}"
    return cfg


def fingerprint(obj):
    """Short stable hash of a JSON-serialisable object (used to detect changed settings)."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
