"""Alembic migrations of the case store, run by :func:`casework.store.open_store` at start-up."""
