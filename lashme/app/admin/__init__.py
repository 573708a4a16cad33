"""Admin services: every function takes the acting user's id and refuses non-admins.

Each public function here starts with :func:`lashme.app.admin.guard.require_admin`
(reading roles from the database, never from the caller) and writes an
:class:`lashme.models.AdminAction` audit row in the same transaction as any
change it makes.  The Reflex admin pages (``lashme.ui.admin``) are a thin
layer over these modules.
"""
