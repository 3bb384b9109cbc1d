"""The ``dualinv`` command families, one module each; :mod:`dualinv.cli` assembles them in ``--help`` order.

Each module exposes ``register(subparsers)``. ``data``: prepare, pose; ``panohead``: panohead
render | convert; ``train``: train; ``invert``: invert; ``edit``: edit; ``evaluate``: evaluate, report.
"""
