"""The result store: atomic files, the lock, resumable cell records."""
