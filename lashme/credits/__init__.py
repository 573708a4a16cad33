"""Money: the append-only credits ledger, prices and packs, Stripe Checkout orders and webhooks, unlocks.

``ledger`` is the only code that changes a balance; ``postings`` holds its one-statement SQL.

Imports ``lashme.ops``, ``lashme.accounts`` and ``lashme.models``; never ``lashme.app`` or a client.
"""
