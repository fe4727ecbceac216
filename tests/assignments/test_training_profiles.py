"""solutions/cnn_architectures/training.py: the smoke/full switch (with pretend GPUs and data), the
full profile's configuration (mixed precision, XLA, MirroredStrategy) exercised on the CPU, the
tf.data augmentation pipeline, and CIFAR-10 loading through tfds.testing.mock_data."""
import dataclasses
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from tests import ROOT

PATH = ROOT / "solutions" / "cnn_architectures" / "training.py"


def _load():
    spec = importlib.util.spec_from_file_location("cnn_architectures_training", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


training = _load()


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    for var in ("BERAS_DATA_DIR", "TFDS_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))   # no ~/tensorflow_datasets


@pytest.fixture
def gpus(monkeypatch):
    """``gpus(n)``: TensorFlow's device list (tf.config.list_physical_devices, what visible_gpus asks)
    shows the host's CPU and ``n`` GPUs, whatever this machine has."""
    real = tf.config.list_physical_devices

    def pretend(n):
        fake = [tf.config.PhysicalDevice(name=f"/physical_device:GPU:{i}", device_type="GPU") for i in range(n)]

        def list_physical_devices(device_type=None):
            cpus = list(real("CPU")) if device_type in (None, "CPU") else []
            return cpus + (fake if device_type in (None, "GPU") else [])
        monkeypatch.setattr(tf.config, "list_physical_devices", list_physical_devices)
    return pretend


def prepared_cifar10(root):
    """A directory laid out like a prepared TFDS CIFAR-10 (what cifar10_available looks for)."""
    version = Path(root) / "cifar10" / "3.0.2"
    version.mkdir(parents=True)
    (version / "dataset_info.json").write_text("{}")
    return str(root)


def tiny_model(input_shape=(8, 8, 3), num_classes=10):
    x = keras.Input(input_shape)
    y = keras.layers.Conv2D(4, 3, padding="same")(x)
    y = keras.layers.BatchNormalization()(y)
    y = keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(y))
    return keras.Model(x, keras.layers.Dense(num_classes, activation="softmax", dtype="float32")(y))


def tiny_data(n=24, shape=(8, 8, 3), uint8=True):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, *shape)).astype(np.uint8) if uint8 else rng.random((n, *shape), np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)
    return training.Data(x[:16], y[:16], x[16:], y[16:])


# ---------------------------------------------------------------------------------------------
# The switch
# ---------------------------------------------------------------------------------------------
def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(ValueError, match="auto, smoke, full"):
        training.select_profile("fast")


def test_auto_is_smoke_without_a_gpu(no_env, gpus):
    gpus(0)
    assert training.visible_gpus() == []
    p = training.select_profile("auto")
    assert p.name == "smoke" and p.dataset == "digits"
    assert "no GPU is visible" in p.reason and "CIFAR-10 is not prepared" in p.reason
    assert not p.mixed_precision and not p.jit_compile


def test_auto_is_full_with_a_gpu_and_the_data(no_env, gpus, tmp_path):
    gpus(1)
    data_dir = prepared_cifar10(tmp_path / "data")
    p = training.select_profile("auto", data_dir=data_dir)
    assert p.name == "full" and p.dataset == "cifar10" and p.data_dir == data_dir
    assert "1 GPU(s) visible" in p.reason and data_dir in p.reason
    assert p.mixed_precision and p.jit_compile                         # the GPU path's switches


def test_auto_needs_both_gpu_and_data(no_env, gpus, tmp_path):
    gpus(0)
    data_dir = prepared_cifar10(tmp_path / "data")
    p = training.select_profile("auto", data_dir=data_dir)            # data, no GPU
    assert p.name == "smoke" and p.reason == "no GPU is visible"
    assert not p.mixed_precision and not p.jit_compile
    gpus(2)
    p = training.select_profile("auto", data_dir=str(tmp_path / "empty"))   # GPU, no data
    assert p.name == "smoke" and "CIFAR-10 is not prepared in" in p.reason and "GPU" not in p.reason


@pytest.mark.parametrize("var", ["BERAS_DATA_DIR", "TFDS_DATA_DIR"])
def test_data_dir_from_the_environment(no_env, gpus, monkeypatch, tmp_path, var):
    gpus(1)
    monkeypatch.setenv(var, prepared_cifar10(tmp_path / var))
    p = training.select_profile("auto")
    assert p.name == "full" and p.data_dir == str(tmp_path / var)


def test_explicit_requests(no_env, gpus):
    gpus(0)
    assert training.select_profile("smoke").reason == "requested"
    full = training.select_profile("full")
    assert full.name == "full" and "no GPU is visible" in full.reason
    gpus(1)
    assert training.select_profile("smoke").reason == "requested"     # smoke even with a GPU
    full = training.select_profile("full")
    assert full.name == "full" and full.reason == "requested" and full.mixed_precision and full.jit_compile


def test_full_recipe_is_the_resnet_paper_recipe():
    p = training.select_profile("full")
    assert (p.dataset, p.depth, p.batch_size, p.learning_rate, p.momentum) == ("cifar10", 20, 128, 0.1, 0.9)
    assert p.weight_decay > 0 and p.schedule in ("cosine", "step") and p.epochs >= 100
    assert (p.crop_padding, p.flip, p.mixed_precision, p.jit_compile) == (4, True, True, True)
    s = training.select_profile("smoke")
    assert (s.crop_padding, s.flip, s.depth) == (1, False, 20) and s.time_budget <= 150


# ---------------------------------------------------------------------------------------------
# Full-profile machinery, on the CPU
# ---------------------------------------------------------------------------------------------
def test_full_session_sets_mixed_precision_and_xla_and_restores_the_policy():
    full = training.select_profile("full")
    before = keras.mixed_precision.dtype_policy().name
    with training.session(full):
        assert keras.mixed_precision.dtype_policy().name == "mixed_float16"
        model = tiny_model()
        training.compile_model(model, full, steps_per_epoch=2, epochs=1)
    assert keras.mixed_precision.dtype_policy().name == before == "float32"
    conv = model.layers[1]
    assert (conv.compute_dtype, conv.variable_dtype) == ("float16", "float32")
    assert model.jit_compile is True
    assert "LossScale" in type(model.optimizer).__name__


@pytest.mark.slow
def test_full_profile_trains_on_cpu_with_mixed_precision_and_xla():
    full = training.select_profile("full")
    data = tiny_data()
    keras.utils.set_random_seed(0)
    with training.session(full):
        model = tiny_model()
        history = training.train(model, full, data, epochs=2)
    assert model.jit_compile is True and model.layers[1].compute_dtype == "float16"
    assert len(history["loss"]) == 2 and np.all(np.isfinite(history["loss"] + history["val_loss"]))
    pred = training.predict_classes(model, full, data.x_test)
    assert pred.shape == (8,) and pred.dtype == np.int64


def test_several_gpus_choose_mirrored_strategy(monkeypatch):
    made = []
    monkeypatch.setattr(tf.distribute, "MirroredStrategy", lambda *a, **k: made.append(a) or "mirrored")
    assert training.choose_strategy(["GPU:0", "GPU:1"]) == "mirrored" and len(made) == 1
    assert training.choose_strategy(["GPU:0"]) is tf.distribute.get_strategy()
    assert training.choose_strategy([]) is tf.distribute.get_strategy()
    monkeypatch.setattr(training, "visible_gpus", lambda: ["GPU:0", "GPU:1", "GPU:2"])
    assert training.choose_strategy() == "mirrored"


@pytest.mark.slow
def test_training_under_a_real_mirrored_strategy_on_cpu():
    smoke = training.select_profile("smoke")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    keras.utils.set_random_seed(0)
    with training.session(smoke, strategy=strategy) as active:
        assert active is strategy and tf.distribute.get_strategy() is strategy
        model = tiny_model()
        history = training.train(model, smoke, tiny_data(uint8=False), epochs=1)
    assert np.isfinite(history["loss"][0])


def test_time_budget_stops_training():
    smoke = training.select_profile("smoke")
    keras.utils.set_random_seed(0)
    history = training.train(tiny_model(), smoke, tiny_data(uint8=False), epochs=5, time_budget=0.0)
    assert history["stopped_by_time_budget"] is True and len(history["loss"]) == 1


def test_learning_rate_schedules():
    full = training.select_profile("full")
    cos = training.learning_rate_schedule(full, steps_per_epoch=10, epochs=10)
    assert float(cos(0)) == pytest.approx(0.1) and float(cos(50)) == pytest.approx(0.05, abs=1e-6)
    assert float(cos(100)) == pytest.approx(0.0, abs=1e-7)
    step = training.learning_rate_schedule(dataclasses.replace(full, schedule="step"), 10, 10)
    assert [round(float(step(s)), 6) for s in (0, 49, 51, 76)] == [0.1, 0.1, 0.01, 0.001]
    with pytest.raises(ValueError, match="cosine, step"):
        training.learning_rate_schedule(dataclasses.replace(full, schedule="linear"), 10)


# ---------------------------------------------------------------------------------------------
# Data: augmentation pipeline, digits, CIFAR-10 through mocked TFDS
# ---------------------------------------------------------------------------------------------
def test_training_batches_are_seeded_shifts_and_flips():
    """make_dataset's augmentation (inside it: no standalone augment function is given, it would answer
    training_deep_cnns's augmentation part): each training image is a crop of it zero-padded by
    crop_padding, mirrored about half the time with flip; the same seed gives the same batch."""
    image = np.reshape(np.arange(8 * 8 * 3, dtype=np.float32), (8, 8, 3)) + 1.0
    padded = np.pad(image, ((2, 2), (2, 2), (0, 0)))
    windows = [padded[i:i + 8, j:j + 8] for i in range(5) for j in range(5)]
    smoke = training.select_profile("smoke")
    x, y = np.repeat(image[None], 40, axis=0), np.zeros(40, np.int64)
    recipe = dataclasses.replace(smoke, crop_padding=2, flip=True)
    batch = next(iter(training.make_dataset(x, y, recipe, training=True, seed=3, batch_size=40)))[0].numpy()
    again = next(iter(training.make_dataset(x, y, recipe, training=True, seed=3, batch_size=40)))[0].numpy()
    np.testing.assert_array_equal(batch, again)                                        # seeded
    assert batch.shape == (40, 8, 8, 3)
    is_window = [any(np.array_equal(out, w) for w in windows) for out in batch]
    is_flipped = [any(np.array_equal(out[:, ::-1], w) for w in windows) for out in batch]
    assert all(a or b for a, b in zip(is_window, is_flipped))
    assert 6 <= sum(b and not a for a, b in zip(is_window, is_flipped)) <= 34
    assert len({out.tobytes() for out in batch}) > 5                                  # crops differ
    plain = dataclasses.replace(smoke, crop_padding=0, flip=False)
    same = next(iter(training.make_dataset(x, y, plain, training=True, seed=3, batch_size=40)))[0].numpy()
    np.testing.assert_array_equal(same, x)


def test_make_dataset_smoke_digits_batches_are_seeded_and_change_every_epoch():
    smoke = training.select_profile("smoke")
    data = training.load_data(smoke)
    assert data.x_train.shape == (1437, 8, 8, 1) and data.x_test.shape == (360, 8, 8, 1)
    assert data.input_shape == (8, 8, 1) and data.num_classes == 10
    ds = training.make_dataset(data.x_train, data.y_train, smoke, training=True, seed=3)
    first = [b[0].numpy() for b in ds.take(1)][0]
    again = [b[0].numpy() for b in ds.take(1)][0]
    other = training.make_dataset(data.x_train, data.y_train, smoke, training=True, seed=3)
    assert first.shape == (32, 8, 8, 1) and first.dtype == np.float32
    assert not np.array_equal(first, again)                         # a new epoch: new order / crops
    np.testing.assert_array_equal(first, [b[0].numpy() for b in other.take(1)][0])   # same seed: same
    test = training.make_dataset(data.x_test, data.y_test, smoke, training=False)
    x0, y0 = next(iter(test))
    np.testing.assert_array_equal(x0.numpy(), data.x_test[:32])     # no augmentation on the test split
    np.testing.assert_array_equal(y0.numpy(), data.y_test[:32])


def test_cifar10_through_mocked_tfds(tmp_path):
    import tensorflow_datasets as tfds
    full = training.select_profile("full", data_dir=str(tmp_path))
    with tfds.testing.mock_data(num_examples=12):
        data = training.load_data(full)
    assert data.x_train.shape == (12, 32, 32, 3) and data.x_train.dtype == np.uint8
    assert data.y_test.shape == (12,) and set(np.unique(data.y_train)) <= set(range(10))
    ds = training.make_dataset(data.x_train, data.y_train, full, training=True, batch_size=5)
    shapes = [(x.shape, x.dtype, y.shape) for x, y in ds]
    assert shapes[0] == ((5, 32, 32, 3), tf.float32, (5,)) and [s[0][0] for s in shapes] == [5, 5, 2]
    x, _ = next(iter(training.make_dataset(data.x_test, data.y_test, full, training=False)))
    expected = (data.x_test[:12] / 255.0 - training.CIFAR10_MEAN) / training.CIFAR10_STD
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_missing_cifar10_says_how_to_provide_it(tmp_path):
    full = training.select_profile("full", data_dir=str(tmp_path))
    with pytest.raises(training.DatasetNotAvailableError, match="tfds build cifar10"):
        training.load_data(full)


def test_digits_are_the_same_as_beras_datasets():
    """training.py loads the digits itself, exactly as beras.datasets does (same arrays, same split)."""
    import beras.datasets
    ours, theirs = training.load_digits(), beras.datasets.load_digits()
    for split_ours, split_theirs in zip(ours, theirs):
        for a, b in zip(split_ours, split_theirs):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_training_py_and_the_notebook_do_not_need_beras(tmp_path):
    """cnn_architectures is independent of beras: training.py and the notebook's setup cell run with
    beras unimportable (so grading it never puts a beras next to the student's code)."""
    import nbformat
    nb = nbformat.read(PATH.parent / "cnn_architectures.ipynb", as_version=4)
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    for cell in nb.cells:
        assert "import beras" not in cell.source and "from beras" not in cell.source, cell.source[:200]
    (tmp_path / "training.py").write_bytes(PATH.read_bytes())
    script = (f"import os, sys\nsys.modules['beras'] = None   # import beras -> ImportError\n"
              f"os.chdir({str(tmp_path)!r})\n" + setup.source +
              "\ndata = training.load_data(training.select_profile('smoke'))\n"
              "print('shapes', data.x_train.shape, data.x_test.shape)\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1"}
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "shapes (1437, 8, 8, 1) (360, 8, 8, 1)" in p.stdout
