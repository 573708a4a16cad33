"""People: users, password hashing, sign-in sessions, staff roles, throttles and daily free limits.

Imports ``lashme.ops`` and ``lashme.models``; never ``lashme.app`` or a client (``ui``, ``api``).
"""
