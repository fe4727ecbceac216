"""The cnn_architectures training profile on a GPU: ResNet-20 on CIFAR-10 with the assignment's recipe.

    python -m benchmarks gpu

Where TensorFlow sees no GPU it prints one line saying so and exits 0. Where it sees one (or more:
MirroredStrategy, global batch = batch x replicas, as training.py does), it trains ResNet-20 with the
``full`` profile's recipe (solutions/cnn_architectures/training.py) and prints, for float32 and
mixed_float16 each with and without XLA: images/s, the median step time and the peak GPU memory;
then, when CIFAR-10 is prepared in the TFDS data_dir (``BERAS_DATA_DIR`` / ``TFDS_DATA_DIR`` /
~/tensorflow_datasets, nothing is downloaded), the time to the profile's target test accuracy within a
time budget. Without the real data the throughput runs on synthetic CIFAR-shaped images (uint8
32x32x3, 10 classes) and no accuracy is reported. About 4-5 minutes on one GPU.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = pathlib.Path(__file__).resolve().parents[1]
TRAINING = ROOT / "solutions" / "cnn_architectures" / "training.py"
WARMUP_STEPS = 20               # untimed steps per configuration (graph tracing, XLA compilation)
THROUGHPUT_STEPS = 150          # timed steps per configuration
TIME_TO_TARGET_BUDGET = 150.0   # seconds for the time-to-accuracy run (real data only)


def _training():
    spec = importlib.util.spec_from_file_location("cnn_architectures_training", TRAINING)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def resnet(depth, num_classes, input_shape):
    """He et al.'s CIFAR ResNet (6n+2 layers; 16/32/64 filters; identity shortcuts, 1x1 projections on
    downsampling), softmax output kept in float32 for mixed precision."""
    import keras
    L = keras.layers
    n = (depth - 2) // 6

    def conv_bn(x, filters, kernel=3, strides=1):
        x = L.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                     kernel_initializer="he_normal")(x)
        return L.BatchNormalization()(x)

    x = inputs = keras.Input(input_shape)
    x = L.ReLU()(conv_bn(x, 16))
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(n):
            strides = 2 if stage > 0 and block == 0 else 1
            y = conv_bn(L.ReLU()(conv_bn(x, filters, strides=strides)), filters)
            shortcut = conv_bn(x, filters, 1, strides) if strides != 1 else x
            x = L.ReLU()(L.Add()([y, shortcut]))
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, L.Dense(num_classes, activation="softmax", dtype="float32")(x))


def synthetic_cifar10(training, n_train=12_800, n_test=2_560):
    import numpy as np
    rng = np.random.default_rng(0)
    return training.Data(rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8),
                         rng.integers(0, 10, n_train).astype(np.int64),
                         rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8),
                         rng.integers(0, 10, n_test).astype(np.int64))


class StepTimer:
    """Keras callback: wall time of each training batch (the first ``skip`` batches are warm-up)."""

    def __init__(self, skip):
        import keras

        class _Timer(keras.callbacks.Callback):
            def __init__(inner):
                super().__init__()
                inner.times, inner.t0 = [], None

            def on_train_batch_begin(inner, batch, logs=None):
                inner.t0 = time.perf_counter()

            def on_train_batch_end(inner, batch, logs=None):
                inner.times.append(time.perf_counter() - inner.t0)

        self.callback, self.skip = _Timer(), skip

    @property
    def times(self):
        return self.callback.times[self.skip:]


def throughput(training, profile, data, mixed, xla, strategy):
    import keras
    import numpy as np
    import tensorflow as tf
    prof = dataclasses.replace(profile, mixed_precision=mixed, jit_compile=xla)
    global_batch = prof.batch_size * strategy.num_replicas_in_sync
    warmup = WARMUP_STEPS
    steps = warmup + THROUGHPUT_STEPS
    keras.utils.set_random_seed(0)
    tf.config.experimental.reset_memory_stats("GPU:0")
    with training.session(prof, strategy=strategy):
        model = resnet(prof.depth, data.num_classes, data.input_shape)
        training.compile_model(model, prof, steps_per_epoch=steps, epochs=1)
        ds = training.make_dataset(data.x_train, data.y_train, prof, training=True, batch_size=global_batch)
        timer = StepTimer(skip=warmup)
        model.fit(ds.repeat(), steps_per_epoch=steps, epochs=1, callbacks=[timer.callback], verbose=0)
    step = float(np.median(timer.times))
    peak = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    return global_batch / step, step, peak


def time_to_target(training, profile, data, strategy):
    """Train with the full recipe until the test accuracy reaches the profile's target, or the budget ends."""
    import keras
    reached = {}
    start = time.perf_counter()

    class Target(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs and logs.get("val_accuracy", 0.0) >= profile.target_accuracy and "epoch" not in reached:
                reached.update(epoch=epoch + 1, seconds=time.perf_counter() - start)
                self.model.stop_training = True

    keras.utils.set_random_seed(0)
    with training.session(profile, strategy=strategy):
        model = resnet(profile.depth, data.num_classes, data.input_shape)
        global_batch = profile.batch_size * strategy.num_replicas_in_sync
        training.compile_model(model, profile, math.ceil(len(data.x_train) / global_batch))
        train_ds = training.make_dataset(data.x_train, data.y_train, profile, training=True, batch_size=global_batch)
        test_ds = training.make_dataset(data.x_test, data.y_test, profile, training=False, batch_size=global_batch)
        budget = training.TimeBudget(TIME_TO_TARGET_BUDGET)
        history = model.fit(train_ds, epochs=profile.epochs, validation_data=test_ds, callbacks=[Target(), budget],
                            verbose=0)
    best = max(history.history.get("val_accuracy", [0.0]))
    return reached, best, len(history.history.get("loss", [])), time.perf_counter() - start


def main():
    import tensorflow as tf
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        print("gpu: no GPU is visible to TensorFlow (tf.config.list_physical_devices('GPU') is empty): "
              "nothing to measure here; run `python -m benchmarks gpu` on a GPU machine", flush=True)
        return
    training = _training()
    profile = training.select_profile("full")
    strategy = training.choose_strategy()
    real = training.cifar10_available()
    data = training.load_data(profile) if real else synthetic_cifar10(training)
    print(f"ResNet-{profile.depth}, batch {profile.batch_size} x {strategy.num_replicas_in_sync} replica(s) on "
          f"{len(gpus)} GPU(s) ({tf.config.experimental.get_device_details(gpus[0]).get('device_name', '?')}); "
          f"data: {'CIFAR-10 from ' + profile.data_dir if real else 'synthetic CIFAR-shaped (no CIFAR-10 prepared)'}",
          flush=True)
    for mixed in (False, True):
        for xla in (False, True):
            images, step, peak = throughput(training, profile, data, mixed, xla, strategy)
            print(f"  {'mixed_float16' if mixed else 'float32':<13} XLA {'on ' if xla else 'off'}: "
                  f"{images:8.0f} images/s, step {step * 1e3:6.1f} ms, peak GPU memory {peak:7.0f} MiB", flush=True)
    if real:
        reached, best, epochs, seconds = time_to_target(training, profile, data, strategy)
        if reached:
            print(f"  time to {profile.target_accuracy:.0%} test accuracy: {reached['seconds']:.0f} s "
                  f"({reached['epoch']} epochs)", flush=True)
        else:
            print(f"  target {profile.target_accuracy:.0%} not reached within {TIME_TO_TARGET_BUDGET:.0f} s: best test "
                  f"accuracy {best:.2%} after {epochs} epochs ({seconds:.0f} s); the full recipe runs "
                  f"{profile.epochs} epochs", flush=True)
    else:
        print("  time to target accuracy: needs CIFAR-10 in the TFDS data_dir (BERAS_DATA_DIR)", flush=True)


if __name__ == "__main__":
    main()
