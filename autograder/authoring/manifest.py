"""An assignment is data: ``solutions/<name>/assignment.toml`` (copied into the grader bundle).

Everything the toolkit needs to know about one assignment lives here, so release, grade, package and
demo read it and no code names an assignment::

    title = "CNN architectures in Keras"
    demo = true                       # `make demo` grades its reference and its untouched release
    demo_cost = 3                     # relative grading cost (the demo starts the dearest first)
    publishes = ["first_one"]         # earlier assignments whose answers this release hands out (its given
                                      # code builds on them): publish it only after their due dates

    [stencil]                         # optional: a package of the course root students complete
    package = "beras"                 # copied next to the notebook, solution regions stubbed
    forbidden = ["tensorflow", "torch"]   # the stencil must not compute with these (default: every framework
                                          # of autograder.policy.FRAMEWORKS; [] for none)
    solved = ["first_one"]            # regions these assignments own ship solved here (release after
                                      # their due dates); the rest, this one's own included, are stubbed
    exclude = ["examples"]            # paths inside the package never shipped (instructor demos: working
                                      # code that could answer a graded part)

    [hidden]
    visibility = "after_due_date"     # Gradescope visibility of hidden-test results (per test: visibility=)

    [requirements]
    exclude = ["tensorflow-datasets"] # runtime pins students do not need

    [profiles.smoke]                  # limits of the profile (seconds, MB); missing keys: the defaults
    cell_timeout = 300
    [profiles.full]
    data = ["cifar10"]                # tensorflow-datasets names `auto` needs present to pick this profile
    gpu = true                        # `auto` needs a visible GPU too
    memory_mb = 0                     # 0: no address-space limit (CUDA maps far more)

Unknown keys are errors that list the valid ones, so a typo never silently changes grading.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib

from ..policy import DEFAULT_FORBIDDEN, FRAMEWORKS, unknown

FILE = "assignment.toml"
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
LIMIT_KEYS = ("cell_timeout", "call_timeout", "total_timeout", "memory_mb", "total_memory_mb", "nproc", "fsize_mb",
              "disk_mb", "output_kb", "startup_timeout")
PROFILE_DEFAULTS = {
    "smoke": {"cell_timeout": 300, "call_timeout": 120, "total_timeout": 1500},
    "full": {"cell_timeout": 3600, "call_timeout": 3600, "total_timeout": 4 * 3600, "memory_mb": 0},
}


class ManifestError(ValueError):
    """A manifest that cannot be read or has keys/values the toolkit does not know."""


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    limits: dict                     # Limits fields -> value
    data: tuple = ()                 # tensorflow-datasets names the profile trains on
    gpu: bool = False


@dataclasses.dataclass(frozen=True)
class Manifest:
    name: str
    title: str = ""
    stencil: str | None = None       # package copied next to the notebook as a stencil
    forbidden: tuple = DEFAULT_FORBIDDEN   # frameworks the stencil must not compute with (autograder.policy)
    solved: tuple = ()               # assignments whose stencil regions ship solved (autograder.authoring.bundle)
    publishes: tuple = ()            # assignments whose answers the release's given code holds (declared)
    stencil_exclude: tuple = ()      # paths inside the stencil package the release leaves out
    visibility: str = "after_due_date"
    exclude_requirements: tuple = ()
    demo: bool = True
    demo_cost: float = 1.0
    profiles: dict = dataclasses.field(default_factory=dict)

    @property
    def published(self) -> tuple:
        """Every assignment whose answers this release hands out: ``publishes`` and the stencil's
        ``solved`` (its regions ship solved). Release it only after their due dates."""
        return tuple(dict.fromkeys(self.publishes + self.solved))

    def profile(self, name) -> Profile:
        if name not in self.profiles:
            raise ManifestError(f"{self.name}: unknown profile {name!r}; valid profiles: {', '.join(self.profiles)}")
        return self.profiles[name]


def _check_keys(where, table, valid):
    unknown = sorted(set(table) - set(valid))
    if unknown:
        raise ManifestError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(valid))}")


def parse(name, text, where=FILE) -> Manifest:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ManifestError(f"{where}: not valid TOML ({e})") from None
    _check_keys(where, raw, ("title", "demo", "demo_cost", "publishes", "stencil", "hidden", "requirements",
                             "profiles"))
    publishes = raw.get("publishes", [])
    if not isinstance(publishes, list) or not all(isinstance(n, str) and n for n in publishes):
        raise ManifestError(f"{where}: `publishes` must be a list of assignment names, got {publishes!r}")
    if name in publishes:
        raise ManifestError(f"{where}: `publishes` lists {name!r} itself; list the earlier assignments whose "
                            f"answers this release hands out")
    stencil = raw.get("stencil", {})
    _check_keys(f"{where} [stencil]", stencil, ("package", "forbidden", "solved", "exclude"))
    exclude = stencil.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(n, str) and n and not n.startswith(("/", "..")) for n in exclude):
        raise ManifestError(f"{where} [stencil]: `exclude` must be a list of paths inside the package, got {exclude!r}")
    solved = stencil.get("solved", [])
    if not isinstance(solved, list) or not all(isinstance(n, str) and n for n in solved):
        raise ManifestError(f"{where} [stencil]: `solved` must be a list of assignment names, got {solved!r}")
    forbidden = stencil.get("forbidden", DEFAULT_FORBIDDEN)
    if not isinstance(forbidden, list | tuple) or not all(isinstance(n, str) for n in forbidden):
        raise ManifestError(f"{where} [stencil]: `forbidden` must be a list of framework names, got {forbidden!r}; "
                            f"valid: {', '.join(FRAMEWORKS)}")
    if unknown(forbidden):
        raise ManifestError(f"{where} [stencil]: unknown framework(s) {', '.join(unknown(forbidden))} in `forbidden`; "
                            f"valid: {', '.join(FRAMEWORKS)}")
    if stencil and not stencil.get("package"):
        raise ManifestError(f"{where} [stencil]: `package` (the folder of the course root students complete) is missing")
    hidden = raw.get("hidden", {})
    _check_keys(f"{where} [hidden]", hidden, ("visibility",))
    visibility = hidden.get("visibility", "after_due_date")
    if visibility not in VISIBILITIES:
        raise ManifestError(f"{where} [hidden]: unknown visibility {visibility!r}; valid: {', '.join(VISIBILITIES)}")
    reqs = raw.get("requirements", {})
    _check_keys(f"{where} [requirements]", reqs, ("exclude",))
    profiles = {}
    for pname in sorted({"smoke"} | set(raw.get("profiles", {}))):   # every assignment has a smoke profile
        table = dict(raw.get("profiles", {}).get(pname, {}))
        _check_keys(f"{where} [profiles.{pname}]", table, LIMIT_KEYS + ("data", "gpu"))
        data = table.pop("data", [])
        gpu = bool(table.pop("gpu", False))
        limits = dict(PROFILE_DEFAULTS.get(pname, PROFILE_DEFAULTS["smoke"]))
        limits.update(table)
        profiles[pname] = Profile(pname, limits, tuple([data] if isinstance(data, str) else data), gpu)
    return Manifest(name=name, title=raw.get("title", name), stencil=stencil.get("package") or None,
                    forbidden=tuple(forbidden), solved=tuple(solved), publishes=tuple(publishes),
                    stencil_exclude=tuple(exclude),
                    visibility=visibility,
                    exclude_requirements=tuple(reqs.get("exclude", ())), demo=bool(raw.get("demo", True)),
                    demo_cost=float(raw.get("demo_cost", 1.0)), profiles=profiles)


def load(folder, name) -> Manifest:
    """The manifest of ``name`` in ``folder`` (its solutions/ folder or its grader bundle); an assignment
    without one gets the defaults (no stencil, default profiles)."""
    path = os.path.join(folder, FILE)
    if not os.path.isfile(path):
        return parse(name, "", path)
    with open(path, encoding="utf-8") as f:
        return parse(name, f.read(), path)


def check_published(manifest: Manifest, valid_names) -> None:
    """``manifest``'s ``publishes`` and ``[stencil] solved`` name assignments of the course (``valid_names``:
    the assignments under solutions/); else a ManifestError listing the valid names."""
    valid = sorted(valid_names)
    for key, names in (("publishes", manifest.publishes), ("[stencil] solved", manifest.solved)):
        wrong = [n for n in names if n not in valid or n == manifest.name]
        if wrong:
            raise ManifestError(f"{manifest.name}/{FILE}: {key} names {', '.join(map(repr, wrong))}, which is not "
                                f"another assignment of this course; valid assignment names: "
                                f"{', '.join(n for n in valid if n != manifest.name) or '(none)'}")
