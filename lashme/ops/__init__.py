"""Operations: settings, database, logging, mail, health probes, launcher, private Redis, HTTP hardening.

Settings (:mod:`~lashme.ops.settings`), the database engine and sessions (:mod:`~lashme.ops.db`),
logging, mail, the health probes, the launcher, the private Redis server, and the backend's HTTP
hardening (:mod:`lashme.ops.http`).

The bottom layer: its modules import no other ``lashme`` package (but ``lashme.models`` for table
metadata), except the two that sit around the whole app: :mod:`lashme.ops.health` (probes the
storage and the queue) and :mod:`lashme.ops.http.guard` (says its refusals in the visitor's
language, :mod:`lashme.i18n`, and throttles uploads, :mod:`lashme.accounts.throttle`).
"""
