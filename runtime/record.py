"""Immutable value classes for the modules a launch imports, without :mod:`dataclasses`.

``dataclasses`` costs a launch about 8 ms to import (it imports :mod:`inspect`)
and about half a millisecond per class (it compiles each generated method with
``exec``); ``awpolicy run`` defines some twenty-five such classes, together as much
time as the interpreter takes to start. A :class:`Record` is declared like a
frozen dataclass::

    class Origin(Record):
        file: str
        line: int
        col: int = 0

The fields are the class's annotations, in order (never evaluated: the modules
use ``from __future__ import annotations``); defaults are the class attributes
and must be immutable (an empty mapping is ``types.MappingProxyType({})``).
Instances are immutable, compare and hash by their fields, print like
dataclasses, and ``obj.replace(col=3)`` does what ``dataclasses.replace`` does.
"""

from __future__ import annotations

import operator
from types import MappingProxyType

_MUTABLE = (list, dict, set, bytearray)


class Record:
    """Base of an immutable value class whose fields are its annotations (see the module's doc)."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _defaults = MappingProxyType({})
    _field_set: frozenset[str] = frozenset()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = tuple(name for name in cls.__annotations__ if name not in cls._fields)  # its own (3.10+)
        cls._fields = cls._fields + own
        cls._defaults = {**cls._defaults, **{name: cls.__dict__[name] for name in own if name in cls.__dict__}}
        for name, value in cls._defaults.items():
            if isinstance(value, _MUTABLE):
                raise TypeError(f"{cls.__name__}.{name}: a mutable default would be shared by every instance")
        required = [name for name in cls._fields if name not in cls._defaults]
        if required and cls._fields.index(required[-1]) >= len(required):
            raise TypeError(f"{cls.__name__}.{required[-1]}: a field without a default follows one with a default")
        cls._field_set = frozenset(cls._fields)
        # the fields' values from an instance's __dict__ (itemgetter is faster than attrgetter)
        cls._values = operator.itemgetter(*cls._fields) if cls._fields else (lambda values: ())

    def __init__(self, *args, **values):
        if len(args) == len(self._fields):  # every field by position: the common case, kept fast
            if values:
                raise TypeError(f"{type(self).__name__}() got a field both by position and by name")
            self.__dict__.update(zip(self._fields, args))
            return
        if args:
            given = len(values) + len(args)
            values.update(zip(self._fields, args))
            if len(values) != given:
                raise TypeError(f"{type(self).__name__}() takes {len(self._fields)} fields: more arguments "
                                "were given, or a field both by position and by name")
        if len(values) < len(self._fields):
            values = {**self._defaults, **values}
        if values.keys() != self._field_set:
            unknown = sorted(values.keys() - self._field_set)
            missing = [name for name in self._fields if name not in values]
            raise TypeError(f"{type(self).__name__}() has no field {', '.join(unknown)}" if unknown
                            else f"{type(self).__name__}() is missing {', '.join(missing)}")
        self.__dict__.update(values)

    def __setattr__(self, name, value):
        raise AttributeError(f"cannot assign to field {name!r}: {type(self).__name__} is immutable")

    def __delattr__(self, name):
        raise AttributeError(f"cannot delete field {name!r}: {type(self).__name__} is immutable")

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values(self.__dict__) == self._values(other.__dict__)

    def __hash__(self):
        return hash(self._values(self.__dict__))

    def __repr__(self):
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({fields})"

    def replace(self, **changes):
        """A copy with ``changes`` applied (``dataclasses.replace`` for a record)."""
        return type(self)(**{**{name: getattr(self, name) for name in self._fields}, **changes})
