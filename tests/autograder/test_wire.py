"""The grader/worker wire format: plain data round-trips exactly, and nothing is unpickled."""
import base64
import io
import json
import pickle

import numpy as np
import pytest

from autograder.wire import decode, encode, to_plain


def roundtrip(value):
    return decode(json.loads(json.dumps(encode(value))))


def test_plain_data_round_trips():
    value = {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "t": (1, 2.5, "s"), "l": [None, True],
             "n": np.float64(0.25), 3: np.array([1, 2], dtype=np.int64)}
    got = roundtrip(value)
    assert got["x"].dtype == np.float32 and np.array_equal(got["x"], value["x"])
    assert got["t"] == (1, 2.5, "s") and got["l"] == [None, True] and got["n"] == 0.25
    assert np.array_equal(got["3"], [1, 2]), "dict keys travel as strings"


def test_object_arrays_and_pickles_are_refused():
    with pytest.raises(TypeError, match="object array"):
        encode(np.array([object()], dtype=object))
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        decode({"__ndarray__": base64.b64encode(buf.getvalue()).decode()})
    with pytest.raises(ValueError, match="malformed"):
        decode({"__pickle__": base64.b64encode(pickle.dumps(1)).decode()})


def test_to_plain_turns_tensors_into_arrays():
    import beras
    got = to_plain((beras.constant([1.0, 2.0]), {"k": np.int32(3)}))
    assert isinstance(got[0], np.ndarray) and got[0].tolist() == [1.0, 2.0] and got[1] == {"k": 3}
