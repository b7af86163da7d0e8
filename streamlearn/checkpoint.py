"""Checkpoints: a versioned on-disk format, written atomically, checksummed.

A checkpoint file is::

    magic      16 bytes  b"STREAMLEARN-CKPT"
    version    4 bytes   little-endian uint32, FORMAT_VERSION
    length     8 bytes   little-endian uint64, payload length in bytes
    sha256     32 bytes  digest of the payload
    payload    an uncompressed .npz archive (numpy.savez, no pickles):
               "meta.json" (UTF-8 JSON, as a uint8 array) and one .npy per array

``meta.json`` holds ``format``, ``library`` (the streamlearn version that wrote
it), ``class`` and ``state``: the learner's attributes as a JSON tree in which
arrays appear as ``{"__array__": "a3"}``, pointing into the archive. Only
streamlearn classes can be rebuilt from a file, and no pickle is read, so
loading a file cannot run foreign code. Writes go to a temporary file in the
same folder, which is flushed, fsynced and renamed over the target, so a crash
leaves either the old file or the new one, never a mix. A load reads and checks
everything before it builds anything: a bad file raises
``CheckpointError`` and returns no half-loaded model.
"""

import collections
import hashlib
import io
import json
import os
import struct
import tempfile

import numpy as np

MAGIC = b"STREAMLEARN-CKPT"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<16sIQ32s")


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, truncated or incompatible."""


def save(obj, path):
    """Write ``obj`` (a streamlearn learner) to ``path`` atomically."""
    from ._version import __version__

    arrays = {}
    meta = {"format": FORMAT_VERSION, "library": __version__,
            "class": _class_name(type(obj)), "state": _encode(_getstate(obj), arrays, "")}
    buf = io.BytesIO()
    np.savez(buf, **arrays,
             **{"meta.json": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)})
    payload = buf.getvalue()
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, len(payload), hashlib.sha256(payload).digest())
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".ckpt-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def load(path, expected=None):
    """Read a checkpoint; with ``expected`` (a class), insist on that class."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path!r}") from None
    if len(raw) < _HEADER.size:
        raise CheckpointError(f"{path!r} is truncated: {len(raw)} bytes, shorter than the header")
    magic, version, length, digest = _HEADER.unpack_from(raw)
    if magic != MAGIC:
        raise CheckpointError(f"{path!r} is not a streamlearn checkpoint (bad magic {magic!r})")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path!r} has checkpoint format {version}; this streamlearn reads format "
            f"{FORMAT_VERSION}")
    payload = raw[_HEADER.size:]
    if len(payload) != length:
        raise CheckpointError(
            f"{path!r} is truncated or padded: payload of {len(payload)} bytes, "
            f"header says {length}")
    if hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(f"{path!r} is corrupt: its checksum does not match")
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as archive:
            files = {name: archive[name] for name in archive.files}
        meta = json.loads(files.pop("meta.json").tobytes().decode())
    except Exception as exc:  # checksum passed, so the writer was not ours
        raise CheckpointError(f"{path!r} has an unreadable payload: {exc}") from None
    cls = _resolve(meta.get("class"), path)
    if expected is not None and not issubclass(cls, expected):
        raise CheckpointError(
            f"{path!r} holds a {cls.__name__}, not a {expected.__name__}; "
            f"load it with {cls.__name__}.load")
    return _decode({"__object__": meta["class"], "state": meta["state"]}, files, path)


class Checkpointable:
    """``save(path)`` and ``load(path)`` for a learner (see this module)."""

    def save(self, path):
        """Write this learner to ``path`` (atomic, checksummed; see
        ``streamlearn.checkpoint``). Loading it continues bit for bit."""
        save(self, path)

    @classmethod
    def load(cls, path):
        """Read a learner written by ``save``; raises ``CheckpointError`` on a
        missing, corrupt, truncated or incompatible file."""
        return load(path, expected=cls)


# -- the JSON tree -------------------------------------------------------------

def _class_name(cls):
    return f"{cls.__module__}:{cls.__qualname__}"


def _getstate(obj):
    state = obj.__getstate__() if hasattr(obj, "__getstate__") else obj.__dict__
    if state is None:
        state = {}
    if not isinstance(state, dict):
        raise TypeError(f"cannot checkpoint {type(obj).__name__}: its state is not a dict")
    return state


def _encode(value, arrays, where):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) and not isinstance(value, np.integer):
        return value
    if isinstance(value, float):
        return {"__float__": repr(value)}  # repr round-trips, including inf and nan
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype.hasobject:
            raise TypeError(f"cannot checkpoint {where}: an array of Python objects")
        key = f"a{len(arrays)}"
        arrays[key] = arr
        return {"__array__": key, "scalar": isinstance(value, np.generic)}
    if isinstance(value, np.dtype):
        return {"__dtype__": value.str}
    if isinstance(value, type) and issubclass(value, np.generic):
        return {"__nptype__": np.dtype(value).str}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return {"__list__": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, collections.deque):
        return {"__deque__": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)],
                "maxlen": value.maxlen}
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k, arrays, f"{where} key"), _encode(v, arrays, f"{where}[{k!r}]")]
                             for k, v in value.items()]}
    if type(value).__module__.split(".")[0] == "streamlearn":
        return {"__object__": _class_name(type(value)),
                "state": _encode(_getstate(value), arrays, where)}
    raise TypeError(f"cannot checkpoint {where or 'the object'}: "
                    f"a {type(value).__module__}.{type(value).__qualname__}")


def _resolve(name, path):
    import importlib

    if not isinstance(name, str) or ":" not in name or not name.startswith("streamlearn"):
        raise CheckpointError(f"{path!r} names a class streamlearn cannot build: {name!r}")
    module, qualname = name.split(":", 1)
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        raise CheckpointError(
            f"{path!r} holds a {name}, which this streamlearn does not have") from None
    return obj


def _decode(node, arrays, path):
    if node is None or isinstance(node, (bool, int, str)):
        return node
    if isinstance(node, dict):
        if "__float__" in node:
            return float(node["__float__"])
        if "__array__" in node:
            arr = arrays[node["__array__"]]
            return arr[()] if node.get("scalar") else np.array(arr)  # writable copy
        if "__dtype__" in node:
            return np.dtype(node["__dtype__"])
        if "__nptype__" in node:
            return np.dtype(node["__nptype__"]).type
        if "__tuple__" in node:
            return tuple(_decode(v, arrays, path) for v in node["__tuple__"])
        if "__list__" in node:
            return [_decode(v, arrays, path) for v in node["__list__"]]
        if "__deque__" in node:
            return collections.deque((_decode(v, arrays, path) for v in node["__deque__"]),
                                     maxlen=node["maxlen"])
        if "__dict__" in node:
            return {_decode(k, arrays, path): _decode(v, arrays, path) for k, v in node["__dict__"]}
        if "__object__" in node:
            cls = _resolve(node["__object__"], path)
            obj = cls.__new__(cls)
            state = _decode(node["state"], arrays, path)
            if hasattr(obj, "__setstate__"):
                obj.__setstate__(state)
            else:
                obj.__dict__.update(state)
            return obj
    raise CheckpointError(f"{path!r} has a malformed state entry: {str(node)[:80]}")
