"""Versioned rule storage: immutable versions, atomic activation, history and rollback."""
