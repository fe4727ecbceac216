"""Command line: `python -m autograder COMMAND` (release, grade, grade-all, merge, package, demo)."""
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["demo"]:
        from beras.demo import main as demo
        return demo()
    if argv[:1] == ["release"]:
        from .release import main as release
        return release(argv[1:])
    sys.exit(f"usage: autograder demo  (other commands are being built); got {argv}")


if __name__ == "__main__":
    sys.exit(main())
