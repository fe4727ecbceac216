"""beras.datasets: the real digits offline; the TFDS loaders with mocked data and, offline with an
empty data_dir, a clear error instead of a download."""
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from beras import datasets


def test_load_digits_is_the_real_sklearn_digits_with_a_fixed_stratified_split():
    from sklearn.datasets import load_digits as sk
    (x, y), (xt, yt) = datasets.load_digits()
    assert x.shape == (1437, 8, 8, 1) and xt.shape == (360, 8, 8, 1)
    assert x.dtype == xt.dtype == np.float32 and y.shape == (1437,) and yt.shape == (360,)
    assert np.issubdtype(y.dtype, np.integer) and set(np.unique(yt)) == set(range(10))
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.all(np.abs(np.bincount(yt) - 36) <= 1)  # stratified
    (x2, y2), (xt2, yt2) = datasets.load_digits()  # fixed split
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(yt, yt2)
    # every image is one of scikit-learn's (scaled by 1/16) with its label
    ref = sk()
    flat = {(img.tobytes(), int(t)) for img, t in zip((ref.images / 16.0).astype(np.float32), ref.target)}
    assert all((img[..., 0].tobytes(), int(t)) in flat for img, t in zip(np.concatenate([x, xt]), np.concatenate([y, yt])))
    assert len(x) + len(xt) == len(ref.images)


@pytest.mark.parametrize("loader,shape", [(datasets.load_mnist, (28, 28, 1)), (datasets.load_cifar10, (32, 32, 3))])
def test_tfds_loaders_with_mock_data(loader, shape):
    with tfds.testing.mock_data(num_examples=12):
        (x, y), (xt, yt) = loader()
    assert x.shape == (12, *shape) and xt.shape == (12, *shape)
    assert x.dtype == np.uint8 and y.dtype == np.int64 and y.shape == (12,)


def test_offline_without_data_fails_fast_and_says_how_to_provide_it(tmp_path, monkeypatch):
    monkeypatch.delenv("TFDS_DATA_DIR", raising=False)
    monkeypatch.setenv("BERAS_DATA_DIR", str(tmp_path))  # the environment variable is honoured
    t0 = time.perf_counter()
    with pytest.raises(datasets.DatasetNotAvailableError) as err:
        datasets.load_fashion_mnist()
    assert time.perf_counter() - t0 < 30
    msg = str(err.value)
    assert "fashion_mnist" in msg and str(tmp_path) in msg and "tfds build" in msg and "data_dir" in msg
    assert isinstance(err.value, RuntimeError)
    empty = tmp_path / "other"
    empty.mkdir()
    with pytest.raises(datasets.DatasetNotAvailableError, match=str(empty)):
        datasets.load_cifar10(data_dir=str(empty))  # the argument wins over the environment
