"""Extensions that close moto's gaps (DESIGN.md section 4).

Each module in this package has an ``install()`` function that patches moto or registers control
routes; it must be idempotent. :func:`install_all` imports and installs them all, in name order,
before the server takes its first request.
"""

from __future__ import annotations

import importlib
import pkgutil

_installed = False


def install_all() -> list[str]:
    """Install every extension once; returns the names of the installed modules."""
    global _installed
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    if _installed:
        return names
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        module.install()
    _installed = True
    return names
