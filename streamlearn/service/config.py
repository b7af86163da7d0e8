"""The service's YAML configuration: read, checked, defaults filled in.

Every error is a ``ValueError`` with one line that names the key, so
``streamlearn serve`` reports it as ``streamlearn: error: ...`` with exit code 2.
See ``examples/configs/service.yaml`` for a documented example and
docs/service.md for the meaning of each key.
"""

from __future__ import annotations

import copy
import re
import os
from urllib.parse import urlparse

import yaml

__all__ = ["DEFAULTS", "load_config", "check_config"]

DEFAULTS = {
    "broker": {
        "url": "mqtt://127.0.0.1:1883",
        "client_id": "streamlearn-service",
        "username": "streamlearn",
        "topics": ["sensors/#"],
        "sensor_prefix": "sensors",
        "forecast_prefix": "forecasts",
        "forecast_qos": 0,
        "keepalive": 30,
        "reconnect_min": 0.5,
        "reconnect_max": 30.0,
    },
    "model": {"max_horizon": 6, "n_hidden": 32, "seed": 0},
    "checkpoint": {"dir": "service-state", "period": 30.0, "fsync_log": True},
    "service": {"batch": 500, "linger": 0.02, "stats_period": 10.0},
    "dask": {"enabled": False, "scheduler": None, "n_workers": 2, "n_shards": 8},
}

_TYPES = {
    ("broker", "url"): str, ("broker", "client_id"): str, ("broker", "username"): str,
    ("broker", "topics"): list, ("broker", "sensor_prefix"): str,
    ("broker", "forecast_prefix"): str, ("broker", "forecast_qos"): int,
    ("broker", "keepalive"): int, ("broker", "reconnect_min"): float,
    ("broker", "reconnect_max"): float,
    ("checkpoint", "dir"): str, ("checkpoint", "period"): float, ("checkpoint", "fsync_log"): bool,
    ("service", "batch"): int, ("service", "stats_period"): float,
    ("service", "linger"): float,
    ("dask", "enabled"): bool, ("dask", "scheduler"): (str, type(None)),
    ("dask", "n_workers"): int, ("dask", "n_shards"): int,
}


def load_config(path):
    """Read and check the YAML file at ``path``."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f)
    except FileNotFoundError:
        raise ValueError(f"config file not found: {path!r}") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise ValueError(f"{path}: not valid YAML{at}") from None
    return check_config(raw if raw is not None else {}, source=path)


def check_config(raw, source="config"):
    """Fill in the defaults and check every key; returns a new dict."""
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: the top level must be a mapping of sections")
    cfg = copy.deepcopy(DEFAULTS)
    for section, values in raw.items():
        if section not in DEFAULTS:
            raise ValueError(f"{source}: unknown section {section!r} "
                             f"(known: {', '.join(DEFAULTS)})")
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ValueError(f"{source}: section {section!r} must be a mapping")
        if section == "model":
            cfg["model"].update(values)
            continue
        for key, value in values.items():
            if key not in DEFAULTS[section]:
                raise ValueError(f"{source}: unknown key {section}.{key} "
                                 f"(known: {', '.join(DEFAULTS[section])})")
            want = _TYPES[(section, key)]
            if want is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, want) or (want is int and isinstance(value, bool)):
                name = want.__name__ if isinstance(want, type) else "a string or null"
                raise ValueError(f"{source}: {section}.{key} must be {name}, got {value!r}")
            cfg[section][key] = value
    b, c, s, d = cfg["broker"], cfg["checkpoint"], cfg["service"], cfg["dask"]
    url = urlparse(b["url"])
    if url.scheme not in ("mqtt", "tcp") or not url.hostname:
        raise ValueError(f"{source}: broker.url must look like mqtt://127.0.0.1:1883, "
                         f"got {b['url']!r}")
    b["host"], b["port"] = url.hostname, url.port or 1883
    if not b["topics"] or not all(isinstance(t, str) and t for t in b["topics"]):
        raise ValueError(f"{source}: broker.topics must be a non-empty list of topic filters")
    if b["forecast_qos"] not in (0, 1):
        raise ValueError(f"{source}: broker.forecast_qos must be 0 or 1, got {b['forecast_qos']}")
    if not b["client_id"] or not b["username"]:
        raise ValueError(f"{source}: broker.client_id and broker.username must not be empty "
                         "(a persistent session needs both)")
    if not 0 < b["reconnect_min"] <= b["reconnect_max"]:
        raise ValueError(f"{source}: need 0 < broker.reconnect_min <= broker.reconnect_max")
    if not 0 <= s["linger"] <= 10:
        raise ValueError(f"{source}: service.linger must be between 0 and 10 seconds")
    for key, where in (("period", c), ("stats_period", s)):
        if not where[key] > 0:
            raise ValueError(f"{source}: {key} must be a positive number of seconds")
    for key, where in (("batch", s), ("n_workers", d), ("n_shards", d), ("keepalive", b)):
        if where[key] < 1:
            raise ValueError(f"{source}: {key} must be a positive integer, got {where[key]}")
    _check_model(cfg["model"], source)
    return cfg


def _check_model(model, source):
    from ..forecaster import RNNForecaster

    seed = model.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"{source}: model.seed must be a non-negative integer, got {seed!r}")
    try:
        RNNForecaster(**model)
    except TypeError as exc:
        text = re.sub(r"^\S*__init__\(\) ", "", str(exc))
        raise ValueError(f"{source}: model: {text}") from None
    except ValueError as exc:
        raise ValueError(f"{source}: model: {exc}") from None
