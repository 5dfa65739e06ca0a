"""``pytest_rollout.frozen.dataclass`` behaves as ``dataclasses.dataclass``: each class is built
both ways from the same body and every observable behaviour is compared."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import field
from typing import Any, ClassVar

import pytest

from pytest_rollout import frozen

Decorator = Callable[..., Any]


def _point(dc: Decorator, **options: Any) -> Any:
    @dc(**options)
    class Point:
        """A point."""

        x: int
        y: int = 0
        tags: list[str] = field(default_factory=list, metadata={"description": "free tags"})
        label: str | None = field(default=None, compare=False, repr=False)

    return Point


def _both(**options: Any) -> tuple[Any, Any]:
    return _point(dataclasses.dataclass, **options), _point(frozen.dataclass, **options)


OPTIONS = [{}, {"frozen": True}, {"frozen": True, "kw_only": True}, {"kw_only": True}, {"eq": False}, {"repr": False}]


def _outcome(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return ("ok", call(*args, **kwargs))
    except Exception as exc:  # the exception's type is compared, and the missing/extra name
        return (type(exc).__name__, [w for w in ("x", "y", "z", "tags") if f"'{w}'" in str(exc)])


def _repr(obj: object) -> str:
    return repr(obj).split(" object at ")[0]  # repr=False: object's repr, but for the address


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_construction_equality_hash_and_repr_match_the_stdlib(options: dict[str, Any]) -> None:
    std, ours = _both(**options)
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((), {"x": 1}),
        ((), {"x": 1, "y": 2, "tags": ["a"], "label": "l"}),
        ((1,), {}),
        ((1, 2), {}),
        ((1, 2, ["t"], "l", "extra"), {}),
        ((1,), {"x": 2}),
        ((), {"y": 2}),
        ((), {"x": 1, "z": 3}),
    ]
    for args, kwargs in calls:
        a, b = _outcome(std, *args, **kwargs), _outcome(ours, *args, **kwargs)
        assert a[0] == b[0] and (a[0] != "ok" or _repr(a[1]) == _repr(b[1])), (args, kwargs, a, b)
        if a[0] == "ok":
            assert dataclasses.asdict(a[1]) == dataclasses.asdict(b[1])
    s1, s2, o1, o2 = std(x=1, label="a"), std(x=1, label="b"), ours(x=1, label="a"), ours(x=1, label="b")
    assert (s1 == s2) == (o1 == o2) and (s1 != std(x=2)) == (o1 != ours(x=2))
    assert (o1 == s1) is False  # another class: never equal
    assert (std.__hash__ is None) == (ours.__hash__ is None)
    assert _outcome(lambda: hash(std(x=1)))[0] == _outcome(lambda: hash(ours(x=1)))[0]  # a list: unhashable
    if std.__hash__ is not None and options.get("frozen"):
        h1, h2 = ours(x=1, tags=(), label="a"), ours(x=1, tags=(), label="b")
        assert hash(h1) == hash(h2) and h1 in {h2}  # label is not compared, so not hashed
    assert ours(x=1).tags is not ours(x=1).tags  # a fresh default per instance


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_frozen_replace_fields_and_params_match_the_stdlib(options: dict[str, Any]) -> None:
    std, ours = _both(**options)
    assert [(f.name, f.default, f.kw_only, f.compare, dict(f.metadata)) for f in dataclasses.fields(ours)] == [
        (f.name, f.default, f.kw_only, f.compare, dict(f.metadata)) for f in dataclasses.fields(std)
    ]
    for name in ("init", "repr", "eq", "order", "unsafe_hash", "frozen"):
        assert getattr(ours.__dataclass_params__, name) == getattr(std.__dataclass_params__, name)
    s, o = std(x=1), ours(x=1)
    assert _outcome(lambda: setattr(s, "x", 2))[0] == _outcome(lambda: setattr(o, "x", 2))[0]
    assert _outcome(lambda: delattr(s, "y"))[0] == _outcome(lambda: delattr(o, "y"))[0]
    assert dataclasses.replace(o, y=5).y == 5 and dataclasses.is_dataclass(o)


def test_a_frozen_subclass_keeps_its_own_attributes_settable() -> None:
    for dc in (dataclasses.dataclass, frozen.dataclass):

        @dc(frozen=True)
        class Base:
            a: int

        class Child(Base):
            pass

        child = Child(1)
        child.note = "ok"  # type: ignore[attr-defined]  # not a field: allowed on a subclass, as the stdlib
        with pytest.raises(dataclasses.FrozenInstanceError):
            child.a = 2  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            Base(1).note = "no"  # type: ignore[attr-defined]


def test_post_init_runs_and_the_unsupported_cases_fall_back_to_the_stdlib() -> None:
    seen = []

    @frozen.dataclass(frozen=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            seen.append(self.a)

    Checked(3)
    assert seen == [3]

    @frozen.dataclass(order=True)
    class Ordered:
        a: int

    @frozen.dataclass
    class WithClassVar:
        a: int
        LIMIT: ClassVar[int] = 3

    @frozen.dataclass
    class Derived(Ordered):
        b: int = 0

    @frozen.dataclass
    class NotInit:
        a: int
        b: int = field(default=4, init=False)

    assert Ordered(1) < Ordered(2) and WithClassVar(1).LIMIT == 3 and Derived(1, 2) == Derived(1, 2)
    assert NotInit(1).b == 4 and [f.name for f in dataclasses.fields(WithClassVar)] == ["a"]


def test_pydantic_validates_and_describes_both_alike() -> None:
    from pydantic import TypeAdapter

    std, ours = _both(frozen=True, kw_only=True)
    assert TypeAdapter(ours).json_schema() == TypeAdapter(std).json_schema()
    data = {"x": 1, "y": 2, "tags": ["a"]}
    assert dataclasses.asdict(TypeAdapter(ours).validate_python(data)) == dataclasses.asdict(
        TypeAdapter(std).validate_python(data)
    )


def test_the_report_models_use_it() -> None:
    """The classes the pre-push check builds are made without exec: none carries a generated ``__init__``."""
    from pytest_rollout import models, settings
    from pytest_rollout.diff import changes
    from pytest_rollout.gate import chain

    for module in (models, settings, changes, chain):
        classes = [c for c in vars(module).values() if isinstance(c, type) and dataclasses.is_dataclass(c)]
        assert classes and all(c.__init__.__module__ == "pytest_rollout.frozen" for c in classes), module


def test_methods_the_class_writes_itself_are_kept_as_the_stdlib_keeps_them() -> None:
    def make(decorator: Any) -> Any:
        @decorator(frozen=True)
        class C:
            x: int

            def __repr__(self) -> str:
                return "custom"

            def __eq__(self, other: object) -> bool:
                return True

            def __hash__(self) -> int:
                return 7

        return C

    for decorator in (frozen.dataclass, dataclasses.dataclass):
        c = make(decorator)(1)
        assert (repr(c), c == object(), hash(c)) == ("custom", True, 7)
