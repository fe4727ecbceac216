"""Datasets like ``keras.datasets``: each loader returns ``(x_train, y_train), (x_test, y_test)``.

- :func:`load_digits`: scikit-learn's real 8x8 handwritten digits (bundled with scikit-learn,
  so always offline): float32 NHWC images in [0, 1] of shape (n, 8, 8, 1), int64 labels, and a
  fixed, seeded, stratified split of 1437 training and 360 test images.
- :func:`load_mnist`, :func:`load_fashion_mnist`, :func:`load_cifar10`: through
  tensorflow-datasets, as uint8 NHWC images and int64 labels like ``keras.datasets``. Nothing is
  downloaded: the data must already be prepared in ``data_dir`` (argument, else the environment
  variable ``BERAS_DATA_DIR``, else ``TFDS_DATA_DIR``, else TFDS's default ``~/tensorflow_datasets``).
  Without it they raise :class:`DatasetNotAvailableError` saying how to provide it.
"""
from __future__ import annotations

import os

import numpy as np

DIGITS_TEST_SIZE = 360
DIGITS_SEED = 0


class DatasetNotAvailableError(RuntimeError):
    """The dataset is not prepared locally (and beras never downloads at run time)."""


def load_digits(test_size=DIGITS_TEST_SIZE, seed=DIGITS_SEED):
    """The 1797 8x8 digits of scikit-learn: ((1437, 8, 8, 1), (1437,)), ((360, 8, 8, 1), (360,))."""
    # deferred, like tensorflow_datasets below: heavy (SciPy), and only this loader needs it
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split
    digits = sk_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]  # pixel values are 0..16
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_size, random_state=seed, stratify=labels)
    return (x_train, y_train), (x_test, y_test)


def data_dir(data_dir=None):
    """Where TFDS data is looked for: the argument, $BERAS_DATA_DIR, $TFDS_DATA_DIR, or None (TFDS's default)."""
    return data_dir or os.environ.get("BERAS_DATA_DIR") or os.environ.get("TFDS_DATA_DIR") or None


def _load_tfds(name, data_dir_arg):
    import tensorflow_datasets as tfds  # deferred: heavy (it loads TensorFlow), and only the TFDS loaders need it
    where = data_dir(data_dir_arg)
    try:
        splits = tfds.load(name, split=["train", "test"], data_dir=where, as_supervised=True,
                           download=False, try_gcs=False)
    except (AssertionError, FileNotFoundError, tfds.core.registered.DatasetNotFoundError) as err:
        shown = where or "~/tensorflow_datasets (TFDS's default)"
        raise DatasetNotAvailableError(
            f"The TFDS dataset '{name}' is not prepared in {shown}, and beras does not download data "
            f"at run time. On a machine with internet access run\n"
            f"    tfds build {name} --data_dir /some/dir\n"
            f"(or python -c \"import tensorflow_datasets as tfds; tfds.load('{name}', data_dir='/some/dir')\"),\n"
            f"copy /some/dir here, and pass data_dir='/some/dir' or set BERAS_DATA_DIR=/some/dir. "
            f"({type(err).__name__}: {err})") from None
    return tuple(_to_numpy(ds) for ds in splits)


def _to_numpy(ds):
    """Iterate a supervised tf.data split in large batches into (images uint8 NHWC, labels int64)."""
    import tensorflow_datasets as tfds  # deferred, as in _load_tfds
    xs, ys = [], []
    for x, y in tfds.as_numpy(ds.batch(10_000)):
        xs.append(np.asarray(x, dtype=np.uint8))
        ys.append(np.asarray(y, dtype=np.int64))
    if not xs:
        return np.zeros((0,), np.uint8), np.zeros((0,), np.int64)
    return np.concatenate(xs), np.concatenate(ys)


def load_mnist(data_dir=None):
    """MNIST: ((60000, 28, 28, 1) uint8, (60000,)), ((10000, 28, 28, 1), (10000,))."""
    return _load_tfds("mnist", data_dir)


def load_fashion_mnist(data_dir=None):
    """Fashion-MNIST: ((60000, 28, 28, 1) uint8, (60000,)), ((10000, 28, 28, 1), (10000,))."""
    return _load_tfds("fashion_mnist", data_dir)


def load_cifar10(data_dir=None):
    """CIFAR-10: ((50000, 32, 32, 3) uint8, (50000,)), ((10000, 32, 32, 3), (10000,))."""
    return _load_tfds("cifar10", data_dir)
