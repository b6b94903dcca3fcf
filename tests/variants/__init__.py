"""One-bug versions of the reference answers, a module per family of autograder/checks."""
import inspect


def pinned(base, name, **arguments):
    """``base`` with constructor ``arguments`` fixed whatever the caller passes: the module
    that ignores ``affine=False``, ``bias=False`` or ``track_running_stats=False``."""
    signature = inspect.signature(base.__init__)

    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.arguments.update(arguments)
        base.__init__(*bound.args, **bound.kwargs)

    return type(f"{base.__name__}_{name}", (base,), {"__init__": __init__})
