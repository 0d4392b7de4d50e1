"""The app of a development runtime (`moose dev`, world `moose-dev-runtime`): the
project's modules arrive as one JSON document through `moose:app/dev-source` and are
imported from memory, so an edit does not re-snapshot the interpreter.

The document (written by `moose_guest.build --dev-source`) is
`{"entry": "app", "modules": {"app": {"path": "/abs/app.py", "source": "...",
"package": false}, ...}}`: every `.py` file of the project under its module name, a
package's `__init__.py` under the package's name. Modules outside the project come from
the runtime, which imported them while it was pre-initialised."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import sys
from types import ModuleType
from typing import Any, Optional, Sequence

from .app import App, find_app


class _ProjectModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and loads the project's modules from the document's sources."""

    def __init__(self, modules: dict[str, dict[str, Any]]) -> None:
        self._modules = modules

    def find_spec(
        self, fullname: str, path: Optional[Sequence[str]], target: Optional[ModuleType] = None
    ) -> Optional[importlib.machinery.ModuleSpec]:
        module = self._modules.get(fullname)
        if module is None:
            return None
        spec = importlib.util.spec_from_loader(fullname, self, origin=module["path"], is_package=bool(module["package"]))
        if spec is not None:
            spec.has_location = True
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        found = self._modules[module.__name__]
        code = compile(found["source"], found["path"], "exec", dont_inherit=True)
        exec(code, module.__dict__)  # noqa: S102 - the user's own module, as an import would


def load(document: str) -> App:
    """Imports the entry module of `document` (see the module's doc) and returns its app."""
    parsed = json.loads(document)
    sys.meta_path.insert(0, _ProjectModules(parsed["modules"]))
    return find_app(importlib.import_module(parsed["entry"]))
