"""The SQL builder: values and identifiers are bound as parameters, never spliced."""

import unittest
from datetime import date, datetime, timezone
from decimal import Decimal
from enum import Enum
from uuid import UUID

import _paths  # noqa: F401

from moose_guest import Identifier, Query, QueryError, sql
from moose_guest.query import clear_mock, set_mock, to_query_text


class Tier(Enum):
    SMALL = "small"


class SqlTest(unittest.TestCase):
    def test_values_become_typed_parameters(self) -> None:
        q = sql(
            "SELECT * FROM {table} WHERE customer = {customer} AND n > {n} AND day >= {day} LIMIT {limit:UInt32}",
            table=Identifier("DailyRevenue"),
            customer="acme",
            n=3,
            day=date(2024, 5, 1),
            limit=100,
        )
        self.assertEqual(
            q.text,
            "SELECT * FROM {p0:Identifier} WHERE customer = {p1:String} AND n > {p2:Int64} "
            "AND day >= {p3:Date} LIMIT {p4:UInt32}",
        )
        self.assertEqual(q.params, [("p0", "DailyRevenue"), ("p1", "acme"), ("p2", "3"), ("p3", "2024-05-01"), ("p4", "100")])

    def test_injection_attempt_stays_a_bound_value(self) -> None:
        attack = "x' OR 1=1; DROP TABLE t; --\n{p0:String}"
        q = sql("SELECT 1 FROM t WHERE c = {c}", c=attack)
        self.assertEqual(q.text, "SELECT 1 FROM t WHERE c = {p0:String}")
        self.assertEqual(q.params, [("p0", "x' OR 1=1; DROP TABLE t; --\\n{p0:String}")])
        table = sql("SELECT 1 FROM {t}", t=Identifier("t; DROP TABLE x"))
        self.assertEqual(table.text, "SELECT 1 FROM {p0:Identifier}")

    def test_reused_names_share_a_parameter_and_braces_escape(self) -> None:
        q = sql("SELECT {{}} WHERE ({c:Nullable(String)} IS NULL OR c = {c:Nullable(String)})", c=None)
        self.assertEqual(q.text, "SELECT {} WHERE ({p0:Nullable(String)} IS NULL OR c = {p0:Nullable(String)})")
        self.assertEqual(q.params, [("p0", "\\N")])

    def test_inferred_types(self) -> None:
        cases = [
            (True, "Bool", "true"),
            (2**63, "UInt64", "9223372036854775808"),
            (-(2**63), "Int64", "-9223372036854775808"),
            (1.5, "Float64", "1.5"),
            (Decimal("12.340"), "Decimal(5, 3)", "12.340"),
            (datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=timezone.utc), "DateTime64(6, 'UTC')", "2024-05-01 12:00:00.123"),
            (UUID("550e8400-e29b-41d4-a716-446655440000"), "UUID", "550e8400-e29b-41d4-a716-446655440000"),
            (Tier.SMALL, "String", "small"),
        ]
        for value, type_name, text in cases:
            with self.subTest(value=value):
                q = sql("SELECT {v}", v=value)
                self.assertEqual((q.text, q.params), (f"SELECT {{p0:{type_name}}}", [("p0", text)]))

    def test_mistakes_are_errors(self) -> None:
        with self.assertRaises(TypeError):
            sql("SELECT {v}", v=None)
        with self.assertRaises(KeyError):
            sql("SELECT {v}")
        with self.assertRaises(KeyError):
            sql("SELECT 1", v=1)
        with self.assertRaises(ValueError):
            sql("SELECT {v.x}", v=1)

    def test_escaped_text_form_matches_the_rust_sdk(self) -> None:
        self.assertEqual(to_query_text("a\\b\tc\nd\re\0f'g"), "a\\\\b\\tc\\nd\\re\\0f'g")
        self.assertEqual(to_query_text(None), "\\N")
        self.assertEqual(to_query_text(datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)), "2024-05-01 12:00:00")

    def test_query_binds_hand_written_placeholders(self) -> None:
        q = Query("SELECT {a:String}, {b:Int32}").bind("a", "x").bind("b", 1).bind("a", "y")
        self.assertEqual(q.params, [("b", "1"), ("a", "y")])

    def test_without_a_host_queries_fail_or_use_the_mock(self) -> None:
        with self.assertRaises(QueryError) as raised:
            sql("SELECT 1").fetch_json_lines()
        self.assertEqual(raised.exception.kind, "unavailable")
        set_mock(lambda text, params: b'{"x":1}\n')
        try:
            self.assertEqual(sql("SELECT 1").fetch_json_lines(), b'{"x":1}\n')
        finally:
            clear_mock()


if __name__ == "__main__":
    unittest.main()
