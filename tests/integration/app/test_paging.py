"""The keyset paginator (``lashme.app.paging``): stable under inserts, every sort order, tamper-evident tokens."""

from __future__ import annotations

import base64
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from lashme.app import paging
from lashme.models import User
from lashme.ops.db import session_scope

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
#: sort orders a list may use: single key, composite newest/oldest, and favorites-first with mixed directions
ORDERS = {
    "newest": lambda: (User.created_at.desc(), User.id.desc()),
    "oldest": lambda: (User.created_at.asc(), User.id.asc()),
    "flagged_first": lambda: (User.is_blocked.desc(), User.created_at.desc(), User.id.asc()),
    "by_id": lambda: (User.id.desc(),),
}


def _key(name: str, u: User) -> tuple:
    if name == "newest":
        return (-u.created_at.timestamp(), -u.id)
    if name == "oldest":
        return (u.created_at.timestamp(), u.id)
    if name == "flagged_first":
        return (not u.is_blocked, -u.created_at.timestamp(), u.id)
    return (-u.id,)


def _add_users(n: int, *, start: int = 0, at: datetime | None = None) -> list[int]:
    """``n`` users; every third shares its created_at with the one before (ties), every fourth is blocked."""
    ids = []
    with session_scope() as s:
        for i in range(start, start + n):
            when = at or BASE + timedelta(minutes=(i // 3) * 2 + (i % 3 > 0))
            user = User(email=f"p{i}@paging.test", password_hash="x", is_blocked=i % 4 == 0, created_at=when)
            s.add(user)
            s.flush()
            ids.append(user.id)
    return ids


def _page(name: str, token: object = None, limit: object = 4) -> paging.Page:
    with session_scope() as s:
        page = paging.paginate(
            s,
            select(User.id).where(User.email.like("%@paging.test")),
            order=ORDERS[name](),
            token=token,
            limit=limit,
            scope=f"test.users.{name}",
            count=True,
        )
        return page.map(lambda row: row[0])


def _walk(name: str, limit: int = 4) -> tuple[list[int], list[paging.Page]]:
    pages = [_page(name, limit=limit)]
    while pages[-1].next_token:
        pages.append(_page(name, pages[-1].next_token, limit))
        assert len(pages) < 50
    return [i for p in pages for i in p.items], pages


def _expected(name: str) -> list[int]:
    with session_scope() as s:
        users = s.execute(select(User).where(User.email.like("%@paging.test"))).scalars().all()
        return [u.id for u in sorted(users, key=lambda u: _key(name, u))]


@pytest.mark.parametrize("name", sorted(ORDERS))
def test_every_sort_order_walks_each_row_once_and_the_last_page_has_no_next(clean_db, name):
    _add_users(11)
    ids, pages = _walk(name)
    assert ids == _expected(name) and len(ids) == 11
    assert [len(p.items) for p in pages] == [4, 4, 3]
    assert all(p.total == 11 for p in pages)
    assert pages[0].prev_token is None and all(p.prev_token for p in pages[1:])
    assert pages[-1].next_token is None and not pages[-1].has_more
    assert all(p.has_more and p.next_token for p in pages[:-1])
    # back from the last page: the same pages in reverse, the first one without a previous link
    back = [pages[-1]]
    while back[-1].prev_token:
        back.append(_page(name, back[-1].prev_token))
    assert [b.items for b in back[1:]] == [p.items for p in pages[-2::-1]]
    assert back[-1].prev_token is None


def test_an_exact_multiple_of_the_page_size_ends_without_a_next_token(clean_db):
    _add_users(8)
    ids, pages = _walk("newest")
    assert len(pages) == 2 and len(ids) == 8 and pages[-1].next_token is None


def test_rows_inserted_at_the_head_never_shift_the_next_page(clean_db):
    _add_users(10)
    first = _page("newest")
    expected_rest = _expected("newest")[4:]
    _add_users(5, start=100, at=BASE + timedelta(days=1))  # newer than everything: the head of the list
    second = _page("newest", first.next_token)
    assert list(second.items) == expected_rest[:4]
    third = _page("newest", second.next_token)
    assert list(third.items) == expected_rest[4:] and third.next_token is None
    # with offsets the second page would have repeated 4 rows of the first; going back shows the new ones
    back = _page("newest", second.prev_token)
    assert set(back.items).isdisjoint(second.items) and len(back.items) == 4


def test_deleting_the_anchor_row_keeps_the_next_page(clean_db):
    _add_users(9)
    first = _page("oldest")
    with session_scope() as s:
        s.delete(s.get(User, first.items[-1]))
    second = _page("oldest", first.next_token)
    assert list(second.items) == _expected("oldest")[3:7]


def test_previous_from_near_the_start_shows_a_full_first_page(clean_db):
    _add_users(10)
    first = _page("newest")
    with session_scope() as s:
        s.delete(s.get(User, first.items[0]))
    second = _page("newest", first.next_token)
    back = _page("newest", second.prev_token)  # only 3 rows precede now: the first page instead
    assert list(back.items) == _expected("newest")[:4] and back.prev_token is None


def _tampered(token: str) -> list[str]:
    body, _, sig = token.partition(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    forged = base64.urlsafe_b64encode(b'["n",[{"t":"2000-01-01T00:00:00+00:00"},1]]').decode().rstrip("=")
    return [
        f"{flipped}.{sig}",  # the payload edited
        f"{body}.{sig[:-2]}",  # the signature cut
        f"{forged}.{sig}",  # a payload of one's own with a stolen signature
        token + "x",
        token[: len(token) // 2],
        "",
        "not a token",
        "." * 2000,
    ]


def test_a_tampered_or_foreign_token_reads_as_the_first_page(clean_db):
    _add_users(9)
    first = _page("newest")
    assert first.next_token
    for bad in [*_tampered(first.next_token), None, 12, ["x"], {"a": 1}]:
        page = _page("newest", bad)
        assert page.items == first.items and page.prev_token is None, bad
    # a token of another list or sort is refused too (another salt), not misread
    oldest_token = _page("oldest").next_token
    assert _page("newest", oldest_token).items == first.items
    # right signature, wrong shape: refused
    assert paging.decode_token("test.users.newest", paging.encode_token("test.users.newest", [1]), 2) is None
    signer = paging._serializer("test.users.newest")  # signed with the real key: only the shape is wrong
    for shape in (["n", [{"t": "nope"}, 1]], ["x", [1, 2]], ["n", [[1], 2]], {"n": 1}, ["n", [1, 2], 3]):
        assert paging.decode_token("test.users.newest", signer.dumps(shape), 2) is None, shape
        assert _page("newest", signer.dumps(shape)).items == first.items


def test_page_size_is_clamped_and_garbage_means_the_default(clean_db):
    _add_users(30)
    assert len(_page("newest", limit=0).items) == 1
    assert len(_page("newest", limit="x").items) == 25
    assert len(_page("newest", limit=10**9).items) == 30
    assert [paging.clamp_limit(v) for v in (5, "7", None, float("inf"), -3, 10**6)] == [5, 7, 25, 25, 1, 200]


def test_ties_in_the_leading_key_are_split_by_the_id(clean_db):
    _add_users(7, at=BASE)  # all created at the same instant
    for name in ("newest", "oldest", "flagged_first"):
        ids, _ = _walk(name, limit=2)
        assert ids == _expected(name) and len(set(ids)) == 7


def test_tokens_are_url_safe_strings(clean_db):
    ids = _add_users(6)
    token = _page("by_id", limit=2).next_token
    assert token and all(c.isalnum() or c in "-_." for c in token)
    assert list(itertools.islice(_walk("by_id", 2)[0], 6)) == sorted(ids, reverse=True)


def test_a_signed_token_whose_values_do_not_fit_the_order_reads_as_the_first_page(clean_db):
    _add_users(6)
    first = _page("newest")
    stale = paging.encode_token("test.users.newest", ["2026-03-01", "7"])  # e.g. made before a sort change
    assert _page("newest", stale).items == first.items


def test_a_select_of_whole_rows_pages_like_one_of_columns(clean_db):
    ids = _add_users(7)
    seen, token = [], None
    for _ in range(10):
        with session_scope() as s:
            page = paging.paginate(
                s,
                select(User).where(User.email.like("%@paging.test")),
                order=(User.id.desc(),),
                token=token,
                limit=3,
                scope="test.users.rows",
            )
            assert all(len(item) == 1 and isinstance(item[0], User) for item in page.items)
            seen += [item[0].id for item in page.items]
        token = page.next_token
        if token is None:
            break
    assert seen == sorted(ids, reverse=True)
