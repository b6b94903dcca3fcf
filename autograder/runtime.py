"""Where a check runs: the student's own kernel, or a grading kernel.

In the student's kernel ``session`` is None and ``check`` compares with torch in place.
The grader installs a session in the kernel that runs student code; ``check`` then only
runs the student's function on the cases it is given and hands the answers to the
judge, a separate process the student's code cannot reach.
"""
import os

session = None

VISIBLE_SEED = 0
# Hidden sweeps in a maintainer's kernel (nbval over solutions/) use this seed; the
# grader chooses a fresh one for every grading run and records it.
DEFAULT_HIDDEN_SEED = 20260101


def hidden_seed() -> int:
    return int(os.environ.get("AUTOGRADER_SEED", DEFAULT_HIDDEN_SEED))
