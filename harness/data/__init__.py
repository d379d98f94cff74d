"""Split machinery: standardized splits, manifests and image loading (dataset plugins live in ``dg2bench.plugins``)."""
