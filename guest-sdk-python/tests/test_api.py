"""Query APIs: declared parameters, defaults, bounds, typed rows and errors."""

import json
import unittest
from dataclasses import dataclass
from enum import Enum
from typing import Optional

import _paths

from moose_guest import App, ApiError, BadRequest, NotFound, QueryError, field
from moose_guest.defs import to_json
from moose_guest.query import clear_mock, set_mock

quickstart = _paths.load_project("quickstart_api", _paths.QUICKSTART)


class QuickstartApiTest(unittest.TestCase):
    def tearDown(self) -> None:
        clear_mock()

    def test_revenue_binds_every_value_and_returns_typed_rows(self) -> None:
        seen = {}

        def mock(text: str, params: list[tuple[str, str]]) -> bytes:
            seen["text"], seen["params"] = text, params
            return b'{"day":"2024-05-01","customer":"acme","revenue":12.345,"orders":1}\n'

        set_mock(mock)
        body = quickstart.app.handle_api("revenue", b'{"customer":"acme","from":"2024-05-01"}')
        self.assertEqual(
            seen["params"],
            [("p0", "DailyRevenue"), ("p1", "acme"), ("p2", "2024-05-01"), ("p3", "\\N"), ("p4", "100")],
        )
        self.assertIn("FROM {p0:Identifier} WHERE ({p1:Nullable(String)} IS NULL", seen["text"])
        self.assertEqual(json.loads(body), [{"day": "2024-05-01", "customer": "acme", "revenue": 12.345, "orders": 1}])

    def test_bounds_and_bad_parameters(self) -> None:
        with self.assertRaises(BadRequest):
            quickstart.app.handle_api("revenue", b'{"limit":0}')
        with self.assertRaises(BadRequest):
            quickstart.app.handle_api("revenue", b'{"limit":"many"}')
        with self.assertRaises(BadRequest):
            quickstart.app.handle_api("revenue", b'{"from":"yesterday"}')

    def test_query_errors_pass_through(self) -> None:
        def failing(text: str, params: list[tuple[str, str]]) -> bytes:
            raise QueryError("timeout")

        set_mock(failing)
        with self.assertRaises(QueryError) as raised:
            quickstart.app.handle_api("revenue", b"{}")
        self.assertEqual(raised.exception.kind, "timeout")

    def test_unknown_api(self) -> None:
        with self.assertRaises(ApiError) as raised:
            quickstart.app.handle_api("nope", b"{}")
        self.assertEqual(raised.exception.kind, "unknown-api")


class Sort(Enum):
    ASC = "asc"
    DESC = "desc"


@dataclass
class Params:
    name: str = field(doc="Who.")
    flag: bool = False
    sort: Sort = Sort.ASC
    ratio: Optional[float] = field(default=None, min=0, max=1)


@dataclass
class Row:
    name: str
    sort: Sort


def lookup(params: Params) -> list[Row]:
    """Looks someone up."""
    if params.name == "missing":
        raise NotFound("no such name")
    if params.name == "crash":
        raise RuntimeError("bug")
    return [Row(params.name, params.sort)] if params.flag else []


class DeclaredParamsTest(unittest.TestCase):
    def setUp(self) -> None:
        self.app = App()
        self.app.api("lookup", lookup, version="2")

    def test_declaration(self) -> None:
        api = to_json(self.app.describe().apis[0])
        self.assertEqual((api["name"], api["version"], api["response"], api["doc"]), ("lookup", "2", "Row", "Looks someone up."))
        params = {p["name"]: p for p in api["params"]}
        self.assertTrue(params["name"]["required"])
        self.assertEqual(params["name"]["doc"], "Who.")
        self.assertEqual((params["flag"]["required"], params["flag"]["default"]), (False, "false"))
        self.assertEqual(params["sort"]["default"], "asc")
        self.assertEqual(params["sort"]["data_type"]["leaf"], {"enum": [{"name": "asc", "value": 1}, {"name": "desc", "value": 2}]})
        self.assertEqual((params["ratio"]["data_type"]["wrappers"], params["ratio"]["min"], params["ratio"]["max"]), ([], 0.0, 1.0))

    def test_calls(self) -> None:
        body = self.app.handle_api("lookup/2", b'{"name":"x","flag":"true","sort":"desc"}')
        self.assertEqual(json.loads(body), [{"name": "x", "sort": "desc"}])
        with self.assertRaises(BadRequest):
            self.app.handle_api("lookup/2", b"{}")
        with self.assertRaises(BadRequest):
            self.app.handle_api("lookup/2", b'{"name":"x","ratio":2}')
        with self.assertRaises(NotFound):
            self.app.handle_api("lookup/2", b'{"name":"missing"}')
        with self.assertRaises(ApiError) as raised:
            self.app.handle_api("lookup/2", b'{"name":"crash"}')
        self.assertEqual((raised.exception.kind, raised.exception.message), ("failed", "RuntimeError: bug"))

    def test_declaration_mistakes(self) -> None:
        with self.assertRaises(ValueError):
            self.app.api("lookup", lookup, version="2")
        app = App()
        app.stream("S", Row)
        with self.assertRaises(ValueError):
            app.stream("S", Row)


if __name__ == "__main__":
    unittest.main()
