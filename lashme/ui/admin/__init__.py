"""Admin pages under ``/admin``: a thin Reflex layer over ``lashme.app.admin`` services.

Every page state derives from :class:`lashme.ui.admin.state.AdminState`; every
event handler passes the caller's id from the server-side sign-in session to
a service function, which checks the role in the database before doing anything.
A paged list (users, audit log, jobs) mixes in :class:`lashme.ui.admin.paged.AdminPagerMixin`.
"""
