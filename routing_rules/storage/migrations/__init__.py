"""Alembic migrations of the rule store, run programmatically when a store is opened."""
