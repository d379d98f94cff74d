"""Built-in generators plugins."""
