"""Reference submissions: what a perfect student would hand in (instructor notebook; for a stencil
assignment, the instructor's complete beras in place of the stencil) and the untouched release."""
import os
import shutil

from .spec import Assignment


def reference_submission(a: Assignment, dest):
    shutil.copytree(a.release_dir, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(a.solution_nb, os.path.join(dest, a.notebook))
    from .student_kit import inject_file      # the release's setup and submit cells, as a student has them
    inject_file(os.path.join(dest, a.notebook), a.name)
    from .rules import fill_file              # the rules stated as the release states them
    fill_file(os.path.join(dest, a.notebook), a.source_dir)
    if a.has_stencil:   # the instructor's complete package in place of the stencil
        shutil.rmtree(os.path.join(dest, a.stencil))
        shutil.copytree(a.instructor_beras, os.path.join(dest, a.stencil), ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def release_submission(a: Assignment, dest):
    shutil.copytree(a.release_dir, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    return dest
