"""Command line: ``python -m autograder {release,grade,lab-copy} ...`` (the Makefile's targets)."""
from .cli import main

raise SystemExit(main())
