"""The NumPy-only rule, seen from inside the student's kernel.

``torch_use`` is the quick check of the student's own kernel: does the function (or a
method of the class) name something that lives in torch? It catches the honest mistake.
The grader does not rely on it: its kernel has no torch to find (see ``sandbox``).
"""
from __future__ import annotations

import dis
import inspect
import types


def _is_torch(value) -> bool:
    if isinstance(value, types.ModuleType):
        return value.__name__.split(".")[0] == "torch"
    module = getattr(value, "__module__", None)
    if isinstance(module, str) and module.split(".")[0] == "torch":
        return True
    return type(value).__module__.split(".")[0] == "torch"


def _code_objects(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _functions(obj):
    if inspect.isclass(obj):
        for klass in obj.__mro__:
            if klass is object:
                continue
            for member in vars(klass).values():
                member = getattr(member, "__func__", member)
                if isinstance(member, property):
                    member = member.fget
                if isinstance(member, types.FunctionType):
                    yield member
    else:
        obj = getattr(obj, "__func__", obj)
        if isinstance(obj, types.FunctionType):
            yield obj


def torch_use(obj, _seen=None) -> str | None:
    """Name of the torch object that ``obj`` refers to, or None.

    Follows the functions it calls that the student wrote too (one notebook's globals).
    """
    seen = _seen if _seen is not None else set()
    for fn in _functions(obj):
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        # Only names looked up as globals: ``co_names`` also holds attribute names, and
        # ``weight.T`` must not match a global ``T`` that some text cell bound to torch.
        names = {ins.argval for code in _code_objects(fn.__code__)
                 for ins in dis.get_instructions(code)
                 if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME", "IMPORT_NAME")}
        cells = [c.cell_contents for c in (fn.__closure__ or ()) if _has_contents(c)]
        candidates = [(n, fn.__globals__.get(n)) for n in names] + [("closure", c) for c in cells]
        for label, value in candidates:
            if value is None:
                continue
            if _is_torch(value):
                return f"`{label}`"
            if (
                isinstance(value, (types.FunctionType, type))
                and getattr(value, "__module__", "") == fn.__module__
            ):
                found = torch_use(value, seen)
                if found:
                    return found
        if "torch" in names or any(n in ("importlib", "__import__") for n in names):
            constants = {
                c
                for code in _code_objects(fn.__code__)
                for c in code.co_consts
                if isinstance(c, str)
            }
            if "torch" in names or any(c.split(".")[0] == "torch" for c in constants):
                return "an import of torch"
    return None


def _has_contents(cell) -> bool:
    try:
        _ = cell.cell_contents  # an empty cell raises on access
    except ValueError:
        return False
    return True
