"""Where the course's files are, wherever a notebook runs (work/, notebooks/, a grader's tmp)."""
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent.parent


def data_path(name: str) -> Path:
    """A file the book ships in ``data/`` (its origin and licence are in data/README.md)."""
    return COURSE_ROOT / "data" / name
