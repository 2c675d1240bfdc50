"""Model instances from the rows the annotation loop's own SQL reads (issue 9, ``i9web4``).

Every annotation turns 7 rows into model instances (membership, project, audience, user, profile,
lease, item). ``Model.from_db`` goes through ``Model.__init__``, which sets each field with
``setattr`` and sends ``pre_init`` / ``post_init``: ~4.6 % of the web worker's CPU in a cProfile of
the JSON loop (``bench/web_ab.py --profile-dir``), for rows whose every column is already there.

``loaded`` builds the same instance directly: the values go into the instance's ``__dict__`` (where
``__init__``'s ``setattr`` puts them: plain fields have no ``__set__``, and a foreign key's
``<name>_id`` descriptor only clears a cached related object, of which a new instance has none) and
its ``_state`` says "from this database, not adding", as ``from_db`` sets it. Decided: only for
a model that keeps Django's own ``__init__`` and ``from_db`` and has no ``pre_init`` /
``post_init`` receiver at the time of the call (an ``ImageField`` with dimension fields, for one,
connects ``post_init``); anything else takes ``from_db`` unchanged. Columns not given are deferred,
as with ``from_db``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Model, signals
from django.db.models.base import ModelState

_shapes: dict = {}
_own_init: dict = {}


def row_shape(model):
    """(column count, primary key's position, attnames, ``[(position, field)]`` of the fields with a
    ``from_db_value``): read once per model, not per row."""
    shape = _shapes.get(model)
    if shape is None:
        fields = model._meta.concrete_fields
        shape = _shapes[model] = (len(fields), fields.index(model._meta.pk), [f.attname for f in fields],
                                  [(i, f) for i, f in enumerate(fields) if hasattr(f, "from_db_value")])
    return shape


def _plain(model) -> bool:
    own = _own_init.get(model)
    if own is None:
        own = _own_init[model] = (model.__init__ is Model.__init__
                                  and getattr(model.from_db, "__func__", None) is Model.from_db.__func__)
    return own and not signals.pre_init.has_listeners(model) and not signals.post_init.has_listeners(model)


def loaded(model, alias: str, attnames: Sequence[str], values: Sequence[Any]):
    """``model.from_db(alias, attnames, values)``, without ``__init__`` when that changes nothing."""
    if not _plain(model):
        return model.from_db(alias, list(attnames), list(values))
    obj = model.__new__(model)
    obj.__dict__.update(zip(attnames, values))
    state = obj._state = ModelState()
    state.adding = False
    state.db = alias
    return obj


def from_row(model, row: Sequence[Any], start: int, db):
    """(instance of ``model`` from ``row[start:]``, its concrete columns in model order, with each
    field's database converter applied as a queryset would (JSONField parses its text), or None
    when its primary key is NULL: a LEFT JOIN found nothing; the next column's offset)."""
    n, pk_at, attnames, converted = row_shape(model)
    end = start + n
    values = list(row[start:end])
    if values[pk_at] is None:
        return None, end
    for i, f in converted:
        if values[i] is not None:
            values[i] = f.from_db_value(values[i], None, db)
    return loaded(model, db.alias, attnames, values), end
