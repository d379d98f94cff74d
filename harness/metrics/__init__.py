"""Image-quality and classification metrics, one metric per module."""
