"""Generation jobs: lifecycle and events, uploads, the RQ queue and tasks, generation, sweeper.

Holds ``lifecycle`` (statuses, transitions, the event trail), ``uploads``, ``queue``, ``tasks``,
``generation`` (the worker's step), ``provider_runs``, ``cancel``, ``sweeper``, ``retention`` and
``deletion`` (the one delete-job path: files first, then rows; the ledger stays).
Imports the domain packages below it (ops, accounts, credits, images, providers, files); never
``lashme.app`` or a client.
"""
