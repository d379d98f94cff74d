"""Built-in dg2bench plugins, installed as ``dg2bench.plugins``.

They register through the ``dg2bench`` entry-point group exactly as a third-party
package would, and import only dg2bench's public API.
"""
