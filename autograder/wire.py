"""The wire format between the grader and the sandboxed hidden-test worker: one JSON line per
message, arrays as ``np.save`` bytes read back with ``allow_pickle=False`` (never pickle).

Self-contained on purpose (only base64, io, numpy): the project is not importable inside the
sandbox, so ``sandbox.py`` sends this file's source ahead of ``worker.py``'s.
"""
import base64
import io

import numpy as np


def encode(value):
    """Plain data -> JSON-able structure (arrays as base64 np.save bytes)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError("returned an object array (expected numbers)")
        buf = io.BytesIO()
        np.save(buf, value, allow_pickle=False)
        return {"__ndarray__": base64.b64encode(buf.getvalue()).decode()}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[encode(str(k)), encode(v)] for k, v in value.items()]}
    if hasattr(value, "numpy"):
        return encode(np.asarray(value.numpy()))
    try:
        arr = np.asarray(value)
    except Exception:
        arr = None
    if arr is not None and arr.dtype != object:
        return encode(arr)
    raise TypeError(f"returned a {type(value).__name__} (expected plain data: numbers, arrays, lists)")


def decode(value):
    """The inverse of :func:`encode`; arrays load with allow_pickle=False."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "__ndarray__" in value:
            return np.load(io.BytesIO(base64.b64decode(value["__ndarray__"])), allow_pickle=False)
        if "__tuple__" in value:
            return tuple(decode(v) for v in value["__tuple__"])
        if "__dict__" in value:
            return {decode(k): decode(v) for k, v in value["__dict__"]}
        raise ValueError("malformed message on the grader/worker wire")
    return value


def to_plain(value):
    """A student's return value as plain data: arrays, numbers, strings, lists, dicts."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.array(value)
