"""The trust policy's one home: the frameworks a stencil must not compute with.

:data:`FRAMEWORKS` is every framework the kit knows, by the top-level module a student's code imports:
its display name and the native library whose mapping in a process proves the framework's code ran
there (read by the grader from ``/proc/PID/maps``, which student code cannot rewrite). Keras has no
native code of its own: it computes through TensorFlow, PyTorch or JAX, whose libraries show.

A manifest's ``[stencil] forbidden`` (autograder.authoring.manifest; default :data:`DEFAULT_FORBIDDEN`,
every known framework) names module names of this table, and drives where they are absent and all three checks:

- :func:`framework_paths`: what the sandbox makes unimportable where stencil code runs (isolation/sandbox.py);
- the static scan of the student's stencil files (imports of a forbidden module; grading/submission.py);
- the worker's ``sys.modules`` check (the list travels in its job: the worker imports nothing of the kit);
- the grader's ``/proc/PID/maps`` check, with the patterns of :func:`runtime_patterns` (grading/student.py).
"""
from __future__ import annotations

import dataclasses
import re


@dataclasses.dataclass(frozen=True)
class Framework:
    display: str                     # how messages name it
    native: re.Pattern | None        # a native library only this framework maps, or None (Keras)


_TENSORFLOW = re.compile(r"_pywrap_tensorflow|libtensorflow|/tensorflow/python/")
_TORCH = re.compile(r"libtorch|/torch/_C|/torch/lib/")
_JAX = re.compile(r"/jaxlib/|libjax")

# importable top-level module -> the framework it is
FRAMEWORKS = {
    "tensorflow": Framework("TensorFlow", _TENSORFLOW),
    "keras": Framework("Keras", None),
    "tf_keras": Framework("Keras (tf_keras)", None),
    "torch": Framework("PyTorch", _TORCH),
    "jax": Framework("JAX", _JAX),
    "jaxlib": Framework("JAX", _JAX),
}

DEFAULT_FORBIDDEN = tuple(FRAMEWORKS)


def unknown(names):
    """The names of ``names`` that are no framework of :data:`FRAMEWORKS` (sorted)."""
    return sorted({n for n in names if n not in FRAMEWORKS})


def runtime_patterns(forbidden):
    """{display name: native-library regex} proving that a framework of ``forbidden`` (module names of
    :data:`FRAMEWORKS`) ran; frameworks without native code of their own (Keras) have none. Raises
    ValueError on an unknown name (a manifest's are checked when it is read)."""
    bad = unknown(forbidden)
    if bad:
        raise ValueError(f"unknown framework(s) {', '.join(bad)}; known: {', '.join(FRAMEWORKS)}")
    out = {}
    for name in forbidden:
        fw = FRAMEWORKS[name]
        if fw.native is not None:
            out[fw.display] = fw.native
    return out


def framework_paths(forbidden, search=None):
    """[(path, module or None)]: every file-system entry that lets a process import a framework of
    ``forbidden`` (module names of :data:`FRAMEWORKS`), found without importing it: the package (or
    module) of that name in each ``search`` entry (default: ``sys.path``, as the sandbox's Python has the same
    site dirs, plus the site dirs of the base Python and the system's, which a student's code could run
    directly), and every top-level entry its installed distributions own beside it (``*.dist-info``,
    bundled native libraries). ``module`` names the framework a package dir is (None for the other
    entries). The sandbox makes exactly these absent where student stencil code runs (isolation/sandbox.py)."""
    import glob
    import os
    import sys
    bad = unknown(forbidden)
    if bad:
        raise ValueError(f"unknown framework(s) {', '.join(bad)}; known: {', '.join(FRAMEWORKS)}")
    out = {}
    if search is None:
        import site
        search = [*sys.path, *site.getsitepackages([sys.base_prefix]),
                  *glob.glob("/usr/lib/python3*/*-packages"), *glob.glob("/usr/local/lib/python3*/*-packages")]
    dirs = sorted({os.path.abspath(p) for p in search if p and os.path.isdir(p)})
    owners = _distributions()
    for name in forbidden:
        for d in dirs:
            for p in [os.path.join(d, name), os.path.join(d, name + ".py"), *glob.glob(os.path.join(d, name + ".*.so"))]:
                if os.path.lexists(p):
                    out[p] = name if os.path.isdir(p) else None
        for dist in owners.get(name, ()):
            base = os.path.abspath(str(dist.locate_file("")))
            for top in {str(f).split("/")[0] for f in (dist.files or ())} - {"..", ""}:
                p = os.path.join(base, top)
                if os.path.lexists(p):
                    out.setdefault(p, None)
    return sorted(out.items())


_DISTS = {}


def _distributions():
    """{top-level module: [installed distributions providing it]} (read once per process: ~1 s)."""
    if not _DISTS:
        import importlib.metadata as md
        by_name = {}
        for dist in md.distributions():
            try:
                tops = (dist.read_text("top_level.txt") or "").split()
                tops = tops or {str(f).split("/")[0].removesuffix(".py") for f in (dist.files or ())
                                if not str(f).startswith("..") and ".dist-info" not in str(f).split("/")[0]}
            except Exception:  # noqa: BLE001 - a broken distribution's metadata
                continue
            for top in tops:
                by_name.setdefault(top, []).append(dist)
        _DISTS.update(by_name or {"": []})
    return _DISTS
