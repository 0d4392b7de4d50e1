"""Puts the SDK sources and the example projects on `sys.path` for the tests."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SDK_SRC = REPO / "guest-sdk-python" / "src"
QUICKSTART = REPO / "examples" / "quickstart-python"
CONFORMANCE = REPO / "tests" / "guests" / "conformance-py"

if str(SDK_SRC) not in sys.path:
    sys.path.insert(0, str(SDK_SRC))


def load_project(name: str, directory: Path):  # type: ignore[no-untyped-def]
    """Imports `directory/app.py` as module `name`, with `directory` on the module path
    (as the build has it), so the app's sibling modules import."""
    import importlib.util

    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))

    spec = importlib.util.spec_from_file_location(name, directory / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
