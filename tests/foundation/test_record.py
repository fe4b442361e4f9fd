"""aw_runtime.record.Record: what the IR and the runtime's plan classes rely on (frozen-dataclass behaviour)."""

from __future__ import annotations

import copy
import functools
import pickle
from types import MappingProxyType

import pytest
from aw_runtime.record import Record


class Point(Record):
    """A docstring stays the class's own."""

    x: int
    y: int
    label: str = ""
    tags: tuple = ()

    @functools.cached_property
    def norm(self) -> int:
        return abs(self.x) + abs(self.y)


def test_fields_by_position_keyword_and_default():
    p = Point(1, 2)
    assert (p.x, p.y, p.label, p.tags) == (1, 2, "", ())
    assert Point(y=2, x=1) == p == Point(1, 2, "", ())
    assert Point(1, y=2, label="a").label == "a"
    assert Point._fields == ("x", "y", "label", "tags")
    assert Point.__doc__ == "A docstring stays the class's own."


def test_equal_records_hash_alike_and_other_classes_differ():
    class Other(Record):
        x: int
        y: int
        label: str = ""
        tags: tuple = ()

    assert hash(Point(1, 2)) == hash(Point(1, 2))
    assert Point(1, 2) != Point(1, 3)
    assert Point(1, 2) != Other(1, 2)
    assert Point(1, 2) != (1, 2, "", ())
    assert len({Point(1, 2), Point(1, 2), Point(2, 1)}) == 2


def test_immutable_but_cached_properties_work():
    p = Point(3, -4)
    with pytest.raises(AttributeError):
        p.x = 5
    with pytest.raises(AttributeError):
        del p.y
    assert p.norm == 7
    assert p == Point(3, -4)  # a cached value is not a field


def test_replace_repr_copy_and_pickle():
    p = Point(1, 2, "a")
    q = p.replace(y=5)
    assert (q.x, q.y, q.label) == (1, 5, "a") and p.y == 2
    assert repr(p) == "Point(x=1, y=2, label='a', tags=())"
    assert copy.copy(p) == p and copy.deepcopy(p) == p
    assert pickle.loads(pickle.dumps(p)) == p
    with pytest.raises(TypeError, match="no field z"):
        p.replace(z=1)


@pytest.mark.parametrize("make, message", [
    (lambda: Point(1), "missing y"),
    (lambda: Point(1, 2, "a", (), 5), "takes 4 fields"),
    (lambda: Point(1, x=1), "both by position and by name"),
    (lambda: Point(1, 2, 3, 4, x=1), "both by position and by name"),
    (lambda: Point(1, 2, color="red"), "no field color"),
])
def test_wrong_arguments_are_refused(make, message):
    with pytest.raises(TypeError, match=message):
        make()


def test_declarations_a_dataclass_would_refuse():
    with pytest.raises(TypeError, match="mutable default"):
        class Shared(Record):
            items: list = []  # noqa: RUF012 - the point of the test
    with pytest.raises(TypeError, match="follows one with a default"):
        class Order(Record):
            a: int = 0
            b: int
    class Fine(Record):
        m: dict = MappingProxyType({})

    assert Fine().m == {}
