"""Models against Keras: a twin MLP with copied weights gives the same logits, loss and gradients;
one epoch of SGD / Adam (shuffle=False) from the same weights gives the same weights and History;
evaluate/predict/summary agree; a functional model with two branches; bad inputs; the demo MLP."""
import io
import contextlib

import keras
import re

import numpy as np
import pytest
import tensorflow as tf

import beras
from beras import layers as L
from beras.datasets import load_digits
from beras.gradcheck import rel_error


@pytest.fixture(scope="module")
def digits():
    (x, y), (xt, yt) = load_digits()
    return x[:200], y[:200], xt[:100], yt[:100]


def twins(hidden=32, lib_seed=0):
    keras.utils.set_random_seed(lib_seed)
    k = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                          keras.layers.Dense(hidden, activation="relu"), keras.layers.Dense(10)])
    b = beras.Sequential([beras.Input((8, 8, 1)), L.Flatten(), L.Dense(hidden, activation="relu"), L.Dense(10)])
    b.set_weights(k.get_weights())
    return k, b


def test_twin_mlp_same_logits_loss_gradients(digits):
    x, y, _, _ = digits
    k, b = twins()
    # layer names carry process-global counters (dense_3 ...), so compare them without the counter
    def names(paths):
        return [[re.sub(r"_\d+$", "", part) for part in p.split("/")[-2:]] for p in paths]
    assert names(w.path for w in k.weights) == names(w.name for w in b.weights)
    k_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    b_loss = beras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        k_logits = k(x, training=True)
        kl = k_loss(y, k_logits)
    kg = tape.gradient(kl, k.trainable_weights)
    with beras.GradientTape() as tape:
        b_logits = b(x, training=True)
        bl = b_loss(y, b_logits)
    bg = tape.gradient(bl, b.trainable_weights)
    assert rel_error(b_logits, k_logits) < 1e-5
    assert float(bl) == pytest.approx(float(kl), rel=1e-5)
    assert len(bg) == len(kg) == 4
    for g_b, g_k in zip(bg, kg):
        assert rel_error(g_b, g_k) < 1e-5


@pytest.mark.parametrize("make_opt", [
    lambda lib: lib.optimizers.SGD(learning_rate=0.05, momentum=0.9),
    lambda lib: lib.optimizers.Adam(learning_rate=0.01),
], ids=["sgd-momentum", "adam"])
def test_one_epoch_matches_keras(digits, make_opt):
    x, y, xt, yt = digits
    k, b = twins()
    for lib, m in ((keras, k), (beras, b)):
        m.compile(optimizer=make_opt(lib), loss=lib.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    # 200 samples, batch 32: 6 full batches and a partial one of 8, in order
    hk = k.fit(x, y, epochs=1, batch_size=32, shuffle=False, validation_data=(xt, yt), verbose=0)
    hb = b.fit(x, y, epochs=1, batch_size=32, shuffle=False, validation_data=(xt, yt), verbose=0)
    for wk, wb in zip(k.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wb, wk, rtol=1e-5, atol=1e-5)
    assert list(hb.history) == list(hk.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    for key in hk.history:
        assert hb.history[key][0] == pytest.approx(hk.history[key][0], rel=1e-5, abs=1e-6), key
    assert hb.epoch == hk.epoch == [0]
    # evaluate and predict after training
    ek, eb = k.evaluate(xt, yt, verbose=0), b.evaluate(xt, yt, verbose=0)
    assert eb == pytest.approx(ek, rel=1e-5)
    assert rel_error(b.predict(xt, batch_size=16, verbose=0), k.predict(xt, batch_size=16, verbose=0)) < 1e-5


def test_evaluate_without_metrics_returns_loss_and_accuracy_resolution(digits):
    x, y, _, _ = digits
    k, b = twins()
    k.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    b.compile("sgd", beras.losses.SparseCategoricalCrossentropy(from_logits=True))
    lk, lb = k.evaluate(x, y, verbose=0), b.evaluate(x, y, verbose=0)
    assert isinstance(lb, float) and lb == pytest.approx(lk, rel=1e-5)
    # 'accuracy' with one-hot labels and a categorical loss -> categorical accuracy (Keras 3 resolves by shape)
    y1 = beras.utils.to_categorical(y, 10)
    np.testing.assert_array_equal(y1, keras.utils.to_categorical(y, 10))
    k.compile("sgd", keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    b.compile("sgd", beras.losses.CategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    assert b.evaluate(x, y1, verbose=0) == pytest.approx(k.evaluate(x, y1, verbose=0), rel=1e-5)


def test_progress_bar_and_history(digits, capsys):
    x, y, _, _ = digits
    _, b = twins()
    b.compile("adam", beras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    h = b.fit(x, y, epochs=2, batch_size=50, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "4/4 ━━━━━━━━━━━━━━━━━━━━" in out and "/step - accuracy: " in out and " - loss: " in out
    assert list(h.history) == ["accuracy", "loss"] and len(h.history["loss"]) == 2
    assert h.history["loss"][1] < h.history["loss"][0]


def test_summary_counts_match_keras():
    k, b = twins(hidden=64)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        b.summary()
    text = buf.getvalue()
    total = k.count_params()
    assert b.count_params() == total == 64 * 64 + 64 + 64 * 10 + 10
    assert f"Total params: {total:,}" in text and f"Trainable params: {total:,}" in text
    assert "Non-trainable params: 0" in text and "dense" in text and "(None, 64)" in text
    assert [type(layer).__name__ for layer in b.layers] == [type(layer).__name__ for layer in k.layers]
    assert b.get_layer(b.layers[1].name) is b.layers[1]
    with pytest.raises(ValueError, match="No such layer"):
        b.get_layer("nope")
    unbuilt = beras.Sequential([L.Dense(3)])
    with pytest.raises(ValueError, match="not yet been built"):
        unbuilt.summary()
    unbuilt(np.ones((2, 5), "float32"))  # builds on the first call
    assert unbuilt.count_params() == 18
    with_shape = beras.Sequential([L.Dense(3, input_shape=(4,)), L.Dense(2)])
    assert with_shape.built and with_shape.count_params() == 15 + 8


def _two_branch(lib):
    inp = lib.Input((8,))
    a = lib.layers.Dense(6, activation="relu")(inp)
    c = lib.layers.Dense(5, activation="tanh")(inp)
    merged = lib.layers.Concatenate()([a, c])
    out = lib.layers.Dense(3)(merged)
    return lib.Model(inp, out)


def test_functional_two_branches_matches_keras():
    keras.utils.set_random_seed(1)
    k, b = _two_branch(keras), _two_branch(beras)
    assert [tuple(w.shape) for w in k.weights] == [w.shape for w in b.weights]
    b.set_weights(k.get_weights())
    assert [type(layer).__name__ for layer in b.layers] == [type(layer).__name__ for layer in k.layers]
    x = np.random.default_rng(0).standard_normal((16, 8)).astype("float32")
    with tf.GradientTape() as tape:
        lk = tf.reduce_sum(k(x) ** 2)
    gk = tape.gradient(lk, k.trainable_weights)
    with beras.GradientTape() as tape:
        lb = beras.reduce_sum(b(x) ** 2)
    gb = tape.gradient(lb, b.trainable_weights)
    assert float(lb) == pytest.approx(float(lk), rel=1e-5)
    for g_b, g_k in zip(gb, gk):
        assert rel_error(g_b, g_k) < 1e-5
    assert k.count_params() == b.count_params()
    b.compile("adam", "mse")
    y = np.random.default_rng(1).standard_normal((16, 3)).astype("float32")
    h = b.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        b.summary()
    assert "Connected to" in buf.getvalue() and f"Total params: {b.count_params():,}" in buf.getvalue()


def test_functional_two_inputs_and_nesting():
    def build(lib):
        i1, i2 = lib.Input((4,)), lib.Input((4,))
        d = lib.layers.Dense(3)
        return lib.Model([i1, i2], lib.layers.Add()([d(i1), d(i2)]))  # a shared layer
    keras.utils.set_random_seed(2)
    k, b = build(keras), build(beras)
    b.set_weights(k.get_weights())
    x1, x2 = np.ones((2, 4), "float32"), np.arange(8, dtype="float32").reshape(2, 4)
    assert rel_error(b([x1, x2]), k([x1, x2])) < 1e-6
    assert rel_error(b.predict([x1, x2], verbose=0), k.predict([x1, x2], verbose=0)) < 1e-6
    outer = beras.Sequential([beras.Input((8,)), L.Dense(4), beras.Sequential([L.Dense(2)])])
    assert outer(np.ones((3, 8), "float32")).shape == (3, 2) and len(outer.trainable_weights) == 4


def test_subclassed_model_trains():
    class TwoLayer(beras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = L.Dense(8, activation="relu")
            self.out = L.Dense(1)

        def call(self, inputs, training=None):
            return self.out(self.hidden(inputs))

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], "float32"))
    model = TwoLayer()
    model.compile(beras.optimizers.Adam(0.05), "mse")
    h = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert h.history["loss"][-1] < 0.2 * h.history["loss"][0]
    assert len(model.trainable_weights) == 4 and model.count_params() == 3 * 8 + 8 + 8 + 1


def test_bad_inputs_list_valid_options(digits):
    x, y, _, _ = digits
    _, b = twins()
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        b.compile("adam", loss="sparse_categorical_crossentropyy")
    with pytest.raises(ValueError, match="adam") as err:
        b.compile("adamm", loss="mse")
    assert "sgd" in str(err.value)
    with pytest.raises(ValueError, match="accuracy"):
        b.compile("adam", loss="mse", metrics=["acuracy"])
    with pytest.raises(ValueError, match="relu"):
        beras.Sequential([L.Dense(3, activation="reluu")])
    with pytest.raises(RuntimeError, match="compile"):
        beras.Sequential([beras.Input((2,)), L.Dense(1)]).fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0)
    b.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="200 and 199"):
        b.fit(x, y[:-1], verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        b.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(TypeError, match="Only beras layers"):
        beras.Sequential([keras.layers.Dense(3)])


def test_demo_mlps_reach_95_percent(capsys):
    from beras.examples.mlp import side_by_side
    results = side_by_side(epochs=10, verbose=0)
    out = capsys.readouterr().out
    assert "test accuracy" in out and "s/epoch" in out
    for framework in ("beras", "keras"):
        assert results[framework]["test_accuracy"] >= 0.95, results
        assert results[framework]["seconds_per_epoch"] > 0


def test_validation_split_callbacks_and_train_step():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 4)).astype("float32")
    y = rng.integers(0, 3, 50)
    model = beras.Sequential([beras.Input((4,)), L.Dense(3)])
    model.compile("sgd", beras.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    seen = []

    class Recorder:
        def on_epoch_end(self, epoch, logs):
            seen.append((epoch, sorted(logs)))
            if epoch == 1:
                model.stop_training = True

    h = model.fit(x, y, epochs=5, validation_split=0.2, callbacks=[Recorder()], verbose=0)
    assert h.epoch == [0, 1] and [e for e, _ in seen] == [0, 1]  # stopped early by the callback
    assert seen[0][1] == ["accuracy", "loss", "val_accuracy", "val_loss"]
    # the validation samples are the last 20%, as in Keras
    assert h.history["val_loss"][-1] == pytest.approx(model.evaluate(x[40:], y[40:], verbose=0)[0], rel=1e-6)
    model.reset_metrics()
    before = model.get_weights()[0].copy()
    logs = model.train_step((x[:8], y[:8]))
    assert sorted(logs) == ["accuracy", "loss"] and not np.array_equal(before, model.get_weights()[0])


def test_first_step_of_an_unbuilt_model_updates_its_weights():
    model = beras.Sequential([L.Dense(1, kernel_initializer="ones")])  # built by the first batch
    model.compile(beras.optimizers.SGD(0.1), "mse")
    model.fit(np.ones((4, 2), "float32"), np.zeros((4, 1), "float32"), batch_size=4, verbose=0)
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel, 1 - 0.1 * 2 * 2, rtol=1e-6)  # d/dk mean((2k + b)^2) = 2 * 2 * 2 at k=1
    np.testing.assert_allclose(bias, -0.1 * 2 * 2, rtol=1e-6)
