"""Hostile and broken submissions for the autograder (generated from a release in a tmp dir)."""
