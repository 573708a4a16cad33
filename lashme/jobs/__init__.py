"""Generation jobs: lifecycle and events, uploads, the RQ queue and tasks, generation, sweeper.

Holds ``lifecycle`` (statuses, transitions, the event trail), ``uploads``, ``queue``, ``tasks``,
``generation`` (the worker's step), ``provider_runs``, ``cancel``, ``sweeper`` and ``retention``.
Imports the domain packages below it (ops, accounts, credits, images, providers, files); never
``lashme.app`` or a client.
"""
