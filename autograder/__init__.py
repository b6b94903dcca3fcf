"""Layers from Scratch's checks: a test cell calls ``check(name, your_function)``."""
from .api import check
from .errors import CheckFailed
from .paths import data_path

__all__ = ["check", "CheckFailed", "data_path"]

from . import display as _display  # noqa: E402

_display.register()
