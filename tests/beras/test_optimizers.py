"""beras optimizers vs Keras 3: N steps on the same gradients from the same weights give Keras's weights."""
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import beras

CONFIGS = [
    ("SGD", {}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.5, "nesterov": True}),
    ("RMSprop", {}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.9}),
    ("RMSprop", {"centered": True, "rho": 0.8}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
    ("Adam", {}),
    ("Adam", {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-5}),
    ("Adam", {"amsgrad": True}),
]
STEPS = 5


def _run(make_var, apply, shapes, grads_per_step):
    variables = [make_var(w) for w in shapes]
    for grads in grads_per_step:
        apply(grads, variables)
    return [np.asarray(v.numpy()) for v in variables]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{'-'.join(map(str, k.items())) or 'defaults'}"
                                                      for n, k in CONFIGS])
def test_matches_keras(name, kwargs, dtype):
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((4, 3)).astype(dtype), rng.standard_normal((3,)).astype(dtype)]
    # the gradients change sign and scale between steps, so momentum/velocity terms matter
    steps = [[rng.standard_normal(w.shape).astype(dtype) * (0.1 + k) for w in weights] for k in range(STEPS)]

    b_opt = getattr(beras.optimizers, name)(**kwargs)
    k_opt = getattr(keras.optimizers, name)(**kwargs)
    got = _run(beras.Variable, lambda gs, vs: b_opt.apply_gradients(zip(gs, vs)), weights, steps)
    want = _run(tf.Variable, lambda gs, vs: k_opt.apply_gradients(zip([tf.constant(g) for g in gs], vs)),
                weights, steps)
    for g, w in zip(got, want):
        assert g.dtype == np.dtype(dtype)
        err = beras.gradcheck.rel_error(g, w)
        # float64: Keras keeps the learning rate in a float32 variable, as beras does, so only
        # rounding order differs
        assert err < (1e-6 if dtype == "float32" else 1e-12), f"{name}{kwargs}: rel error {err:.2e}"
    assert int(b_opt.iterations.numpy()) == int(k_opt.iterations.numpy()) == STEPS


def test_defaults_match_keras():
    for name in ("SGD", "RMSprop", "Adam"):
        b, k = getattr(beras.optimizers, name)(), getattr(keras.optimizers, name)()
        kc = k.get_config()
        for key, value in b.get_config().items():
            if key != "name":
                assert kc[key] == pytest.approx(value), f"{name}.{key}: beras {value}, keras {kc[key]}"


def test_learning_rate_attribute_and_assignment():
    opt = beras.optimizers.SGD(learning_rate=0.5)
    assert float(opt.learning_rate.numpy()) == 0.5
    opt.learning_rate = 0.25
    v = beras.Variable([1.0, 2.0])
    opt.apply_gradients([(np.array([1.0, 1.0], np.float32), v)])
    np.testing.assert_allclose(v.numpy(), [0.75, 1.75])
    assert int(opt.iterations.numpy()) == 1


def test_none_gradients_are_skipped_like_keras():
    opt = beras.optimizers.Adam()
    a, b = beras.Variable([1.0]), beras.Variable([2.0])
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply_gradients([(np.array([1.0], np.float32), a), (None, b)])
    assert b.numpy()[0] == 2.0 and a.numpy()[0] != 1.0
    with pytest.raises(ValueError, match="No gradients provided"):
        opt.apply_gradients([(None, a)])


def test_slots_are_per_variable_and_updates_dont_alias():
    opt = beras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    a, b = beras.Variable(np.zeros(2, np.float32)), beras.Variable(np.zeros(2, np.float32))
    before = a.numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.apply_gradients([(np.ones(2, np.float32), a), (-np.ones(2, np.float32), b)])
    assert np.all(before == 0), "apply_gradients must not write into arrays handed out earlier"
    np.testing.assert_allclose(a.numpy(), [-0.1, -0.1])
    np.testing.assert_allclose(b.numpy(), [0.1, 0.1])
    assert set(opt.slots(a)) == {"momentum"} and opt.slots(a) is not opt.slots(b)


def test_tensor_gradients_from_the_tape():
    w = beras.Variable([[1.0, -2.0]])
    opt = beras.optimizers.get("sgd")
    with beras.GradientTape() as tape:
        loss = beras.reduce_sum(w * w)
    opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
    np.testing.assert_allclose(w.numpy(), [[0.98, -1.96]], rtol=1e-6)


def test_get():
    assert isinstance(beras.optimizers.get("adam"), beras.optimizers.Adam)
    assert isinstance(beras.optimizers.get("RMSprop"), beras.optimizers.RMSprop)
    assert isinstance(beras.optimizers.get(beras.optimizers.SGD), beras.optimizers.SGD)
    opt = beras.optimizers.SGD()
    assert beras.optimizers.get(opt) is opt
