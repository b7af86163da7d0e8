"""Readings as they come off the wire: topic and JSON payload to a reading, or a reason."""

from __future__ import annotations

import json
import math

__all__ = ["BadPayload", "parse_reading", "sensor_of_topic"]


class BadPayload(ValueError):
    """A payload the service refuses; ``reason`` is a short code for the counters."""

    def __init__(self, reason, detail):
        super().__init__(detail)
        self.reason = reason


def sensor_of_topic(topic, prefix="sensors"):
    """``sensors/<id>/<quantity>`` -> ``"<id>/<quantity>"`` (the learner's key)."""
    head = prefix.rstrip("/") + "/"
    if not topic.startswith(head) or len(topic) == len(head):
        raise BadPayload("topic", f"topic {topic!r} is not under {head!r}")
    return topic[len(head):]


def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def parse_reading(payload):
    """JSON bytes -> ``(value, features or None, seq or None)``.

    The payload is an object with ``value`` (a finite number), optionally
    ``features`` (an object of finite numbers), ``seq`` (the sensor's sequence
    number, an integer) and ``timestamp`` (a number, used as the sequence
    number when there is no ``seq``). Anything else raises :class:`BadPayload`.
    """
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise BadPayload("not_json", "the payload is not JSON") from None
    if not isinstance(data, dict):
        raise BadPayload("not_object", f"the payload is a JSON {type(data).__name__}, not an object")
    if "value" not in data:
        raise BadPayload("no_value", "the payload has no 'value'")
    value = data["value"]
    if not _number(value):
        raise BadPayload("bad_value", f"'value' must be a finite number, got {value!r}"[:120])
    features = data.get("features")
    if features is not None:
        if not isinstance(features, dict) or not all(
                isinstance(k, str) and _number(v) for k, v in features.items()):
            raise BadPayload("bad_features", "'features' must be an object of finite numbers")
        features = {k: float(v) for k, v in features.items()} or None
    seq = data.get("seq")
    if seq is None:
        ts = data.get("timestamp")
        if ts is not None:
            if not _number(ts):
                raise BadPayload("bad_timestamp", f"'timestamp' must be a number, got {ts!r}"[:120])
            seq = ts
    elif isinstance(seq, bool) or not isinstance(seq, int):
        raise BadPayload("bad_seq", f"'seq' must be an integer, got {seq!r}"[:120])
    return float(value), features, seq
