"""The one paginator of every list: keyset ("seek") pages addressed by opaque page tokens.

Every list in LashMe (admin users, jobs, audit log, orders, webhook events, a user's ledger,
the gallery; the pages and the REST API alike) pages through :func:`paginate`.

How it works:

* A list is a SELECT with a total order: the ``order`` clauses, whose last one is a unique
  column (the row id), so no two rows share a sort key.  Each sort expression must be
  NOT NULL (wrap nullable ones in ``coalesce``); directions may be mixed (``favorite desc,
  created_at desc, id desc, index asc``).
* A page is the first ``limit`` rows *after* a sort key, not after an offset: the next-page
  token carries the last row's sort key, and the next page is
  ``WHERE (k1, k2, …) comes after (v1, v2, …) ORDER BY k1, k2, … LIMIT n``, expanded into the
  lexicographic ``k1 ⋗ v1 OR (k1 = v1 AND k2 ⋗ v2) OR …`` so mixed directions work.  Rows
  inserted at the head of the list (new uploads, new ledger entries) or deleted elsewhere
  therefore never shift, repeat or skip the rows of the next page, and deep pages cost no
  more than the first (an index on the sort key is used; no OFFSET scan).
* The previous page is the same seek in the reversed order from the page's first row, read
  back in the list's order; if fewer than ``limit`` rows precede it (rows were deleted) the
  first page is shown instead.
* Tokens are URL-safe strings signed by the app's secret (itsdangerous
  ``URLSafeSerializer``, HMAC-SHA256; salt ``lashme.page.<scope>``), so they are opaque to the
  client and tamper-evident: a token that was edited, truncated, made for another list or sort
  (another ``scope``) or holds values of the wrong shape reads as "no token" — the first page,
  never an error.  Tokens do not expire (they hold only the sort key of a row the caller was
  shown).

Sources: Markus Winand, "Paging Through Results" (use-the-index-luke.com/no-offset);
itsdangerous.readthedocs.io (URLSafeSerializer).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression
from sqlmodel import Session

from lashme.ops.settings import get_settings

log = logging.getLogger(__name__)

T = TypeVar("T")
U = TypeVar("U")

#: rows per page are clamped to ``1..MAX_LIMIT``
MAX_LIMIT = 200
#: longest token accepted (a real one is < 200 characters; longer ones are not even decoded)
MAX_TOKEN_LENGTH = 1024
_NEXT, _PREV = "n", "p"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list.

    Attributes:
        items: the page's rows, in the list's order (at most the asked ``limit``).
        next_token: token of the page after this one; None on the last page.
        prev_token: token of the page before this one; None on the first page.
        has_more: another page follows (``next_token is not None``).
        total: how many rows the whole list has (only when asked for: ``count=True``), else None.
    """

    items: tuple[T, ...] = ()
    next_token: str | None = None
    prev_token: str | None = None
    has_more: bool = False
    total: int | None = None

    def map(self, fn: Callable[[T], U]) -> Page[U]:
        """The same page (tokens, count) with every item passed through ``fn`` (rows → view dataclasses)."""
        return Page(
            items=tuple(fn(item) for item in self.items),
            next_token=self.next_token,
            prev_token=self.prev_token,
            has_more=self.has_more,
            total=self.total,
        )


@dataclass(frozen=True)
class _Key:
    expr: ColumnElement
    desc: bool


def _keys(order: Sequence[Any]) -> list[_Key]:
    """``order`` clauses (``col.desc()``, ``col.asc()``; bare columns ascend) as expression + direction."""
    keys = []
    for clause in order:
        if isinstance(clause, UnaryExpression) and clause.modifier in (operators.desc_op, operators.asc_op):
            keys.append(_Key(clause.element, clause.modifier is operators.desc_op))
        else:
            keys.append(_Key(clause, False))
    if not keys:
        raise ValueError("paginate needs at least one order clause (end with a unique column)")
    return keys


def _serializer(scope: str) -> URLSafeSerializer:
    return URLSafeSerializer(
        get_settings().signing_key(),
        salt=f"lashme.page.{scope}",
        signer_kwargs={"digest_method": hashlib.sha256, "key_derivation": "hmac"},
    )


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"a sort key of type {type(value).__name__} cannot go into a page token")


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) != {"t"} or not isinstance(value["t"], str) or len(value["t"]) > 40:
            raise ValueError("bad datetime")
        return datetime.fromisoformat(value["t"])
    if value is None or isinstance(value, bool | int | float | str):
        if isinstance(value, str) and len(value) > 512:
            raise ValueError("long string")
        return value
    raise ValueError("bad value")


def encode_token(scope: str, values: Sequence[Any], direction: str = _NEXT) -> str:
    """A signed page token for the rows after (``n``) or before (``p``) the sort key ``values``.

    Args:
        scope: which list and sort the token belongs to (``admin.users``, ``gallery.newest`` …).
        values: the sort key of the anchor row (one value per order clause; datetimes, ints,
            floats, bools, strings).
        direction: ``n`` (the page after the anchor) or ``p`` (the page before it).

    Raises:
        TypeError: a value of another type.
    """
    return _serializer(scope).dumps([direction, [_encode_value(v) for v in values]])


def decode_token(scope: str, token: object, width: int) -> tuple[str, list[Any]] | None:
    """``(direction, values)`` of a token made by :func:`encode_token` for ``scope``; None when unusable.

    None for anything that is not exactly such a token: missing, empty, not a string, too long,
    a bad signature, another scope, a wrong number of values (``width``) or values of a wrong type.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        data = _serializer(scope).loads(token)
        if not (isinstance(data, list) and len(data) == 2 and data[0] in (_NEXT, _PREV)):
            raise ValueError("bad shape")
        raw = data[1]
        if not isinstance(raw, list) or len(raw) != width:
            raise ValueError("bad width")
        return data[0], [_decode_value(v) for v in raw]
    except (BadData, ValueError, TypeError, OverflowError):
        log.info("page token refused (scope %s): the first page is shown", scope)
        return None


def _after(keys: Sequence[_Key], values: Sequence[Any], *, reverse: bool) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``keys`` (before them when ``reverse``)."""
    # bound as literals of the column's type: ``col < True`` is refused by SQLAlchemy, ``col < :p`` is not
    bound = [literal(v, type_=k.expr.type) for k, v in zip(keys, values, strict=True)]
    ors = []
    for i, key in enumerate(keys):
        later = key.desc != reverse  # descending: "after" means smaller
        step = key.expr < bound[i] if later else key.expr > bound[i]
        ors.append(and_(*(k.expr == v for k, v in zip(keys[:i], bound[:i], strict=True)), step))
    return or_(*ors)


def _fits(keys: Sequence[_Key], values: Sequence[Any]) -> bool:
    """Every value has its sort expression's Python type (a token of an older sort order does not)."""
    for key, value in zip(keys, values, strict=True):
        try:
            wanted = key.expr.type.python_type
        except NotImplementedError:
            continue
        if value is None or isinstance(value, bool) != (wanted is bool) or not isinstance(value, wanted):
            return False
    return True


def clamp_limit(value: object, default: int = 25) -> int:
    """A client-sent page size as an int in ``1..MAX_LIMIT`` (garbage → ``default``)."""
    try:
        limit = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return default
    return min(max(1, limit), MAX_LIMIT)


def paginate(
    session: Session,
    stmt: Any,
    *,
    order: Sequence[Any],
    token: object,
    limit: object,
    scope: str,
    count: bool = False,
) -> Page[tuple]:
    """One page of ``stmt`` in ``order``, after (or before) the row a page token points at.

    Args:
        session: open session (the caller's transaction).
        stmt: the list's ``select(...)`` with its filters, without ORDER BY/LIMIT/OFFSET.
        order: ORDER BY clauses (``User.created_at.desc(), User.id.desc()``); NOT NULL expressions
            whose last one (with the earlier ones) is unique per row; directions may be mixed.
        token: a page token from an earlier :class:`Page` of the same ``scope``; None, "" or any
            unusable value means the first page.
        limit: rows per page (clamped to ``1..200``; garbage → 25).
        scope: name of the list *and* its sort (``gallery.favorites``): tokens only work in the
            scope they were made in.
        count: also count the whole list (``Page.total``; one more query).

    Returns:
        A :class:`Page` whose items are tuples of the statement's own columns, in the list's order.
    """
    keys = _keys(order)
    size = clamp_limit(limit)
    n_keys = len(keys)  # the key columns are added at the end of each row (an ORM entity is one item)
    decoded = decode_token(scope, token, len(keys))
    if decoded is not None and not _fits(keys, decoded[1]):
        log.info("page token refused (scope %s): its key does not fit the order", scope)
        decoded = None
    labelled = stmt.add_columns(*(k.expr.label(f"_page_key_{i}") for i, k in enumerate(keys)))
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one() if count else None

    def fetch(anchor: list[Any] | None, *, reverse: bool) -> list[tuple[tuple, list[Any]]]:
        q = labelled
        if anchor is not None:
            q = q.where(_after(keys, anchor, reverse=reverse))
        by = [k.expr.asc() if k.desc == reverse else k.expr.desc() for k in keys]
        rows = session.execute(q.order_by(*by).limit(size + 1)).all()
        return [(tuple(r[:-n_keys]), list(r[-n_keys:])) for r in rows]

    def encode(values: list[Any], direction: str) -> str:
        return encode_token(scope, values, direction)

    if decoded is not None and decoded[0] == _PREV:
        rows = fetch(decoded[1], reverse=True)
        if len(rows) >= size:
            more_before = len(rows) > size
            rows = rows[:size][::-1]
            return Page(
                items=tuple(r for r, _ in rows),
                next_token=encode(rows[-1][1], _NEXT),
                prev_token=encode(rows[0][1], _PREV) if more_before else None,
                has_more=True,
                total=total,
            )
        decoded = None  # fewer than a page before it: the first page
    anchor = decoded[1] if decoded is not None else None
    rows = fetch(anchor, reverse=False)
    has_more = len(rows) > size
    rows = rows[:size]
    prev = None
    if anchor is not None:
        prev = encode(rows[0][1], _PREV) if rows else encode(anchor, _PREV)
    return Page(
        items=tuple(r for r, _ in rows),
        next_token=encode(rows[-1][1], _NEXT) if has_more else None,
        prev_token=prev,
        has_more=has_more,
        total=total,
    )


__all__ = [
    "MAX_LIMIT",
    "Page",
    "clamp_limit",
    "decode_token",
    "encode_token",
    "paginate",
]
