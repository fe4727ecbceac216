"""Where the kit is on disk (a basics module: imports nothing of the kit)."""
import os

AUTOGRADER_DIR = os.path.dirname(os.path.abspath(__file__))   # the autograder package
PROJECT_ROOT = os.path.dirname(AUTOGRADER_DIR)                  # the course root it ships in
