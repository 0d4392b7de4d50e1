"""`process` semantics: filter, fan-out, errors, and the round trip of every type."""

import json
import unittest
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from ipaddress import IPv6Address
from typing import Annotated, Optional

import _paths

from moose_guest import App, UInt64, decimal
from moose_guest.process import GuestError

quickstart = _paths.load_project("quickstart_app", _paths.QUICKSTART)
conformance = _paths.load_project("conformance_app", _paths.CONFORMANCE)


def run(app: App, function: str, records: list[object]):  # type: ignore[no-untyped-def]
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    return app.process(function, "\n".join(lines).encode(), len(lines))


def output(result) -> list[dict]:  # type: ignore[no-untyped-def]
    return [json.loads(line) for line in result.output.lines()]


class QuickstartProcessTest(unittest.TestCase):
    def test_enrich_drops_invalid_and_derives_fields(self) -> None:
        result = run(
            quickstart.app,
            "enrich_order",
            [
                '{"id":"1","customer":"acme","amount":12.345,"ts":"2024-05-01T23:30:00Z"}',
                '{"id":"2","customer":"   ","amount":10,"ts":"2024-05-01T12:00:00Z"}',
                '{"id":"3","customer":"acme","amount":0,"ts":"2024-05-01T12:00:00Z"}',
                '{"id":"4","customer":"beta","amount":999.99,"ts":"2024-05-02T00:00:00+02:00"}',
                '{"id":"5","customer":"beta","amount":1000,"ts":"2024-05-02T10:00:00Z"}',
                '{"id":"6","customer":"beta"}',
            ],
        )
        self.assertEqual(result.sources, [0, 3, 4])
        # Byte for byte what the Rust quickstart writes.
        self.assertEqual(
            result.output.lines(),
            [
                '{"id":"1","customer":"acme","amount":12.345,"amount_cents":1235,"tier":"small","day":"2024-05-01","ts":"2024-05-01T23:30:00Z"}',
                '{"id":"4","customer":"beta","amount":999.99,"amount_cents":99999,"tier":"medium","day":"2024-05-01","ts":"2024-05-01T22:00:00Z"}',
                '{"id":"5","customer":"beta","amount":1000.0,"amount_cents":100000,"tier":"large","day":"2024-05-02","ts":"2024-05-02T10:00:00Z"}',
            ],
        )
        self.assertEqual([(e.index, e.message) for e in result.errors], [(5, "invalid input record: missing field `amount`")])

    def test_rounding_is_half_away_from_zero(self) -> None:
        self.assertEqual(quickstart.round_half_away_from_zero(0.5), 1)
        self.assertEqual(quickstart.round_half_away_from_zero(2.5), 3)
        self.assertEqual(quickstart.round_half_away_from_zero(-2.5), -3)
        self.assertEqual(quickstart.round_half_away_from_zero(1234.4), 1234)


class ConformanceCasesTest(unittest.TestCase):
    """The shared conformance cases, run natively through the Python conformance app."""

    def test_cases(self) -> None:
        suite = json.loads((_paths.REPO / "tests" / "conformance" / "cases.json").read_text())
        for case in suite["cases"]:
            with self.subTest(case=case["name"]):
                large = case.get("large_string")
                if large:
                    text = "ab€😀" * (large["bytes"] // 9 + 1)
                    for record in case["input"] + case["output"]:
                        record[large["field"]] = text
                result = run(conformance.app, case["function"], case["input"])
                got = output(result)
                self.assertEqual(len(got), len(case["output"]))
                for actual, expected in zip(got, case["output"]):
                    self.assertEqual(normalize(actual), normalize(expected))
                self.assertEqual(result.sources, case["sources"])
                self.assertEqual([e.index for e in result.errors], [e["index"] for e in case["errors"]])
                for error, expected in zip(result.errors, case["errors"]):
                    self.assertIn(expected.get("message_contains") or "", error.message)


def normalize(record: dict) -> dict:
    out = dict(record)
    out["dec"] = Decimal(str(record["dec"])).normalize()
    for name in ("dt", "dt64"):
        out[name] = datetime.fromisoformat(record[name]).timestamp()
    # Integers may be written as strings of digits; points are tuples or lists.
    out["i128"], out["u256"] = int(record["i128"]), int(record["u256"])
    out["pt"] = list(record["pt"])
    out["poly"] = [[list(p) for p in ring] for ring in record["poly"]]
    out["v6"] = str(IPv6Address(record["v6"]))
    return out


@dataclass
class Money:
    id: str
    big: UInt64
    amount: Annotated[Decimal, decimal(10, 2)]
    at: datetime
    note: Optional[str] = None


class ValuesTest(unittest.TestCase):
    def setUp(self) -> None:
        self.app = App()
        source = self.app.stream("Money", Money)
        out = self.app.stream("MoneyOut", Money)
        self.app.transform("identity", source, out, lambda m: m)
        self.app.transform("pair", source, out, lambda m: [m, m])
        self.app.transform("wrong", source, out, lambda m: "not a record")
        self.app.consumer("sink", source, lambda m: None)

    def test_64_bit_decimal_and_date_time_values(self) -> None:
        record = {"id": "a", "big": 18446744073709551615, "amount": "0.125", "at": "2024-05-01T12:00:00.5+02:00"}
        result = run(self.app, "identity", [record])
        self.assertEqual(
            output(result),
            [{"id": "a", "big": 18446744073709551615, "amount": "0.13", "at": "2024-05-01T10:00:00.500Z", "note": None}],
        )
        parsed = self.app._function_impls["identity"].source.parse(record)
        self.assertEqual(parsed.at, datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=timezone.utc))
        self.assertEqual(parsed.amount, Decimal("0.13"))

    def test_out_of_range_and_overflow_are_record_errors(self) -> None:
        result = run(
            self.app,
            "identity",
            [
                {"id": "a", "big": -1, "amount": "1", "at": "2024-05-01T12:00:00Z"},
                {"id": "b", "big": 1, "amount": "123456789.00", "at": "2024-05-01T12:00:00Z"},
                {"id": "c", "big": 1, "amount": 1.5, "at": "2024-05-01T12:00:00Z"},
                "{not json",
            ],
        )
        self.assertEqual(result.sources, [2])
        self.assertEqual([e.index for e in result.errors], [0, 1, 3])
        self.assertIn("field `big`", result.errors[0].message)
        self.assertIn("does not fit Decimal(10, 2)", result.errors[1].message)
        self.assertIn("invalid input record", result.errors[2].message)

    def test_fan_out_consumer_and_wrong_result(self) -> None:
        record = {"id": "a", "big": 1, "amount": "1", "at": "2024-05-01T12:00:00Z"}
        self.assertEqual(run(self.app, "pair", [record, record]).sources, [0, 0, 1, 1])
        sink = run(self.app, "sink", [record])
        self.assertEqual((sink.output.count, sink.errors), (0, []))
        wrong = run(self.app, "wrong", [record])
        self.assertEqual(wrong.output.count, 0)
        self.assertIn("expected Money", wrong.errors[0].message)

    def test_batch_errors(self) -> None:
        with self.assertRaises(GuestError) as raised:
            self.app.process("nope", b"", 0)
        self.assertEqual(raised.exception.kind, "unknown-function")
        with self.assertRaises(GuestError):
            self.app.process("identity", b'{"id":"a"}\n{"id":"b"}', 3)
        self.assertEqual(self.app.process("identity", b"", 0).output.count, 0)


if __name__ == "__main__":
    unittest.main()
