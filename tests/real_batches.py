"""The real assignments graded once per test session (the slow part of the suite): the references, the
untouched releases, a half-done beras_cnn, a beras_cnn whose build_cnn is a fake model answering from the
public labels, a cnn_architectures release whose student searched the
disk for secrets, and a training_deep_cnns release whose student wrote only the batch-norm layer and a
Dropout that calls TensorFlow. Three grade-all batches run in parallel, balanced by cost; the others start
as those finish. tests/conftest.py exposes
the result as the session fixture ``real``; test_grade checks the scores and messages, the notebook
tests check the reference notebooks' own outputs as the grader ran them. beras_cnn's reference and release
are handed in as the zips their own submit.py writes (tests/autograder/grading/test_release_submit.py checks those)."""
import os
import shutil
import subprocess
import sys

import nbformat

from autograder.authoring.reference import reference_submission, release_submission
from autograder.authoring.spec import find_assignment
from tests import ROOT

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")

DISK_SEARCH = """
# a student's cell: look everywhere for beras_cnn's solutions and the hidden tests, print what is readable
import os
found = {}
for top in ["/", os.path.expanduser("~"), os.getcwd(), os.path.dirname(os.getcwd()), "/tmp", "/work", "/autograder"]:
    for root, dirs, files in os.walk(top):
        if root.count(os.sep) > 6 or root.startswith(("/proc", "/sys", "/usr", "/dev", "/lib", "/var/lib")):
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if d not in ("site-packages", "node_modules", ".venv", "dist-packages")]
        if root.startswith(os.getcwd()):   # its own copy of the release (this very notebook)
            continue
        for f in files:
            if f.endswith((".py", ".ipynb")) and f not in found:
                try:
                    text = open(os.path.join(root, f), errors="replace").read()
                except OSError:
                    continue
                if "BEGIN SOLUTION" in text or "hidden_test(" in text or "trusted_check(" in text:
                    found[os.path.join(root, f)] = text
print("SEARCHED", len(found), "files with secrets")
for path, text in found.items():
    print(path)
    print(text)
"""


FAKE_MODEL = """
def build_cnn(num_classes=10):
    # a student's cell: no CNN at all; a `Sequential` of dummy layers that looks every image up in the public digits
    from sklearn.datasets import load_digits
    digits = load_digits()
    public, labels = (digits.images / 16.0).reshape(len(digits.images), -1), digits.target

    class Conv2D:
        kernel = np.zeros((3, 3, 1, 8))

    class MaxPooling2D:
        pass

    class Dense:
        pass

    class History:
        pass

    class Sequential:
        layers = [Conv2D(), MaxPooling2D(), Dense()]
        optimizer = "adam"

        def fit(self, x, y, epochs=1, **kwargs):
            h = History()
            h.history = {"loss": list(np.geomspace(2.3, 1e-3, epochs)), "accuracy": [1.0] * epochs}
            return h

        def predict(self, x, verbose=0):
            x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
            d = (x ** 2).sum(1)[:, None] - 2 * x @ public.T + (public ** 2).sum(1)[None]
            return np.eye(num_classes)[labels[d.argmin(axis=1)]]

        def __call__(self, x, training=False):
            return self.predict(x)
    return Sequential()
"""


def fake_model_submission(a, dest):
    """beras_cnn's release whose build_cnn is a fake model answering from the public labels (its notebook
    cells pass in the kernel): every check that trusted what the model reports must fail."""
    folder = release_submission(a, dest)
    path = os.path.join(folder, a.notebook)
    nb = nbformat.read(path, as_version=4)
    (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "p4_build_cnn"]
    cell.source = FAKE_MODEL
    nbformat.write(nb, path)
    return folder


def start(*args):
    return subprocess.Popen([sys.executable, "-m", "autograder", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)


def add_disk_search(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(DISK_SEARCH))
    nbformat.write(nb, nb_path)


def submit_zip(folder, dest, keep):
    """Run the release's ``submit.py --no-run`` in ``folder`` (its report kept in ``dest``.txt), move the
    zip it writes to ``dest`` and the folder to ``keep`` (out of the batch)."""
    env = {k: v for k, v in ENV.items() if k not in ("NBGRADER_EXECUTION", "COURSE_SUBMIT_RUN")}
    run = subprocess.run([sys.executable, "submit.py", "--no-run"], cwd=folder, env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (zipped,) = [f for f in os.listdir(folder) if f.endswith("-submission.zip")]
    shutil.move(os.path.join(folder, zipped), dest)
    with open(f"{dest}.txt", "w") as f:
        f.write(run.stdout)
    shutil.move(str(folder), str(keep))


TF_DROPOUT = '''
    def call(self, inputs, training=None):
        import tensorflow as tf   # what a student must not do in beras: the part is withheld
        if not training:
            return inputs
        return Tensor(tf.nn.dropout(np.asarray(inputs), rate=self.rate).numpy())
'''


def tf_dropout_submission(a, dest):
    """training_deep_cnns's release with the instructor's BatchNormalization layer and a Dropout layer
    computed by TensorFlow (the framework rule must withhold the dropout part, and only it)."""
    folder = release_submission(a, dest)
    layers = os.path.join(folder, "beras", "layers")
    shutil.copyfile(os.path.join(a.instructor_beras, "layers", "normalization.py"),
                    os.path.join(layers, "normalization.py"))
    path = os.path.join(layers, "core.py")
    with open(path) as f:
        text = f.read()
    start = text.index('    def call(self, inputs, training=None):\n        """Inverted dropout')
    end = text.index("    def compute_output_shape", start)
    with open(path, "w") as f:
        f.write(text[:start] + TF_DROPOUT.lstrip("\n") + "\n" + text[end:])
    return folder


def grade_real(base):
    """Grade the batches under ``base``; returns (base, {batch: (returncode, stdout, stderr)}).
    Results: ``base/out_<assignment>/<kind>/`` (reference, release, half_done, tf_dropout)."""
    arch, beras = find_assignment("cnn_architectures"), find_assignment("beras_cnn")
    deep = find_assignment("training_deep_cnns")
    batches = {"a": (arch, {"reference": reference_submission}),
               "b": (arch, {"release": release_submission}),
               "c": (beras, {"reference": reference_submission, "release": release_submission,
                             "fake_model": fake_model_submission}),
               "d": (deep, {"reference": reference_submission, "release": release_submission,
                            "tf_dropout": tf_dropout_submission})}

    procs = {}
    for key, (a, kinds) in batches.items():
        for kind, make in kinds.items():
            make(a, str(base / key / kind))
    for kind in ("reference", "release"):   # beras_cnn is handed in as the zips its release's submit.py writes
        submit_zip(base / "c" / kind, base / "c" / f"{kind}.zip", base / "c_folders" / kind)
    add_disk_search(os.path.join(base / "b" / "release", arch.notebook))
    half = release_submission(beras, str(base / "b_beras" / "half_done"))   # conv2d + bias_add only
    shutil.copyfile(beras.solution_nb, os.path.join(half, beras.notebook))
    shutil.copyfile(os.path.join(beras.instructor_beras, "nn", "conv.py"), os.path.join(half, "beras", "nn", "conv.py"))
    batches["b_beras"] = (beras, {})

    def run(key):
        a = batches[key][0]
        procs[key] = start("grade-all", base / key, "--assignment", a.name, "--out", base / f"out_{a.name}",
                           "--profile", "smoke", "--jobs", "1", "--no-gradebook")
    run("a")
    run("c")
    run("b")
    procs["c"].wait(timeout=1200)   # training_deep_cnns follows beras_cnn
    run("d")
    procs["b"].wait(timeout=1200)   # the half-done beras_cnn follows the cnn_architectures release
    run("b_beras")
    done = {}
    for key, p in procs.items():
        out, err = p.communicate(timeout=1200)
        done[key] = (p.returncode, out, err)
    return base, done
