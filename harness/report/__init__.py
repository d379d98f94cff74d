"""Reports built from a results folder: figures (matplotlib) and the self-contained HTML page."""
