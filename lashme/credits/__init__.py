"""Money: the append-only credits ledger, prices and packs, Stripe Checkout orders and webhooks, unlocks.

``ledger`` is the only code that changes a balance (``ledger_check`` verifies balances against
entries); ``posting_sql`` builds a posting's one statement, ``postings`` runs it, ``detached``
makes row objects from its results without validation.

Imports ``lashme.ops``, ``lashme.accounts`` and ``lashme.models``; never ``lashme.app`` or a client.
"""
