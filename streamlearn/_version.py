"""The library's version (also in setup.cfg), in a module of its own so that
``streamlearn``, its checkpoints and its CLI can all read it without importing
one another."""

__version__ = "0.1.0"
