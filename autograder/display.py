"""In Jupyter, a failing check shows its message, not a traceback through this package.

IPython would print every frame down to the ``raise`` inside ``check``; the student needs
the one line of their test cell and the feedback. Registered when the package is imported
in an IPython kernel; elsewhere (pytest, the grader) nothing changes.
"""
from .errors import CheckFailed


def _short_traceback(shell, etype, value, tb, tb_offset=None):
    cell_line = ""
    while tb is not None:
        code = tb.tb_frame.f_code
        if (
            code.co_filename.startswith(("<ipython-input", "/tmp/ipykernel_"))
            or "ipykernel" in code.co_filename
        ):
            import linecache

            cell_line = linecache.getline(code.co_filename, tb.tb_lineno).strip()
        tb = tb.tb_next
    red, reset = "\x1b[0;31m", "\x1b[0m"
    stb = ([f"{red}{etype.__name__}{reset} in: {cell_line}"] if cell_line else []) + \
        [f"{red}{etype.__name__}{reset}: {value}"]
    shell._showtraceback(etype, value, stb)
    return stb


def register() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "set_custom_exc"):
        shell.set_custom_exc((CheckFailed,), _short_traceback)
