"""User errors are reported as `path:line: error: message` before componentize-py runs."""

import os
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

import _paths

from moose_guest.build import BuildFailure, check_syntax, entry_module


def project(directory: Path, source: str, entry: str = "app") -> Path:
    (directory / "pyproject.toml").write_text(f'[project]\nname = "p"\n[tool.moose]\nentry = "{entry}"\n')
    (directory / f"{entry}.py").write_text(textwrap.dedent(source))
    return directory


def check(directory: Path) -> str:
    """Runs the build's app check on `directory`; its stderr."""
    env = dict(os.environ, PYTHONPATH=str(_paths.SDK_SRC), PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(
        [sys.executable, "-m", "moose_guest.build", "--check-only", "--wit", "wit", "--out", "x.wasm", str(directory)],
        capture_output=True,
        text=True,
        env=env,
    )
    return result.stderr.strip() if result.returncode else ""


class BuildErrorsTest(unittest.TestCase):
    def setUp(self) -> None:
        temporary = tempfile.TemporaryDirectory()
        self.addCleanup(temporary.cleanup)
        self.dir = Path(temporary.name)

    def test_syntax_error(self) -> None:
        project(self.dir, "x = (\n")
        with self.assertRaises(BuildFailure) as raised:
            check_syntax(self.dir)
        self.assertRegex(str(raised.exception), rf"^{self.dir}/app.py:1: error: ")

    def test_entry_module_from_pyproject(self) -> None:
        project(self.dir, "x = 1\n", entry="main")
        self.assertEqual(entry_module(self.dir), ("main", self.dir / "main.py"))

    def test_declaration_error_names_the_line(self) -> None:
        project(
            self.dir,
            """\
            from dataclasses import dataclass
            from moose_guest import App

            @dataclass
            class A:
                id: str

            app = App()
            app.stream("S", A)
            app.stream("S", A)
            """,
        )
        self.assertEqual(check(self.dir), f"{self.dir}/app.py:10: error: DeclarationError: two streams are named `S`")

    def test_unsupported_annotation_names_the_field(self) -> None:
        project(
            self.dir,
            """\
            from dataclasses import dataclass
            from moose_guest import App

            @dataclass
            class A:
                id: str
                raw: bytes

            app = App()
            app.stream("S", A)
            """,
        )
        self.assertEqual(check(self.dir), f"{self.dir}/app.py:7: error: SchemaError: A.raw: bytes has no column type")

    def test_missing_app(self) -> None:
        project(self.dir, "x = 1\n")
        self.assertIn("defines no moose_guest.App", check(self.dir))

    def test_valid_project(self) -> None:
        self.assertEqual(check(_paths.QUICKSTART), "")


if __name__ == "__main__":
    unittest.main()
