"""Use-cases: one module per page or area, each taking a :class:`~lashme.app.caller.Caller` first.

Each use-case owns its transaction (``lashme.ops.db.session_scope``), checks ownership and
roles, and returns plain frozen view dataclasses (no ORM objects, no Reflex types; datetimes
are aware UTC, user-facing text is a catalog key the client translates).  Refusals are
:class:`lashme.errors.DomainError` subclasses with a catalog ``key`` (``NotFound`` for
missing *and* other people's objects alike, ``AuthError("auth.required")`` for a visitor
where an account is needed).  This is the only package clients (``lashme.ui``,
``lashme.api``, ``worker.py``, ``lashme.cli``) call; nothing below it imports it
(``tests/unit/test_core_boundaries.py``).

Who is calling — :mod:`lashme.app.caller`:
    ``Caller`` (user id or visitor token, roles, locale, IP);
    ``from_session_token(session, token, …)`` (pages' sign-in cookie) and
    ``from_verified_user(user_id, …)`` (a client that verified the user itself, e.g. by an API token).

Use-cases:
    - :mod:`~lashme.app.session` — ``caller_for``, ``load`` (caller + header: email, balance,
      staff flag, prices), ``set_language`` (saved on the account), ``new_visitor_token``.
    - :mod:`~lashme.app.account` — ``sign_up`` (sign-up bonus, claims the browser's visitor
      jobs), ``sign_in`` (claims them too), ``sign_out``.
    - :mod:`~lashme.app.upload` — ``submit_photo`` (hostile bytes → job), ``max_bytes``.
    - :mod:`~lashme.app.job` — ``get`` (status, queue position, variants with preview/thumb
      URLs), ``cancel``, ``retry`` (failed: free when on our side; canceled: a new job),
      ``retry_offer``, ``watch`` (async: wait for the next change).
    - :mod:`~lashme.app.variant` — ``get`` (variant page), ``unlock`` (the one place an unlock
      is priced and charged; idempotent per user and variant), ``download_link`` (``full``/``insta``).
    - :mod:`~lashme.app.gallery` — ``search`` (filters, search, sort, page), ``set_favorite``,
      ``set_note``, ``delete_variant``, ``delete_job``, ``zip_link``, ``zip_selection`` (chosen
      variants or all favourites, unlocked only).
    - :mod:`~lashme.app.dashboard` — ``load`` (recent jobs + ledger page), ``recent_jobs``.
    - :mod:`~lashme.app.credits` — ``overview`` (packs, orders, ledger page), ``balance``,
      ``history`` (ledger pages of :class:`~lashme.app.credits.LedgerRow`), ``start_checkout``,
      ``confirm_checkout``.
    - :mod:`~lashme.app.admin` — ``run(caller, service, *args)`` runs any admin service
      (``accounts``, ``users``, ``jobs``, ``job_actions``, ``presets``, ``pricing``,
      ``payments``, ``stats``, ``queue``, ``audit``) in one transaction; ``check(caller, action)``.
    - :mod:`~lashme.app.paging` — ``paginate``: the one keyset paginator of every list (opaque,
      signed page tokens; stable under inserts), used by the pages and the REST API alike.

Blocking work (storage, Stripe, providers, image decoding) happens inside the use-cases:
an async client runs them in a worker thread.
"""
