"""Transient model instances from database values, built without validation (~4 µs, not ~20–120 µs).

For rows just read from or written to the database (ledger entries, unlocks), where
there is nothing to validate.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm.instrumentation import manager_of_class

from lashme.models import LedgerEntry

_M = TypeVar("_M")

_builders: dict[type, tuple[Any, tuple[str, ...]]] = {}


def detached_row(model: type[_M], values: dict[str, Any]) -> _M:
    """A transient instance of table model ``model`` holding ``values`` (every column), unvalidated.

    ``model(**values)`` costs ~20–120 µs (instrumented attribute events, pydantic
    bookkeeping); this costs ~4 µs and gives an equal object (same ``model_dump()``, a
    transient SQLAlchemy instance).  For values that come from the database or were just
    written to it, so there is nothing to validate.

    Raises:
        KeyError: a column of ``model`` is missing from ``values``.
    """
    built = _builders.get(model)
    if built is None:
        built = _builders[model] = (
            manager_of_class(model).new_instance,
            tuple(c.name for c in model.__table__.c),  # type: ignore[attr-defined]
        )
    new_instance, columns = built
    obj = new_instance()
    obj.__dict__.update((name, values[name]) for name in columns)
    object.__setattr__(obj, "__pydantic_fields_set__", set(columns))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


def detached_entry(values: dict[str, Any]) -> LedgerEntry:
    """A transient :class:`LedgerEntry` holding ``values`` (every column): :func:`detached_row`."""
    return detached_row(LedgerEntry, values)
