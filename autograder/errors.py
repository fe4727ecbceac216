"""The kit's own exceptions, shared by every room (a basics module: imports nothing of the kit)."""


class GraderError(Exception):
    """The grader itself cannot run (unknown assignment, unreadable instructor source)."""


class BundleError(Exception):
    """A bundle cannot be built or found (raised as GraderError by find_assignment)."""
