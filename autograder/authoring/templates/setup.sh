#!/usr/bin/env bash
# Gradescope: runs once, as root, when the autograder image is built (the network is available only here).
# Works on Gradescope's Ubuntu base images as they are: 22.04 ships Python 3.10 (too old for the
# pins) and 24.04 refuses a system-wide pip (PEP 668). So nothing is installed into the system
# Python: uv @UV_VERSION@ (hash-checked, installed with `pip --target`, which PEP 668 allows) provides CPython
# @PYTHON_VERSION@ (the image's own if it has one, else a standalone build it downloads) and the venv
# $AUTOGRADER_HOME/venv, into which it installs requirements.txt as it is (--no-deps): every package,
# transitive ones included, at an exact version; `uv pip check` then proves nothing is missing.
# Any failure stops here with a message.
set -euo pipefail
AG="${AUTOGRADER_HOME:-/autograder}"
SRC="$AG/source"
VENV="$AG/venv"
TOOLS="$AG/uv"
export UV_PYTHON_INSTALL_DIR="$AG/python" UV_CACHE_DIR="$AG/uv-cache"
say() { echo "setup.sh: $*"; }
fail() {
  echo "setup.sh: ERROR: $*" >&2
  echo "setup.sh: ERROR: the autograder is not installed; run_autograder will report it on every submission." >&2
  exit 1
}

say "apt-get: util-linux and mount (unshare, for the sandbox's namespaces)"
if ! { apt-get update -qq && apt-get install -y -qq util-linux mount >/dev/null; }; then
  say "warning: apt-get could not install util-linux/mount: the sandbox uses a weaker isolation mode"
fi

# 1. uv, at the pinned version
UV=""
if command -v uv >/dev/null 2>&1 && [ "$(uv --version 2>/dev/null | cut -d' ' -f2)" = "@UV_VERSION@" ]; then
  UV="$(command -v uv)"
  say "using uv @UV_VERSION@ found on PATH ($UV)"
else
  if ! python3 -m pip --version >/dev/null 2>&1; then
    say "python3 has no pip: installing python3-pip with apt-get"
    apt-get install -y -qq python3-pip >/dev/null 2>&1 \
      || fail "python3 has no pip and apt-get could not install python3-pip: cannot fetch uv @UV_VERSION@"
  fi
  say "installing uv @UV_VERSION@ (hash-checked) into $TOOLS with pip --target (no system-wide install: PEP 668 allows it)"
  rm -rf "$TOOLS"
  python3 -m pip install --quiet --no-cache-dir --disable-pip-version-check --require-hashes \
      --target "$TOOLS" -r "$SRC/uv-requirements.txt" \
    || fail "pip could not install uv @UV_VERSION@ from $SRC/uv-requirements.txt (is PyPI reachable?)"
  UV="$TOOLS/bin/uv"
fi
[ -x "$UV" ] || fail "no uv executable at $UV"

# 2. CPython @PYTHON_VERSION@ and the venv
say "creating $VENV with Python @PYTHON_VERSION@ (the base image has $(python3 -V 2>&1 || echo 'no python3'))"
"$UV" venv --clear --python "@PYTHON_VERSION@" "$VENV" \
  || fail "uv could not provide Python @PYTHON_VERSION@ for $VENV (it downloads a standalone CPython when the image has none: is the network reachable?)"

# 3. the locked dependency set
say "installing requirements.txt into $VENV (exact versions, nothing resolved beyond it)"
"$UV" pip install --python "$VENV/bin/python" --no-deps -r "$SRC/requirements.txt" \
  || fail "uv could not install the locked requirements (requirements.txt) into $VENV"
"$UV" pip check --python "$VENV/bin/python" \
  || fail "requirements.txt is not a complete set (uv pip check, above): regenerate it with --lock"

# 4. check: the right Python, every locked package at its version, the grader importable
"$VENV/bin/python" - "$SRC/requirements.txt" "@PYTHON_VERSION@" <<'PY' || fail "the venv does not match requirements.txt (above)"
import importlib.metadata as md, re, sys
want = tuple(int(x) for x in sys.argv[2].split("."))
bad = [] if sys.version_info[:2] == want else [f"Python {sys.version.split()[0]} (wanted {sys.argv[2]})"]
n = 0
for line in open(sys.argv[1]):
    m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
    if m:
        n += 1
        try:
            have = md.version(m[1])
        except md.PackageNotFoundError:
            have = "missing"
        if have != m[2]:
            bad.append(f"{m[1]}=={m[2]} (installed: {have})")
if bad:
    sys.exit("setup.sh: ERROR: not as locked: " + ", ".join(bad))
print(f"setup.sh: {n} locked packages on Python {sys.version.split()[0]}")
PY
(cd "$SRC" && "$VENV/bin/python" -c "import autograder.grading.grade") \
  || fail "the grader does not import with $VENV/bin/python"
say "done: run_autograder grades with $VENV/bin/python"
