"""Money: the append-only credits ledger, prices and packs, Stripe Checkout orders and webhooks, unlocks.

Imports ``lashme.ops``, ``lashme.accounts`` and ``lashme.models``; never ``lashme.app`` or a client.
"""
