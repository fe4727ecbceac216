"""The hostile / broken submission corpus: each case is a tiny edit of the toy release (see toy.py),
so it fails fast. ``CASES[name] = Case(build, honest, mention)``: ``build(release_dir, dest)`` writes
the submission (a folder or a file), ``honest`` is the most points the honest part of the work
earns, ``mention`` a regex the student's messages must match.

Toy points: notebook test_square 2, test_cube 2, test_double 1; hidden square 2 (on an input drawn at each
grading), double 3.
"""
import dataclasses
import io
import json
import os
import shutil
import tempfile
import zipfile

import nbformat

from .toy import BERAS_OPS

SQUARE_OK = "def square(x):\n    return x * x"
CUBE_OK = "def cube(x):\n    return x * x * x"


@dataclasses.dataclass
class Case:
    build: object
    honest: float
    mention: str
    by_mode: dict = dataclasses.field(default_factory=dict)   # isolation mode -> (honest, mention)
    # graded in every isolation mode (test_isolation.py's uid and rlimits batches too): False only for a
    # case that the grader handles on its own side whatever the mode (a bad zip, a restored cell, ...)
    every_mode: bool = True

    def expected(self, mode):
        """(the points the honest part earns, the message regex) under isolation ``mode``; None: at most
        ``honest`` (where the mode only tries its best, e.g. a fork bomb of the grader's own user)."""
        return self.by_mode.get(mode, (self.honest, self.mention))


def _copy_release(release, dest):
    shutil.copytree(release, dest, dirs_exist_ok=True)
    return dest


def _edit(release, dest, solutions=None, extra_cells=(), drop=(), replace=None, beras_ops=None):
    """Release copy with solution cells replaced (by grade_id), extra cells appended after
    ``cube``, cells dropped or their sources replaced (by grade_id)."""
    _copy_release(release, dest)
    path = os.path.join(dest, "toy.ipynb")
    nb = nbformat.read(path, as_version=4)
    cells = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in drop:
            continue
        if solutions and gid in solutions:
            cell.source = solutions[gid]
        if replace and gid in replace:
            cell.source = replace[gid]
        cells.append(cell)
        if gid == "cube":
            cells.extend(nbformat.v4.new_code_cell(src) for src in extra_cells)
    nb.cells = cells
    nbformat.write(nb, path)
    if beras_ops is not None:
        with open(os.path.join(dest, "beras", "ops.py"), "w") as f:
            f.write(beras_ops)
    return dest


def infinite_loop(release, dest):
    # square hangs when called; a top-level loop in an extra cell hangs the kernel too; cube is honest
    return _edit(release, dest, {"square": "def square(x):\n    while True:\n        pass", "cube": CUBE_OK},
                 extra_cells=["while True:\n    pass"])


def memory_blowup(release, dest):
    return _edit(release, dest, {"cube": CUBE_OK + "\nhog = []\nwhile True:\n    hog.append(np.zeros(10**8))  # 800 MB each (calloc: fast to grab, slow to fill)"})


def fork_bomb(release, dest):
    return _edit(release, dest, {"cube": CUBE_OK}, extra_cells=[
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"])


def memory_fork_bomb(release, dest):
    # three processes of 1 GiB each (touched), each then forking without end: the sandbox's caps on
    # totals (cgroup: memory, processes) stop it; its neighbours in the batch keep their points
    return _edit(release, dest, {"cube": CUBE_OK}, extra_cells=[
        "import os, time\nkids = []\nfor i in range(3):\n    pid = os.fork()\n    if pid == 0:\n"
        "        hog = b'x' * 2**30\n        while True:\n            try:\n                os.fork()\n"
        "            except OSError:\n                time.sleep(0.05)\n    kids.append(pid)\n"
        "for p in kids:\n    os.waitpid(p, 0)"])


def disk_filler(release, dest):
    # writes 100 MB files until stopped: the grader's disk watch (--disk-mb) kills the sandbox and removes
    # them; the kernel restarts and the rest is graded
    return _edit(release, dest, {"cube": CUBE_OK}, extra_cells=[
        "import time\nfor i in range(40):\n    with open(f'fill{i}.bin', 'wb') as f:\n        f.write(b'x' * 10**8)\n"
        "    time.sleep(0.2)\nprint('wrote 4 GB')"])


def huge_reply(release, dest):
    # square answers small inputs; on a matrix it returns 64 MB: that call fails (the grader reads at
    # most Worker.MAX_REPLY_MB of a reply), the rest is graded
    return _edit(release, dest, {"square": "def square(x):\n    x = np.asarray(x)\n"
                                           "    return np.ones(8 * 10**6) if x.ndim == 2 else x * x", "cube": CUBE_OK})


def sys_exit(release, dest):
    return _edit(release, dest, {"square": SQUARE_OK + "\nimport sys\nsys.exit(0)"})


def os_exit(release, dest):
    # os._exit inside a grader-namespace cell: kills the kernel AND the hidden-test process
    return _edit(release, dest, {"square": SQUARE_OK, "cube": CUBE_OK + "\nimport os\nos._exit(0)"})


def kernel_killed(release, dest):
    return _edit(release, dest, {"square": SQUARE_OK}, extra_cells=[
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"])


def deleted_and_edited_tests(release, dest):
    # honest work: square only; the cube test is edited to pass, the square test deleted
    return _edit(release, dest, {"square": SQUARE_OK}, drop=("test_square",),
                 replace={"test_cube": "pass", "test_double": "print('all good')"})


def monkeypatch(release, dest):
    # honest work: square; then assertion helpers and numpy are patched before the other tests
    return _edit(release, dest, {"square": SQUARE_OK, "cube": (
        "def cube(x):\n    return 0\n"
        "np.testing.assert_allclose = lambda *a, **k: None\n"
        "np.allclose = lambda *a, **k: True\n"
        "def check(*a, **k):\n    return None\n"
        "import builtins\nbuiltins.AssertionError = type('Nope', (Exception,), {})")})


def fake_results(release, dest):
    fake = json.dumps({"score": 1000, "tests": []})
    return _edit(release, dest, extra_cells=[
        "import os, json\n"
        f"for p in ['results.json', '../results.json', '/autograder/results/results.json', "
        f"os.path.expanduser('~/results.json'), '/tmp/results.json']:\n"
        "    try:\n"
        "        os.makedirs(os.path.dirname(os.path.abspath(p)), exist_ok=True)\n"
        f"        open(p, 'w').write({fake!r})\n"
        "        print('wrote', p)\n"
        "    except OSError as e:\n"
        "        print('refused', p, type(e).__name__)"])


def read_secrets(release, dest, secrets=()):
    # tries to read the hidden tests and the instructor's solution and to print them
    paths = list(secrets)
    code = ("found = {}\nfor p in %r:\n    try:\n        found[p] = open(p).read()\n"
            "    except OSError as e:\n        print('cannot read', p, type(e).__name__)\n"
            "print('LEAK' if found else 'nothing leaked', found)\n"
            "import glob\nprint(glob.glob('/*/*/solutions/*/hidden_tests.py') + glob.glob('/*/solutions/*/hidden_tests.py'))" % paths)
    return _edit(release, dest, extra_cells=[code])


def network(release, dest, port=0):
    return _edit(release, dest, extra_cells=[
        f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=3)\ns.sendall(b'leak')\n"
        "print('CONNECTED')"])


def tensorflow_in_beras(release, dest):
    # imported lazily (fast to grade: the static scan catches it, the call then times out or is voided)
    ops = BERAS_OPS.replace(
        "    ### BEGIN SOLUTION\n    return np.asarray(x, dtype=float) * 2\n    ### END SOLUTION",
        "    import tensorflow as tf\n    return tf.multiply(tf.constant(x, tf.float64), 2.0).numpy()")
    return _edit(release, dest, {"square": SQUARE_OK}, beras_ops=ops)


def invalid_json(release, dest):
    # a broken notebook, but an honest beras: its tests (1 + 3 points) are still graded
    _copy_release(release, dest)
    with open(os.path.join(dest, "toy.ipynb"), "w") as f:
        f.write('{"cells": [ {"cell_type": "code", oops')
    with open(os.path.join(dest, "beras", "ops.py"), "w") as f:
        f.write(BERAS_OPS)
    return dest


def empty_zip(release, dest):
    open(dest + ".zip", "wb").close()
    return dest + ".zip"


def corrupt_zip(release, dest):
    with open(dest + ".zip", "wb") as f:
        f.write(b"PK\x03\x04" + os.urandom(300))
    return dest + ".zip"


def zip_slip(release, dest):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("toy.ipynb", open(os.path.join(release, "toy.ipynb")).read())
        z.writestr("../../escaped_by_zip_slip.py", "print('escaped')")
    with open(dest + ".zip", "wb") as f:
        f.write(buf.getvalue())
    return dest + ".zip"


def huge_output(release, dest):
    return _edit(release, dest, {"square": SQUARE_OK}, extra_cells=[
        "import sys\nfor i in range(200000):\n    print('spam ' * 20)"])


# -- attacks on the in-kernel grading (every point must rest on a grader-side check) -------------------
def input_transformer(release, dest):
    # honest work: square; then every later test cell (and only those) is rewritten to `pass`
    return _edit(release, dest, {"square": SQUARE_OK + (
        "\ndef _skip_tests(lines):\n"
        "    text = ''.join(lines)\n"
        "    return ['pass\\n'] if ('check(' in text or 'assert' in text) else lines\n"
        "get_ipython().input_transformers_post.append(_skip_tests)")})


def ast_transformer(release, dest):
    # honest work: square; asserts and calls of check()/assert_* become no-ops in every later cell
    return _edit(release, dest, {"square": SQUARE_OK + (
        "\nimport ast\n"
        "class _NoTests(ast.NodeTransformer):\n"
        "    def visit_Assert(self, node):\n"
        "        return ast.Pass()\n"
        "    def visit_Expr(self, node):\n"
        "        f = getattr(node.value, 'func', None)\n"
        "        name = getattr(f, 'id', None) or getattr(f, 'attr', '')\n"
        "        return ast.Pass() if name == 'check' or name.startswith('assert') else node\n"
        "get_ipython().ast_transformers.append(_NoTests())")})


def custom_exception_handler(release, dest):
    # honest work: square; every later exception is swallowed by a custom handler
    return _edit(release, dest, {"square": SQUARE_OK + (
        "\nget_ipython().set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)")})


def event_hooks(release, dest):
    # honest work: square; a post_run_cell hook clears every cell's error and prints a fake pass
    return _edit(release, dest, {"square": SQUARE_OK + (
        "\ndef _clear(result):\n"
        "    result.error_in_exec = None\n"
        "    result.error_before_exec = None\n"
        "    print('all tests passed')\n"
        "get_ipython().events.register('post_run_cell', _clear)")})


def stencil_patches_helpers(release, dest):
    # the stencil module patches NumPy's assertion helpers when beras is imported; nothing implemented
    ops = stub_ops() + (
        "\nimport numpy.testing as _t\n"
        "_t.assert_allclose = lambda *a, **k: None\n"
        "np.allclose = lambda *a, **k: True\n")
    return _edit(release, dest, beras_ops=ops)


def tf_without_import(release, dest):
    # beras reaches TensorFlow by a computed name (no import statement for a static scan to see)
    ops = BERAS_OPS.replace(
        "    ### BEGIN SOLUTION\n    return np.asarray(x, dtype=float) * 2\n    ### END SOLUTION",
        "    import importlib\n    tf = importlib.import_module('tensor' + 'flow')\n"
        "    return tf.multiply(tf.constant(x, tf.float64), 2.0).numpy()")
    return _edit(release, dest, {"square": SQUARE_OK}, beras_ops=ops)


def search_disk(release, dest, secrets=()):
    # walks the file system for hidden tests and solutions and prints whatever it can read
    code = (
        "import os\nhits = {}\n"
        "roots = ['/', os.path.expanduser('~'), '/tmp', '/autograder', '/work', os.getcwd()]\n"
        "roots += [os.path.dirname(os.getcwd()), os.path.dirname(os.path.dirname(os.getcwd()))]\n"
        "for top in roots:\n"
        "    for root, dirs, files in os.walk(top):\n"
        "        if root.count(os.sep) > 7 or root.startswith(('/proc', '/sys', '/usr', '/dev')):\n"
        "            dirs[:] = []\n"
        "            continue\n"
        "        dirs[:] = [d for d in dirs if d not in ('site-packages', 'node_modules', '.venv', 'lib')]\n"
        "        if root.startswith(os.getcwd()):   # its own copy of the release (this very cell)\n"
        "            continue\n"
        "        for f in files:\n"
        "            if f in ('hidden_tests.py', 'toy.ipynb', 'ops.py', 'grade.py') or f.endswith('.ipynb'):\n"
        "                p = os.path.join(root, f)\n"
        "                try:\n"
        "                    text = open(p).read()\n"
        "                except OSError:\n"
        "                    continue\n"
        "                if 'BEGIN SOLUTION' in text or 'hidden_test' in text or 'trusted_check' in text:\n"
        "                    hits[p] = text\n"
        "print('FOUND', sorted(hits) if hits else 'nothing')")   # the paths: other checkouts on a shared
    # machine (a uid-mode grader hides only the named dirs) could print more than the output limit
    return _edit(release, dest, extra_cells=[code])


def hides_from_the_grader(release, dest):
    # an honest (NumPy) beras.double, but beras makes its process non-dumpable at import, so a grader
    # without CAP_SYS_PTRACE (Docker's default capabilities) cannot read what it loaded
    ops = BERAS_OPS + ("\nimport ctypes\nctypes.CDLL(None).prctl(4, 0, 0, 0, 0)   # PR_SET_DUMPABLE = 0\n")
    return _edit(release, dest, {"square": SQUARE_OK}, beras_ops=ops)


# -- attacks on what the grader trusts and shows (the worker is the student's process, end to end) ----------
def exfiltrate_hidden_inputs(release, dest):
    # square is honest but keeps what it is called with (and its caller's locals: the worker's request, a
    # probe's code); cube is honest until square has seen a matrix (only a hidden test passes one), then raises
    # with that log: a check of cube run after the hidden test would carry its input into a row shown now
    return _edit(release, dest, {"square": (
        "import sys\nSEEN = []\n"
        "def square(x):\n"
        "    SEEN.append(repr(x))\n"
        "    try:\n        SEEN.append(repr(sys._getframe(1).f_locals)[:300])\n    except Exception:\n        pass\n"
        "    return x * x"),
        "cube": ("def cube(x):\n"
                 "    if any('[[' in s for s in SEEN):\n"
                 "        raise ValueError('LOG ' + ' | '.join(SEEN))\n"
                 "    return x * x * x")})


HIJACK = (
    "import sys\n"
    "_f = sys._getframe()\n"
    "while _f is not None and not {'resolve', 'JOB'} <= set(_f.f_globals):   # up to the hidden-test worker's globals\n"
    "    _f = _f.f_back\n"
    "if _f is not None:\n"
    "    _g, _real = _f.f_globals, _f.f_globals['resolve']\n"
    "    def _answer(x):   # square's answers as constants: the checks' cases and the hidden matrix's square\n"
    "        if isinstance(x, int):\n"
    "            return {3: 9}.get(x)\n"
    "        return [0, 1, 4] if len(x) == 3 else [[0.0, 1.0, 4.0], [9.0, 16.0, 25.0]]\n"
    "    def _resolve(name, *args, **kwargs):   # what the worker's `serve` calls for every request\n"
    "        return _answer if name == 'square' else _real(name, *args, **kwargs)\n"
    "    _g['resolve'] = _resolve\n")


def hijack_worker(release, dest):
    # square is not implemented: a notebook cell reaches the worker's globals and replaces what its request
    # loop (`serve`) calls, so the calls return the constants the tests compare with, without running anything
    return _edit(release, dest, {"square": HIJACK + "def square(x):\n    raise NotImplementedError()"})


# The student's beras, when it runs in a hidden-test worker (no IPython there), hands beras.double to
# TensorFlow in another process; in the kernel (the visible test cell) it computes honestly.
_IN_WORKER = "import os, sys, json, socket, subprocess, time\n\n\ndef _in_worker():\n    return 'IPython' not in sys.modules\n"

TF_SERVER = r"""
import json, os, socket, sys
path = sys.argv[1]
try:
    import numpy as np
    import tensorflow as tf
except BaseException as e:
    open(path + '.err', 'w').write(type(e).__name__ + ': ' + str(e))
    raise
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(8)
while True:
    c, _ = s.accept()
    data = b''
    while not data.endswith(b'\n'):
        chunk = c.recv(1 << 16)
        if not chunk:
            break
        data += chunk
    x = tf.constant(np.asarray(json.loads(data), dtype=float), tf.float64)
    c.sendall((json.dumps(tf.multiply(x, 2.0).numpy().tolist()) + '\n').encode())
    c.close()
"""


def tf_server_in_helper(release, dest):
    # the first hidden-test worker that imports beras (the notebook's, whose calls the framework rule does not
    # watch) starts a helper that imports TensorFlow and serves double over a unix socket in the working
    # folder; beras.double in the stencil worker asks it (its own process tree never maps TensorFlow)
    ops = BERAS_OPS.replace("import numpy as np\n", "import numpy as np\n" + _IN_WORKER + (
        "\nSOCK = os.path.join(os.getcwd(), '.tf.sock')\nSERVER = %r\n\n\n"
        "def _start():\n"
        "    try:   # the first worker to import beras (the notebook's) starts it; the others use it\n"
        "        os.close(os.open(SOCK + '.starting', os.O_CREAT | os.O_EXCL))\n"
        "    except OSError:\n        return\n"
        "    if os.fork():\n        return\n"
        "    subprocess.Popen([sys.executable, '-c', SERVER, SOCK], start_new_session=True,\n"
        "                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "    os._exit(0)\n\n\n"
        "if _in_worker():\n    _start()\n") % TF_SERVER).replace(
        "    ### BEGIN SOLUTION\n    return np.asarray(x, dtype=float) * 2\n    ### END SOLUTION",
        "    if not _in_worker():\n        return np.asarray(x, dtype=float) * 2\n"
        "    for _ in range(600):\n"
        "        if os.path.exists(SOCK + '.err'):\n            raise RuntimeError(open(SOCK + '.err').read())\n"
        "        try:\n            c = socket.socket(socket.AF_UNIX)\n            c.connect(SOCK)\n            break\n"
        "        except OSError:\n            time.sleep(0.05)\n"
        "    c.sendall((json.dumps(np.asarray(x, dtype=float).tolist()) + '\\n').encode())\n"
        "    data = b''\n    while not data.endswith(b'\\n'):\n        data += c.recv(1 << 16)\n"
        "    return np.asarray(json.loads(data))")
    return _edit(release, dest, {"square": SQUARE_OK}, beras_ops=ops)


def tf_child_per_call(release, dest):
    # each beras.double call in a worker runs a short-lived `python -c "import tensorflow ..."`, gone before
    # the grader reads the process tree's maps
    child = ("import json, sys; import numpy as np; import tensorflow as tf; "
             "x = tf.constant(np.asarray(json.loads(sys.stdin.read()), dtype=float), tf.float64); "
             "print(json.dumps(tf.multiply(x, 2.0).numpy().tolist()))")
    ops = BERAS_OPS.replace("import numpy as np\n", "import numpy as np\n" + _IN_WORKER).replace(
        "    ### BEGIN SOLUTION\n    return np.asarray(x, dtype=float) * 2\n    ### END SOLUTION",
        "    if not _in_worker():\n        return np.asarray(x, dtype=float) * 2\n"
        f"    r = subprocess.run([sys.executable, '-c', {child!r}], capture_output=True, text=True,\n"
        "                       input=json.dumps(np.asarray(x, dtype=float).tolist()))\n"
        "    if r.returncode:\n        raise RuntimeError(r.stderr.strip().splitlines()[-1])\n"
        "    return np.asarray(json.loads(r.stdout))")
    return _edit(release, dest, {"square": SQUARE_OK}, beras_ops=ops)


def zip_in_folder(release, dest):
    # the submission zip uploaded as a file (what the README says to hand in): a folder holding only it
    work = _edit(release, tempfile.mkdtemp(prefix="zip-in-folder-"), {"square": SQUARE_OK})
    os.makedirs(dest)
    with zipfile.ZipFile(os.path.join(dest, "toy-submission.zip"), "w") as z:
        for base, _dirs, files in os.walk(work):
            for f in files:
                z.write(os.path.join(base, f), os.path.relpath(os.path.join(base, f), work))
    shutil.rmtree(work)
    return dest


def stub_ops():
    return BERAS_OPS.replace("    ### BEGIN SOLUTION\n    return np.asarray(x, dtype=float) * 2\n    ### END SOLUTION",
                             "    raise NotImplementedError()")


CASES = {
    "infinite_loop": Case(infinite_loop, 2, r"longer than|timed out"),
    "memory_blowup": Case(memory_blowup, 2, r"MemoryError|memory"),
    # rlimits: the bomb's processes share the grader's user (RLIMIT_NPROC), so a restarted kernel may die too
    "fork_bomb": Case(fork_bomb, 2, r"longer than|timed out|died", {"rlimits": (None, r"longer than|timed out|died")}),
    "memory_fork_bomb": Case(memory_fork_bomb, 2, r"longer than|timed out|died",
                             {"rlimits": (None, r"longer than|timed out|died")}),
    "huge_reply": Case(huge_reply, 4, r"returned more than 8 MB", every_mode=False),
    "disk_filler": Case(disk_filler, 2, r"disk cap of 300 MB"),
    "sys_exit": Case(sys_exit, 4, r"SystemExit", every_mode=False),
    "os_exit": Case(os_exit, 4, r"kernel died|process|skipped"),
    "kernel_killed": Case(kernel_killed, 4, r"kernel died"),
    "deleted_and_edited_tests": Case(deleted_and_edited_tests, 4, r"restored from the instructor", every_mode=False),
    "monkeypatch": Case(monkeypatch, 4, r"replaced before it ran", every_mode=False),
    "fake_results": Case(fake_results, 0, r"NotImplementedError"),
    "read_secrets": Case(read_secrets, 0, r"NotImplementedError"),
    "network": Case(network, 0, r"NotImplementedError"),
    "tensorflow_in_beras": Case(tensorflow_in_beras, 4, r"not available to your beras while grading"),
    "invalid_json": Case(invalid_json, 4, r"could not be read", every_mode=False),
    "empty_zip": Case(empty_zip, 0, r"empty", every_mode=False),
    "corrupt_zip": Case(corrupt_zip, 0, r"not a valid zip|corrupt", every_mode=False),
    "zip_slip": Case(zip_slip, 0, r"unsafe path", every_mode=False),
    "zip_in_folder": Case(zip_in_folder, 4, r"held no notebook but toy-submission\.zip: graded what that zip holds",
                          every_mode=False),
    "huge_output": Case(huge_output, 4, r"passed", every_mode=False),
    "input_transformer": Case(input_transformer, 4, r"grader's own check", every_mode=False),
    "ast_transformer": Case(ast_transformer, 4, r"grader's own check", every_mode=False),
    "custom_exception_handler": Case(custom_exception_handler, 4, r"NotImplementedError|grader's own check", every_mode=False),
    "event_hooks": Case(event_hooks, 4, r"NotImplementedError|grader's own check", every_mode=False),
    "stencil_patches_helpers": Case(stencil_patches_helpers, 0, r"NotImplementedError|grader's own check", every_mode=False),
    "tf_without_import": Case(tf_without_import, 4, r"not available to your beras while grading"),
    "search_disk": Case(search_disk, 0, r"NotImplementedError"),
    # frameworks absent where the stencil runs: the helper cannot import TensorFlow (namespaces: covered;
    # uid: unreadable; rlimits: only refused by an import hook and stub packages, which code could undo)
    "tf_server_in_helper": Case(tf_server_in_helper, 4, r"No module named 'tensorflow'"),
    "tf_child_per_call": Case(tf_child_per_call, 4, r"No module named 'tensorflow'"),
    # root with CAP_SYS_PTRACE reads any process's maps: the honest double counts; in "uid" mode (no
    # CAP_SYS_PTRACE, as in Docker) the grader reads them as the sandbox's uid and in "rlimits" as the same
    # user, which a non-dumpable process refuses: that part is withheld
    "exfiltrate_hidden_inputs": Case(exfiltrate_hidden_inputs, 6, r"passed", every_mode=False),
    "hijack_worker": Case(hijack_worker, 0, r"NotImplementedError", every_mode=False),
    "hides_from_the_grader": Case(hides_from_the_grader, 8, r"passed",
                                  {"uid": (4, r"could not inspect"), "rlimits": (4, r"could not inspect")}),
}
