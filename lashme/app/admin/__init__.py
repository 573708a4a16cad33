"""Admin services: every function takes the acting user's id and refuses non-admins.

Each public function in the submodules starts with :func:`lashme.app.admin.guard.require_admin`
(reading roles from the database, never from the caller) and writes an
:class:`lashme.models.AdminAction` audit row in the same transaction as any
change it makes.

Clients call them through :func:`run` (one transaction per call, the acting
user taken from the :class:`~lashme.app.caller.Caller`) and check the role for
a page with :func:`check`.  The Reflex admin pages (``lashme.ui.admin``) and the
REST API are thin layers over these.  The constants below are what the pages'
filters and forms offer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from lashme.accounts.roles import STAFF_ROLES
from lashme.app.admin.guard import Admin, AdminRequired, require_admin
from lashme.app.caller import Caller
from lashme.credits.pricing import PRICE_KEYS as _PRICE_KEYS
from lashme.models import JobStatus, Role, utcnow
from lashme.ops.db import session_scope
from lashme.providers.registry import PROVIDERS

T = TypeVar("T")

#: job statuses the jobs page filters by
JOB_STATUSES: tuple[str, ...] = tuple(s.value for s in JobStatus)
#: roles a super admin may grant
ROLE_NAMES: tuple[str, ...] = tuple(r.value for r in Role)
#: staff role names
STAFF_ROLE_NAMES: frozenset[str] = frozenset(str(r) for r in STAFF_ROLES)
#: price/limit keys in display order
PRICE_KEYS: tuple[str, ...] = tuple(_PRICE_KEYS)

__all__ = [
    "JOB_STATUSES",
    "PRICE_KEYS",
    "PROVIDERS",
    "ROLE_NAMES",
    "STAFF_ROLE_NAMES",
    "Admin",
    "AdminRequired",
    "check",
    "now",
    "run",
]


def run(caller: Caller, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run the admin service ``fn(session, caller.user_id, *args, **kwargs)`` in one transaction.

    The service checks the role itself (in this transaction), so a refused call changes nothing.

    Raises:
        AdminRequired: the caller is not an admin (or not a super admin where one is needed).
        DomainError: whatever ``fn`` refused.
    """
    with session_scope() as s:
        return fn(s, caller.user_id, *args, **kwargs)


def check(caller: Caller, action: str) -> Admin:
    """The acting admin when the caller is staff now (roles re-read from the database).

    Args:
        caller: who asks.
        action: what they are about to do (logged with a refusal), e.g. ``"open /admin/users"``.

    Raises:
        AdminRequired: visitor, blocked user or no staff role (an ``admin.denied`` line is logged).
    """
    with session_scope() as s:
        return require_admin(s, caller.user_id, action=action)


def now() -> datetime:
    """The current time (aware UTC), as the admin services stamp it."""
    return utcnow()
