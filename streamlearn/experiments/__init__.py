"""Reproducing the paper's experiments from YAML configurations.

``streamlearn run CONFIG.yaml --out DIR`` and ``streamlearn tune CONFIG.yaml
--out DIR`` (see ``docs/experiments.md``) are thin wrappers around
:func:`load_config`, :func:`tune` and :func:`run_experiment`.
"""

from .config import ConfigError, load_config, resolve_config
from .runner import run_experiment
from .tuning import tune

__all__ = ["ConfigError", "load_config", "resolve_config", "run_experiment", "tune"]
