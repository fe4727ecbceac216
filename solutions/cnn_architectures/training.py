"""The training recipe of the cnn_architectures assignment, and its two profiles.

The notebook and the grader's training check use the same recipe (the grader imports its own,
trusted copy of this file):

    profile = select_profile("auto")          # full on a GPU with CIFAR-10 present, else smoke
    data = load_data(profile)                 # Data(x_train, y_train, x_test, y_test, ...)
    model, history = fit(build_resnet, profile, data)   # history: Keras's History.history dict

Profiles
- ``smoke`` (CPU, offline, a few seconds per model): scikit-learn's 8x8 digits (bundled with
  scikit-learn, see :func:`load_digits`), used at their native 8x8x1 size (ResNet's three stages then
  see 8x8, 4x4 and 2x2 maps); augmentation = random crop with 1-pixel padding, no flip (a
  mirrored digit is another symbol); a few epochs of SGD with a cosine schedule.
- ``full`` (GPU): CIFAR-10 from a local tensorflow-datasets ``data_dir`` (nothing is downloaded,
  see :func:`load_cifar10`),
  the ResNet paper's recipe (He et al. 2016, section 4.2): SGD with momentum 0.9, learning rate
  0.1 for batch 128, the paper's weight decay 1e-4 (see below), random crop with 4-pixel padding and horizontal flip, here
  with a cosine schedule over 100 epochs (the paper's step schedule, 164 epochs, gives ResNet-20
  91.25 % test accuracy; ``schedule="step"`` is available); mixed precision
  (``mixed_float16``), XLA (``jit_compile=True``), and ``tf.distribute.MirroredStrategy`` when
  several GPUs are visible.

Weight decay: Keras's ``SGD(weight_decay=wd)`` is *decoupled* (every step w <- w - lr * wd * w).
The paper's weight decay is a classic L2 penalty lambda * |w|^2 / 2 with lambda = 1e-4 (``PAPER_L2``),
whose gradient goes through the momentum. With momentum 0.9 it acts like wd ~= lambda / (1 - 0.9) =
10 * lambda, so the full profile passes wd = 10 * PAPER_L2 = 1e-3. (5e-4, often quoted for CIFAR, is
the Wide-ResNet paper's value, not the ResNet paper's.) The smoke profile's 5e-4 (decoupled, on the
digits) is a course choice, not the paper's.
"""
from __future__ import annotations

import contextlib
import dataclasses
import glob
import math
import os
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

PROFILES = ("auto", "smoke", "full")

# Per-channel statistics of the CIFAR-10 training images (on the 0..1 scale).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


@dataclasses.dataclass(frozen=True)
class Profile:
    """A training profile: which data, and the recipe (all hyper-parameters in one place)."""
    name: str                      # "smoke" or "full"
    reason: str                    # why this profile was picked (printed by the notebook)
    dataset: str                   # "digits" or "cifar10"
    depth: int                     # the ResNet the training check trains (6n+2)
    epochs: int
    batch_size: int
    learning_rate: float           # peak learning rate (for the whole global batch)
    momentum: float
    weight_decay: float            # decoupled, see the module docstring
    schedule: str                  # "cosine" or "step"
    crop_padding: int              # random crop after zero-padding by this many pixels (0 = off)
    flip: bool                     # random horizontal flip
    mixed_precision: bool          # keras.mixed_precision "mixed_float16"
    jit_compile: bool              # XLA
    time_budget: float             # seconds of training before the run stops early
    target_accuracy: float         # the test accuracy the recipe reaches with a correct ResNet
    data_dir: str | None = None

    def describe(self):
        return (f"profile '{self.name}' ({self.reason}): {self.dataset}, ResNet-{self.depth}, "
                f"{self.epochs} epochs x batch {self.batch_size}, SGD lr {self.learning_rate} "
                f"momentum {self.momentum} weight decay {self.weight_decay} ({self.schedule}), "
                f"crop pad {self.crop_padding}, flip {self.flip}, mixed precision {self.mixed_precision}, "
                f"XLA {self.jit_compile}")


PAPER_L2 = 1e-4   # He et al. 2016, section 4.2: "a weight decay of 0.0001 and momentum of 0.9"

SMOKE = dict(dataset="digits", depth=20, epochs=6, batch_size=32, learning_rate=0.05, momentum=0.9,
             weight_decay=5e-4, schedule="cosine", crop_padding=1, flip=False, mixed_precision=False,
             jit_compile=False, time_budget=150.0, target_accuracy=0.95)
FULL = dict(dataset="cifar10", depth=20, epochs=100, batch_size=128, learning_rate=0.1, momentum=0.9,
            weight_decay=10 * PAPER_L2, schedule="cosine", crop_padding=4, flip=True, mixed_precision=True,
            jit_compile=True, time_budget=3600.0, target_accuracy=0.91)


# ---------------------------------------------------------------------------------------------
# Choosing the profile
# ---------------------------------------------------------------------------------------------
def visible_gpus():
    """The GPUs TensorFlow can see (a function, so tests can pretend there are some)."""
    return tf.config.list_physical_devices("GPU")


def resolve_data_dir(data_dir=None):
    """The TFDS data_dir: the argument, $BERAS_DATA_DIR, $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
    return (data_dir or os.environ.get("BERAS_DATA_DIR") or os.environ.get("TFDS_DATA_DIR")
            or os.path.join(os.path.expanduser("~"), "tensorflow_datasets"))


def cifar10_available(data_dir=None):
    """True when a prepared tensorflow-datasets CIFAR-10 is in ``data_dir`` (no download, no TFDS import)."""
    return bool(glob.glob(os.path.join(resolve_data_dir(data_dir), "cifar10", "*", "dataset_info.json")))


def select_profile(requested="auto", data_dir=None):
    """The :class:`Profile` to use: ``smoke``, ``full``, or ``auto`` (= full when a GPU is visible
    and CIFAR-10 is prepared in the data_dir, smoke otherwise). The reason is in ``profile.reason``."""
    if requested not in PROFILES:
        raise ValueError(f"unknown profile {requested!r}; valid profiles: {', '.join(PROFILES)}")
    where = resolve_data_dir(data_dir)
    gpus = visible_gpus()
    has_data = cifar10_available(data_dir)
    if requested == "smoke":
        return Profile(name="smoke", reason="requested", **SMOKE)
    if requested == "full":
        note = "" if gpus else "; no GPU is visible, so this will be very slow"
        return Profile(name="full", reason=f"requested{note}", data_dir=where, **FULL)
    if gpus and has_data:
        return Profile(name="full", reason=f"{len(gpus)} GPU(s) visible and CIFAR-10 found in {where}",
                       data_dir=where, **FULL)
    why = []
    if not gpus:
        why.append("no GPU is visible")
    if not has_data:
        why.append(f"CIFAR-10 is not prepared in {where}")
    return Profile(name="smoke", reason=" and ".join(why), **SMOKE)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Data:
    """Images (NHWC; uint8 for CIFAR-10, float32 in [0, 1] for the digits) and int64 labels."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int = 10

    @property
    def input_shape(self):
        return tuple(self.x_train.shape[1:])


class DatasetNotAvailableError(RuntimeError):
    """The dataset is not prepared locally (nothing is downloaded at run time)."""


DIGITS_TEST_SIZE = 360
DIGITS_SEED = 0


def load_digits(test_size=DIGITS_TEST_SIZE, seed=DIGITS_SEED):
    """scikit-learn's 1797 real 8x8 digits (always offline): float32 NHWC images in [0, 1] and int64
    labels, in a fixed, seeded, stratified split: ((1437, 8, 8, 1), (1437,)), ((360, 8, 8, 1), (360,))."""
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split
    digits = sk_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]   # pixel values are 0..16
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_size, random_state=seed, stratify=labels)
    return (x_train, y_train), (x_test, y_test)


CANVAS_SIZE = 32      # load_digits_on_canvas: the canvas side (CIFAR-10's)
CANVAS_SCALE = 2      # each 8x8 digit upscaled to 16x16
CANVAS_NOISE = 0.1    # the standard deviation of the Gaussian pixel noise


def load_digits_on_canvas(size=CANVAS_SIZE, scale=CANVAS_SCALE, noise=CANVAS_NOISE, seed=DIGITS_SEED):
    """The digits of :func:`load_digits` (the same split) on ``size`` x ``size`` canvases, offline and seeded: each
    8x8 digit upscaled ``scale`` times (nearest neighbour), pasted at a random position of a black canvas (a random
    shift), plus Gaussian noise of standard deviation ``noise`` on every pixel, clipped to [0, 1]. Returns a
    :class:`Data` of float32 (N, size, size, 1) images.

    Why: at 32x32 the CIFAR ResNet's three stages see 32x32, 16x16 and 8x8 maps, as on CIFAR-10; on the native
    8x8 digits they see 8x8, 4x4 and 2x2 maps, where the zero padding is a large part of every 3x3 window (on a
    2x2 map, 5 of its 9 taps), so depth effects measured there are mostly padding effects."""
    (x_train, y_train), (x_test, y_test) = load_digits(seed=seed)
    rng = np.random.default_rng(seed)

    def place(images):
        big = np.repeat(np.repeat(images, scale, axis=1), scale, axis=2)
        n, h, w = big.shape[:3]
        out = np.zeros((n, size, size, images.shape[-1]), np.float32)
        tops, lefts = rng.integers(0, size - h + 1, n), rng.integers(0, size - w + 1, n)
        for i, (top, left) in enumerate(zip(tops, lefts)):
            out[i, top:top + h, left:left + w] = big[i]
        return np.clip(out + rng.normal(0.0, noise, out.shape).astype(np.float32), 0.0, 1.0)

    return Data(place(x_train), y_train, place(x_test), y_test)


def load_cifar10(data_dir=None):
    """CIFAR-10 from a prepared tensorflow-datasets ``data_dir`` (see :func:`resolve_data_dir`), as
    uint8 NHWC images and int64 labels: ((50000, 32, 32, 3), (50000,)), ((10000, 32, 32, 3), (10000,)).
    Nothing is downloaded: without the prepared data it raises :class:`DatasetNotAvailableError`
    saying how to provide it."""
    import tensorflow_datasets as tfds
    where = resolve_data_dir(data_dir)
    try:
        splits = tfds.load("cifar10", split=["train", "test"], data_dir=where, as_supervised=True,
                           download=False, try_gcs=False)
    except (AssertionError, FileNotFoundError, tfds.core.registered.DatasetNotFoundError) as err:
        raise DatasetNotAvailableError(
            f"CIFAR-10 is not prepared in {where}, and nothing is downloaded at run time. On a machine "
            f"with internet access run\n    tfds build cifar10 --data_dir /some/dir\n"
            f"copy /some/dir here, and pass data_dir='/some/dir' or set BERAS_DATA_DIR=/some/dir "
            f"(or TFDS_DATA_DIR). ({type(err).__name__}: {err})") from None
    out = []
    for ds in splits:
        xs, ys = [], []
        for x, y in tfds.as_numpy(ds.batch(10_000)):
            xs.append(np.asarray(x, dtype=np.uint8))
            ys.append(np.asarray(y, dtype=np.int64))
        out.append((np.concatenate(xs), np.concatenate(ys)) if xs else
                   (np.zeros((0, 32, 32, 3), np.uint8), np.zeros((0,), np.int64)))
    return tuple(out)


def load_data(profile, data_dir=None):
    """The profile's data set: digits (smoke) or CIFAR-10 from a local TFDS data_dir (full)."""
    if profile.dataset == "digits":
        (x_train, y_train), (x_test, y_test) = load_digits()
    elif profile.dataset == "cifar10":
        (x_train, y_train), (x_test, y_test) = load_cifar10(data_dir or profile.data_dir)
    else:
        raise ValueError(f"unknown dataset {profile.dataset!r}; valid datasets: digits, cifar10")
    return Data(x_train, y_train, x_test, y_test)


def normalize(images, dataset):
    """uint8 or [0, 1] images -> float32 network inputs (CIFAR-10: per-channel standardized)."""
    images = tf.cast(images, tf.float32)
    if dataset == "cifar10":
        images = (images / 255.0 - CIFAR10_MEAN) / CIFAR10_STD
    return images


def make_dataset(x, y, profile, training, seed=0, batch_size=None):
    """A tf.data pipeline of (images, labels) batches: normalize, (training:) shuffle + augment,
    batch, prefetch. Shuffle and augmentation change every epoch and are seeded. Augmentation: a random
    crop of each image zero-padded by ``profile.crop_padding`` pixels, then (``profile.flip``) a random
    horizontal flip, by TF's stateless ops on a per-image seed pair (so every run sees the same crops)."""
    batch_size = batch_size or profile.batch_size
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if training:
        pad = profile.crop_padding

        def augment(image, label, seed):
            image = normalize(image, profile.dataset)
            if pad:
                padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
                image = tf.image.stateless_random_crop(padded, tf.shape(image), seed=seed)
            if profile.flip:
                image = tf.image.stateless_random_flip_left_right(image, seed=seed[::-1])
            return image, label
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(lambda xy, s: augment(xy[0], xy[1], s),
                                                  num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda a, b: (normalize(a, profile.dataset), b), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------------------------------------
# The recipe
# ---------------------------------------------------------------------------------------------
def choose_strategy(gpus=None):
    """MirroredStrategy (data parallel, one replica per GPU) when several GPUs are visible,
    else the default (single-device) strategy."""
    gpus = visible_gpus() if gpus is None else gpus
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


@contextlib.contextmanager
def session(profile, strategy=None):
    """Build and train inside this: sets the dtype policy (mixed_float16 for ``full``), enters the
    distribution strategy's scope, and restores the previous global policy afterwards."""
    previous = keras.mixed_precision.dtype_policy()
    strategy = strategy or choose_strategy()
    keras.mixed_precision.set_global_policy("mixed_float16" if profile.mixed_precision else "float32")
    try:
        with strategy.scope():
            yield strategy
    finally:
        keras.mixed_precision.set_global_policy(previous)


def learning_rate_schedule(profile, steps_per_epoch, epochs=None):
    """Cosine decay from ``learning_rate`` to 0, or the paper's steps (/10 at 50 % and 75 %)."""
    total = max(1, steps_per_epoch * (epochs or profile.epochs))
    if profile.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(profile.learning_rate, decay_steps=total)
    if profile.schedule == "step":
        lr = profile.learning_rate
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            [int(total * 0.5), int(total * 0.75)], [lr, lr / 10, lr / 100])
    raise ValueError(f"unknown schedule {profile.schedule!r}; valid schedules: cosine, step")


def compile_model(model, profile, steps_per_epoch, epochs=None):
    """Compile ``model`` (softmax outputs, integer labels) with the profile's optimizer and XLA flag."""
    optimizer = keras.optimizers.SGD(learning_rate_schedule(profile, steps_per_epoch, epochs),
                                      momentum=profile.momentum, weight_decay=profile.weight_decay)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=profile.jit_compile)
    return model


class TimeBudget(keras.callbacks.Callback):
    """Stops training (after the current batch) once ``seconds`` have passed."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds, self.start, self.exceeded = seconds, None, False

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = self.exceeded = True


def train(model, profile, data, epochs=None, time_budget=None, validation=True, verbose=0, seed=0):
    """Compile ``model`` with the recipe and fit it on ``data``; returns the History dict
    (loss, accuracy, and val_loss, val_accuracy on the test split when ``validation``)."""
    epochs = epochs or profile.epochs
    strategy = tf.distribute.get_strategy()
    global_batch = profile.batch_size * strategy.num_replicas_in_sync
    steps = math.ceil(len(data.x_train) / global_batch)
    compile_model(model, profile, steps, epochs)
    train_ds = make_dataset(data.x_train, data.y_train, profile, training=True, seed=seed,
                            batch_size=global_batch)
    test_ds = make_dataset(data.x_test, data.y_test, profile, training=False, batch_size=global_batch)
    budget = TimeBudget(profile.time_budget if time_budget is None else time_budget)
    history = model.fit(train_ds, epochs=epochs, validation_data=test_ds if validation else None,
                        callbacks=[budget], verbose=verbose, shuffle=False)
    out = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    out["stopped_by_time_budget"] = budget.exceeded
    return out


def predict_classes(model, profile, x, batch_size=None):
    """Predicted class indices (int64, shape (n,)) for the images ``x``."""
    ds = tf.data.Dataset.from_tensor_slices(x).map(lambda a: normalize(a, profile.dataset))
    probs = model.predict(ds.batch(batch_size or 2 * profile.batch_size), verbose=0)
    return np.argmax(np.asarray(probs, np.float32), axis=-1).astype(np.int64)


def fit(build_resnet, profile, data, depth=None, epochs=None, time_budget=None, validation=True, seed=0,
        verbose=0):
    """Seed, build ``build_resnet(depth, num_classes, input_shape)`` inside the profile's session,
    train it with the recipe. Returns ``(model, history)``."""
    keras.utils.set_random_seed(seed)
    with session(profile):
        model = build_resnet(depth or profile.depth, data.num_classes, data.input_shape)
        history = train(model, profile, data, epochs=epochs, time_budget=time_budget, validation=validation,
                        seed=seed, verbose=verbose)
    return model, history
