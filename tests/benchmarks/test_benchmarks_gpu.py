"""`python -m benchmarks gpu` where no GPU is visible: one clear line, exit status 0."""
import os
import subprocess
import sys
from tests import ROOT
import pytest

pytestmark = pytest.mark.slow   # end to end (see tests/__init__.py): left out of `make check`



def test_gpu_benchmark_without_a_gpu_prints_one_line_and_exits_0():
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    run = subprocess.run([sys.executable, "-m", "benchmarks", "gpu"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, run.stdout
    assert "no GPU is visible" in lines[0]


def test_the_gpu_benchmark_builds_resnet20_with_the_papers_shape():
    """The model the GPU benchmark trains: ResNet-20 (6n+2, n=3) as in He et al.: 0.27M parameters."""
    import importlib
    bench = importlib.import_module("benchmarks.bench_gpu")
    model = bench.resnet(20, 10, (32, 32, 3))
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D" and layer.kernel.shape[0] == 3]
    assert len(convs) + 1 == 20                                  # 19 3x3 convolutions and the dense layer
    assert 0.26e6 < model.count_params() < 0.28e6
    assert model.output_shape == (None, 10)
