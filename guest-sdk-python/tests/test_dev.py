"""The development build: the project's modules, packages included, are imported from
the document `moose_guest.build.dev_source` writes, as the development runtime does."""

import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

import _paths  # noqa: F401

from moose_guest import _dev
from moose_guest.build import dev_source
from moose_guest.defs import to_json


class DevSourceTest(unittest.TestCase):
    def test_the_project_imports_from_the_document_alone(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            project = Path(tmp)
            (project / "devpkg").mkdir()
            (project / "devpkg" / "__init__.py").write_text("from .models import Reading\n")
            (project / "devpkg" / "models.py").write_text(
                textwrap.dedent(
                    """
                    from dataclasses import dataclass
                    from moose_guest import Key

                    @dataclass
                    class Reading:
                        id: Key[str]
                        value: float
                    """
                )
            )
            (project / "devapp.py").write_text(
                textwrap.dedent(
                    """
                    from moose_guest import App
                    from devpkg import Reading

                    app = App()
                    app.ingest_pipeline("Reading", Reading)
                    """
                )
            )
            (project / "tests").mkdir()
            (project / "tests" / "test_x.py").write_text("raise SystemExit('tests are not app modules')\n")
            document = dev_source(project, "devapp")
        # The files are gone: only the document holds the project.
        try:
            described = to_json(_dev.load(document).describe())
            self.assertEqual([m["name"] for m in described["models"]], ["Reading"])
            self.assertEqual(sys.modules["devpkg.models"].__file__, str(project / "devpkg" / "models.py"))
            self.assertTrue(hasattr(sys.modules["devpkg"], "__path__"), "devpkg is a package")
        finally:
            for name in ("devapp", "devpkg", "devpkg.models"):
                sys.modules.pop(name, None)


if __name__ == "__main__":
    unittest.main()
