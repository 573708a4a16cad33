"""Use-cases: one module per page or area, each taking a ``Caller``.

Each use-case owns its transaction, checks ownership and roles, and returns plain view dataclasses.
The only package clients (``lashme.ui``, ``lashme.api``, ``worker.py``, ``lashme.cli``) call; nothing
below it imports it.
"""
