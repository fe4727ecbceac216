"""Instructor sources -> assignment: manifest, solution regions, grader bundle, release, scaffold, reference
submissions, the Gradescope package and its lock, the student kit. Imports basics, isolation, results."""
