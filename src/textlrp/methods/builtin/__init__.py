"""Built-in explanation methods: every module in this package registers one or more methods.

Adding a method is adding a module here that calls :func:`textlrp.methods.base.register`; the
API, the CLI and the experiments find it through the registry.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
