"""Small query helpers for assertions."""

from sqlalchemy import func, select


def count(session, model, *where) -> int:
    """Number of ``model`` rows matching ``where``."""
    return session.scalar(select(func.count()).select_from(model).where(*where))
