"""Initializers: Keras's names, fan rules and distributions (statistics over large samples,
compared with Keras's formulas and with Keras's own initializers), seeding, and lookup errors."""
import math

import keras
import numpy as np
import pytest

import beras
from beras import initializers

# (shape, fan_in, fan_out): dense kernel, bias, conv kernel (kh, kw, in, out)
FAN_CASES = [((300, 200), 300, 200), ((500,), 500, 500), ((3, 5, 16, 32), 3 * 5 * 16, 3 * 5 * 32)]
TRUNC = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


@pytest.mark.parametrize("shape,fan_in,fan_out", FAN_CASES)
def test_fans_match_keras(shape, fan_in, fan_out):
    from keras.src.initializers.random_initializers import compute_fans
    assert initializers.compute_fans(shape) == (fan_in, fan_out) == compute_fans(shape)


# name -> (kind, variance-scaling n as a function of fans, scale)
VS = {
    "glorot_uniform": ("uniform", lambda i, o: (i + o) / 2, 1.0),
    "glorot_normal": ("truncated", lambda i, o: (i + o) / 2, 1.0),
    "he_uniform": ("uniform", lambda i, o: i, 2.0),
    "he_normal": ("truncated", lambda i, o: i, 2.0),
}


@pytest.mark.parametrize("name", sorted(VS))
@pytest.mark.parametrize("shape,fan_in,fan_out", FAN_CASES[::2])
def test_variance_scaling_statistics(name, shape, fan_in, fan_out):
    kind, n_of, scale = VS[name]
    var = scale / n_of(fan_in, fan_out)
    ours = initializers.get(name)(shape)
    theirs = np.asarray(keras.initializers.get(name)(shape))
    assert ours.shape == tuple(shape) and ours.dtype == np.float32
    if kind == "uniform":
        limit = math.sqrt(3 * var)  # glorot: sqrt(6 / (fan_in + fan_out)); he: sqrt(6 / fan_in)
        assert np.abs(ours).max() <= limit
        assert np.abs(ours).max() > 0.99 * limit  # the whole range is used
    else:
        bound = 2 * math.sqrt(var) / TRUNC  # truncated at two (untruncated) standard deviations
        assert np.abs(ours).max() <= bound * (1 + 1e-6)
        assert np.abs(ours).max() > 0.97 * bound
    # the std after truncation is sqrt(scale / n), as Keras promises; and it matches Keras's own samples
    assert ours.std() == pytest.approx(math.sqrt(var), rel=0.03)
    assert ours.std() == pytest.approx(theirs.std(), rel=0.04)
    assert abs(ours.mean()) < 0.05 * math.sqrt(var)


def test_random_normal_and_constants_match_keras():
    rn = initializers.RandomNormal(mean=1.0, stddev=0.5, seed=3)((400, 250))
    assert rn.mean() == pytest.approx(1.0, abs=0.01) and rn.std() == pytest.approx(0.5, rel=0.01)
    default = initializers.get("random_normal")((400, 250))
    assert default.std() == pytest.approx(keras.initializers.RandomNormal().stddev, rel=0.01)  # 0.05
    for name in ("zeros", "ones"):
        np.testing.assert_array_equal(initializers.get(name)((3, 4)), np.asarray(keras.initializers.get(name)((3, 4))))
    np.testing.assert_array_equal(initializers.Constant(2.5)((2, 3)), np.asarray(keras.initializers.Constant(2.5)((2, 3))))
    assert initializers.get("zeros")((2,), dtype="float64").dtype == np.float64


def test_seeded_initializer_repeats_and_set_random_seed_reproduces():
    init = initializers.GlorotUniform(seed=7)
    np.testing.assert_array_equal(init((5, 6)), init((5, 6)))  # Keras: a seeded initializer repeats
    beras.utils.set_random_seed(1)
    a = initializers.get("he_normal")((5, 6))
    layer_a = beras.layers.Dense(3)
    layer_a(np.ones((1, 4), "float32"))
    beras.utils.set_random_seed(1)
    b = initializers.get("he_normal")((5, 6))
    layer_b = beras.layers.Dense(3)
    layer_b(np.ones((1, 4), "float32"))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(layer_a.get_weights()[0], layer_b.get_weights()[0])


def test_get_accepts_names_objects_and_callables():
    assert isinstance(initializers.get("glorot_uniform"), initializers.GlorotUniform)
    assert isinstance(initializers.get("HeNormal"), initializers.HeNormal)
    obj = initializers.Constant(3.0)
    assert initializers.get(obj) is obj

    def custom(shape, dtype=None):
        return np.full(shape, 7.0, dtype)
    assert initializers.get(custom) is custom
    layer = beras.layers.Dense(2, kernel_initializer=custom, bias_initializer=initializers.Constant(0.5))
    layer(np.ones((1, 3), "float32"))
    np.testing.assert_array_equal(layer.kernel.numpy(), np.full((3, 2), 7.0, np.float32))
    np.testing.assert_array_equal(layer.bias.numpy(), [0.5, 0.5])


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="glorot_uniform") as err:
        initializers.get("glorot_uniformm")
    assert "he_normal" in str(err.value) and "glorot_uniformm" in str(err.value)
    with pytest.raises(ValueError, match="glorot_uniform"):
        beras.layers.Dense(3, kernel_initializer="nope")
