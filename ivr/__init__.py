"""The ARI call controller, its HTTP surface, metrics and logging."""
