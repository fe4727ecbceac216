"""The cnn_architectures training path (solutions/cnn_architectures/training.py) under a real two-replica
tf.distribute.MirroredStrategy, on two logical CPU devices.

On a multi-GPU machine ``choose_strategy`` picks MirroredStrategy and ``train`` uses the global batch
``profile.batch_size * num_replicas_in_sync``. Here the CPU is split into two logical devices (which
must happen before TF initializes its devices, so the checks run in a fresh process):
- two replicas on a global batch give the same weights after three epochs (momentum, weight decay and
  the cosine schedule included) as one device on that batch: the global-batch loss scaling is right.
  Each epoch is one global batch, because the shuffled order of a multi-batch epoch differs between
  the distributed and the plain dataset iterator even with the same seeds (found here: the first step
  agrees to 1e-8, later ones see other batches), and within a batch the order does not matter. The
  model has no batch norm: Keras's BatchNormalization normalizes each replica's half batch with its
  own statistics unless ``synchronized=True``, so a BN model legitimately differs;
- a small ResNet (conv, batch norm, residual adds, global pooling) trains through ``session`` +
  ``train`` with the smoke recipe: the step count is that of the global batch, the losses are finite,
  and the moving statistics of batch norm are updated (mirrored variables stay in sync).
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from tests import ROOT
import pytest

pytestmark = pytest.mark.slow   # end to end (see tests/__init__.py): left out of `make check`

TRAINING = ROOT / "solutions" / "cnn_architectures" / "training.py"

SCRIPT = textwrap.dedent("""
    import dataclasses, importlib.util, math, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras

    spec = importlib.util.spec_from_file_location("training", sys.argv[1])
    training = sys.modules["training"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(training)

    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    assert len(devices) == 2, devices
    mirrored = tf.distribute.MirroredStrategy(devices)
    assert mirrored.num_replicas_in_sync == 2

    # 1. Two replicas on a global batch == one device on that batch (no batch norm, no augmentation).
    smoke = dataclasses.replace(training.select_profile("smoke"), crop_padding=0, flip=False, batch_size=8)
    rng = np.random.default_rng(0)
    data = training.Data(rng.random((16, 8, 8, 1), np.float32), rng.integers(0, 10, 16).astype(np.int64),
                         rng.random((16, 8, 8, 1), np.float32), rng.integers(0, 10, 16).astype(np.int64))

    def plain_model():
        x = keras.Input((8, 8, 1))
        y = keras.layers.Conv2D(6, 3, padding="same", activation="relu")(x)
        y = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(y)
        y = keras.layers.GlobalAveragePooling2D()(y)
        return keras.Model(x, keras.layers.Dense(10, activation="softmax")(y))

    keras.utils.set_random_seed(0)
    initial = plain_model().get_weights()
    results = {}
    for name, strategy, profile in [("mirrored", mirrored, smoke),
                                    ("single", tf.distribute.get_strategy(),
                                     dataclasses.replace(smoke, batch_size=16))]:
        keras.utils.set_random_seed(0)
        with training.session(profile, strategy=strategy):
            model = plain_model()
            model.set_weights(initial)
            history = training.train(model, profile, data, epochs=3, validation=False)
        results[name] = (model.get_weights(), int(model.optimizer.iterations.numpy()), history["loss"])
    (w2, steps2, loss2), (w1, steps1, loss1) = results["mirrored"], results["single"]
    assert steps2 == steps1 == 3, (steps2, steps1)        # 16 images: one global batch (2 x 8) per epoch
    for a, b in zip(w2, w1):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(loss2, loss1, rtol=2e-5)
    assert any(not np.allclose(a, b) for a, b in zip(w1, initial))       # training did move the weights

    # 2. A small ResNet with batch norm through the smoke recipe, on the digits, two replicas.
    def resnet(depth, num_classes, input_shape):
        x = keras.Input(input_shape)
        y = keras.layers.ReLU()(keras.layers.BatchNormalization()(
            keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(x)))
        for filters, stride in [(8, 1), (16, 2)]:
            shortcut = y
            z = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(y)
            z = keras.layers.ReLU()(keras.layers.BatchNormalization()(z))
            z = keras.layers.BatchNormalization()(keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(z))
            if stride != 1:
                shortcut = keras.layers.BatchNormalization()(
                    keras.layers.Conv2D(filters, 1, strides=stride, use_bias=False)(shortcut))
            y = keras.layers.ReLU()(keras.layers.Add()([z, shortcut]))
        y = keras.layers.GlobalAveragePooling2D()(y)
        return keras.Model(x, keras.layers.Dense(num_classes, activation="softmax", dtype="float32")(y))

    profile = training.select_profile("smoke")
    digits = training.load_data(profile)
    keras.utils.set_random_seed(0)
    with training.session(profile, strategy=mirrored) as active:
        assert tf.distribute.get_strategy() is active is mirrored
        model = resnet(8, digits.num_classes, digits.input_shape)
        bn = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)][0]
        history = training.train(model, profile, digits, epochs=1, time_budget=600)
    steps = math.ceil(len(digits.x_train) / (profile.batch_size * 2))
    assert int(model.optimizer.iterations.numpy()) == steps, (int(model.optimizer.iterations.numpy()), steps)
    assert np.isfinite(history["loss"]).all() and np.isfinite(history["val_loss"]).all(), history
    assert not np.allclose(bn.moving_mean.numpy(), 0.0)
    pred = training.predict_classes(model, profile, digits.x_test[:10])
    assert pred.shape == (10,)
    print("OK", steps, history["loss"][0])
""")


def test_mirrored_strategy_with_two_logical_cpu_devices():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0", CUDA_VISIBLE_DEVICES="")
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(TRAINING)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    assert "OK" in run.stdout
