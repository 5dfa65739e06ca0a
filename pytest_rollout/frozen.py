"""``dataclass``: the stdlib decorator, without compiling code for every class it decorates.

On Python 3.11 ``@dataclass(frozen=True)`` ``exec``s six generated functions per class
(``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``): for the
~40 value classes the pre-push check imports, 124 M of its 550 M instructions, a quarter of
its run (issue 19, measured under ``valgrind --tool=callgrind``). This decorator lets the stdlib
collect the fields (``__dataclass_fields__``, defaults, ``field()`` metadata: ``fields``,
``replace``, ``asdict`` and pydantic's ``TypeAdapter`` see a real dataclass) and installs shared
methods with the same behaviour instead, built from closures: no ``exec``.

Modules import ``dataclass`` from here; mypy sees ``dataclasses.dataclass`` itself, so every
check it makes on a dataclass still applies. What the shared methods do not cover falls back to
the stdlib, unchanged: ``order``, ``unsafe_hash``, ``slots``, a dataclass base class, a field
with ``init=False``, an ``InitVar`` or a ``ClassVar`` of the class's own.
A class without a docstring gets ``Name(field, ...)`` (the stdlib computes the full signature
with ``inspect``; pydantic ignores both as a description).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataclasses import dataclass as dataclass
else:

    def dataclass(cls: type | None = None, /, **options: Any) -> Any:
        """``dataclasses.dataclass``, with the same options; see the module docstring."""

        def wrap(cls: type) -> type:
            return _decorate(cls, **options)

        return wrap if cls is None else wrap(cls)


_FALLBACK = ("order", "unsafe_hash", "slots", "weakref_slot")


def _decorate(
    cls: type, *, init: bool = True, repr: bool = True, eq: bool = True, frozen: bool = False, **rest: Any
) -> type:
    if any(rest.get(name) for name in _FALLBACK) or not _plain(cls):
        return dataclasses.dataclass(cls, init=init, repr=repr, eq=eq, frozen=frozen, **rest)
    if cls.__doc__ is None:
        cls.__doc__ = f"{cls.__name__}({', '.join(cls.__dict__.get('__annotations__', ()))})"
    out: type = dataclasses.dataclass(cls, init=False, repr=False, eq=False, frozen=False, **rest)
    fields = dataclasses.fields(out)
    params = out.__dataclass_params__  # type: ignore[attr-defined]
    params.init, params.repr, params.eq, params.frozen = init, repr, eq, frozen
    if init:
        out.__init__ = _init_of(out, fields)  # type: ignore[misc]
    if repr:
        out.__repr__ = _repr_of(tuple(f.name for f in fields if f.repr))  # type: ignore[method-assign,assignment]
    if eq:
        compared = _values_of(tuple(f.name for f in fields if f.compare))
        out.__eq__ = _eq_of(compared)  # type: ignore[method-assign,assignment]
        if frozen:
            hashed = _values_of(tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash)))
            out.__hash__ = _hash_of(hashed)  # type: ignore[method-assign,assignment]
        elif "__hash__" not in cls.__dict__:
            out.__hash__ = None  # type: ignore[method-assign,assignment]  # as the stdlib: mutable and eq, so unhashable
    if frozen:
        names = frozenset(f.name for f in fields)
        out.__setattr__, out.__delattr__ = _frozen_of(out, names)  # type: ignore[method-assign]
    return out


#: Methods a class may write itself: the stdlib's rules for keeping them are its own (fall back).
_OWN_METHODS = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__")


def _plain(cls: type) -> bool:
    """No dataclass base, none of the generated methods written by the class itself, and only
    fields that ``__init__`` sets (no ``InitVar``, ``ClassVar``, ``init=False``)."""
    if any(dataclasses.is_dataclass(base) for base in cls.__mro__[1:]):
        return False
    if any(name in cls.__dict__ for name in _OWN_METHODS):
        return False
    for name, hint in cls.__dict__.get("__annotations__", {}).items():
        value = cls.__dict__.get(name)
        if "Var" in (hint if isinstance(hint, str) else repr(hint)):  # ClassVar, InitVar
            return False
        if isinstance(value, dataclasses.Field) and not value.init:
            return False
    return True


def _values_of(names: tuple[str, ...]) -> Callable[[object], tuple[Any, ...]]:
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda self: (one(self),)
    return lambda self: ()


def _init_of(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> Callable[..., None]:
    """``__init__``: positional fields in order, then keywords; defaults and factories as the stdlib."""
    spec = tuple((f.name, f.default, f.default_factory) for f in fields)
    positional = tuple(f.name for f in fields if not f.kw_only)
    known = frozenset(name for name, _, _ in spec)
    post_init = getattr(cls, "__post_init__", None) is not None
    missing = dataclasses.MISSING
    set_ = object.__setattr__
    where = f"{cls.__qualname__}.__init__()"

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if args:
            if len(args) > len(positional):
                raise TypeError(
                    f"{where} takes {len(positional) + 1} positional arguments but {len(args) + 1} were given"
                )
            for name, value in zip(positional, args, strict=False):  # fewer args than fields
                if name in kwargs:
                    raise TypeError(f"{where} got multiple values for argument '{name}'")
                kwargs[name] = value
        for name, default, factory in spec:
            if name in kwargs:
                set_(self, name, kwargs[name])
            elif default is not missing:
                set_(self, name, default)
            elif factory is not missing:
                set_(self, name, factory())
            else:
                raise TypeError(f"{where} missing 1 required argument: '{name}'")
        if not known.issuperset(kwargs):
            extra = next(name for name in kwargs if name not in known)
            raise TypeError(f"{where} got an unexpected keyword argument '{extra}'")
        if post_init:
            self.__post_init__()

    return __init__


def _repr_of(names: tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__qualname__}({inner})"

    return __repr__


def _eq_of(values: Callable[[object], tuple[Any, ...]]) -> Callable[[Any, object], Any]:
    def __eq__(self: Any, other: object) -> Any:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    return __eq__


def _hash_of(values: Callable[[object], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(values(self))

    return __hash__


def _frozen_of(owner: type, names: frozenset[str]) -> tuple[Callable[..., None], Callable[..., None]]:
    """As the stdlib: the class's own instances refuse every assignment; a subclass only the fields."""

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is owner or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(owner, self).__setattr__(name, value)  # type: ignore[arg-type]  # mypy: owner is a type

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is owner or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(owner, self).__delattr__(name)  # type: ignore[arg-type]  # as above

    return __setattr__, __delattr__
