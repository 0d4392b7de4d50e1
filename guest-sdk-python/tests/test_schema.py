"""Annotation -> column type mapping, for every type."""

import unittest
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum, IntEnum
from typing import Annotated, Any, Optional
from uuid import UUID

import _paths  # noqa: F401

from ipaddress import IPv4Address, IPv6Address

from moose_guest import (
    AggregateState,
    DateTime64,
    FixedString,
    Int128,
    Int256,
    LineString,
    MultiLineString,
    MultiPolygon,
    Point,
    Polygon,
    Ring,
    UInt128,
    UInt256,
    Float32,
    Float64,
    Int8,
    Int16,
    Int32,
    Int64,
    Json,
    Key,
    LowCardinality,
    SchemaError,
    SimpleAggregate,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    datetime64,
    decimal,
    field,
    model,
)
from moose_guest.defs import to_json
from moose_guest.schema import model_info, type_info
from moose_guest.types import int8, uint64


class Color(Enum):
    RED = "red"
    GREEN = "green"


class Level(IntEnum):
    LOW = 10
    HIGH = 20


@dataclass
class Address:
    street: str


def leaf(tp: Any) -> Any:
    return to_json(type_info(tp).data_type)


class TypeMappingTest(unittest.TestCase):
    def test_scalars(self) -> None:
        cases = {
            str: "string",
            LowCardinality[str]: "low-cardinality-string",
            int: "int64",
            Int8: "int8",
            Int16: "int16",
            Int32: "int32",
            Int64: "int64",
            UInt8: "uint8",
            UInt16: "uint16",
            UInt32: "uint32",
            UInt64: "uint64",
            Int128: "int128",
            Int256: "int256",
            UInt128: "uint128",
            UInt256: "uint256",
            IPv4Address: "ipv4",
            IPv6Address: "ipv6",
            Annotated[int, int8]: "int8",
            Annotated[int, uint64]: "uint64",
            float: "float64",
            Float64: "float64",
            Float32: "float32",
            bool: "boolean",
            date: "date",
            datetime: "date-time",
            UUID: "uuid",
            Json: "json",
            Any: "json",
        }
        for tp, expected in cases.items():
            with self.subTest(tp=tp):
                self.assertEqual(leaf(tp), {"wrappers": [], "leaf": expected})

    def test_parameterized_leaves(self) -> None:
        self.assertEqual(leaf(Annotated[Decimal, decimal(18, 4)])["leaf"], {"decimal": [18, 4]})
        self.assertEqual(leaf(DateTime64[3])["leaf"], {"date-time64": 3})
        self.assertEqual(leaf(Annotated[datetime, datetime64(6)])["leaf"], {"date-time64": 6})
        self.assertEqual(
            leaf(Color)["leaf"], {"enum": [{"name": "red", "value": 1}, {"name": "green", "value": 2}]}
        )
        self.assertEqual(
            leaf(Level)["leaf"], {"enum": [{"name": "LOW", "value": 10}, {"name": "HIGH", "value": 20}]}
        )
        self.assertEqual(leaf(Address)["leaf"], {"nested": "Address"})
        self.assertEqual(leaf(FixedString[3])["leaf"], {"fixed-string": 3})
        geo = {Point: "point", Ring: "ring", LineString: "line-string", MultiLineString: "multi-line-string", Polygon: "polygon", MultiPolygon: "multi-polygon"}
        for tp, shape in geo.items():
            with self.subTest(tp=tp):
                self.assertEqual(leaf(tp), {"wrappers": [], "leaf": {"geo": shape}})
        self.assertEqual(leaf(Optional[list[Point]]), {"wrappers": ["nullable", "array"], "leaf": {"geo": "point"}})

    def test_wide_integers_fixed_strings_addresses_and_geo_values(self) -> None:
        parse = lambda tp, v: type_info(tp).parse(v)  # noqa: E731
        self.assertEqual(parse(Int128, "-170141183460469231731687303715884105728"), -(2**127))
        self.assertEqual(parse(UInt256, 2**256 - 1), 2**256 - 1)
        self.assertEqual(parse(Int64, "42"), 42)
        with self.assertRaisesRegex(ValueError, "out of range for UInt128"):
            parse(UInt128, -1)
        with self.assertRaisesRegex(ValueError, "out of range for Int128"):
            parse(Int128, str(2**127))
        self.assertEqual(parse(FixedString[3], "NOK"), "NOK")
        with self.assertRaisesRegex(ValueError, "'NØK' is 4 bytes long; FixedString\\(3\\) holds at most 3"):
            parse(FixedString[3], "NØK")
        self.assertEqual(parse(IPv4Address, "10.0.0.1"), IPv4Address("10.0.0.1"))
        self.assertEqual(parse(IPv6Address, "::ffff:10.0.0.1"), IPv6Address("::ffff:10.0.0.1"))
        with self.assertRaisesRegex(ValueError, "expected an IPv6 address"):
            parse(IPv6Address, "10.0.0.1")
        with self.assertRaisesRegex(ValueError, "expected an IPv4 address"):
            parse(IPv4Address, "10.0.0.256")
        self.assertEqual(type_info(IPv6Address).dump(IPv6Address("2001:db8::1")), "2001:db8::1")
        self.assertEqual(parse(Point, [1, 2.5]), (1.0, 2.5))
        self.assertEqual(parse(Polygon, [[[0, 0], [1, 0], [0, 0]]]), [[(0.0, 0.0), (1.0, 0.0), (0.0, 0.0)]])
        with self.assertRaisesRegex(ValueError, "expected a point"):
            parse(Point, [1, 2, 3])
        with self.assertRaisesRegex(ValueError, "expected multi-polygon"):
            parse(MultiPolygon, [[0, 0]])
        with self.assertRaises(SchemaError):
            type_info(Annotated[int, FixedString[3].__metadata__[0]])

    def test_wrappers_outermost_first(self) -> None:
        self.assertEqual(leaf(Optional[int]), {"wrappers": ["nullable"], "leaf": "int64"})
        self.assertEqual(leaf(int | None), {"wrappers": ["nullable"], "leaf": "int64"})
        self.assertEqual(leaf(list[Optional[str]]), {"wrappers": ["array", "nullable"], "leaf": "string"})
        self.assertEqual(leaf(dict[str, list[UInt8]]), {"wrappers": ["map", "array"], "leaf": "uint8"})
        self.assertEqual(
            leaf(Optional[LowCardinality[str]]), {"wrappers": ["nullable"], "leaf": "low-cardinality-string"}
        )
        self.assertEqual(leaf(list[Address]), {"wrappers": ["array"], "leaf": {"nested": "Address"}})

    def test_key_marker(self) -> None:
        self.assertTrue(type_info(Key[str]).key)
        self.assertEqual(leaf(Key[UInt64])["leaf"], "uint64")

    def test_unsupported_annotations(self) -> None:
        for tp in (bytes, Decimal, dict[int, str], Optional[int | str], LowCardinality[int], tuple[int, int]):
            with self.subTest(tp=tp):
                with self.assertRaises(SchemaError):
                    type_info(tp)

    def test_model_fields_docs_defaults_and_names(self) -> None:
        @model(name="Renamed", version="1.1")
        @dataclass
        class Doc:
            """A documented model."""

            id: Key[str]
            created: datetime = field(clickhouse_default="now()", doc="When it was created.")
            from_: Optional[str] = field(default=None, name="from")

        info = model_info(Doc)
        self.assertEqual(info.reference, "Renamed@1.1")
        definition = to_json(info.model_def())
        self.assertEqual(definition["doc"], "A documented model.")
        self.assertEqual(
            definition["fields"][1],
            {
                "name": "created",
                "data_type": {"wrappers": [], "leaf": "date-time"},
                "key": False,
                "default": "now()",
                "doc": "When it was created.",
                "aggregate": None,
                "codec": None,
                "ttl": None,
            },
        )
        self.assertEqual(definition["fields"][2]["name"], "from")

    def test_aggregate_columns(self) -> None:
        @dataclass
        class DailyUsers:
            day: Key[date]
            users: Annotated[UInt64, AggregateState("uniq", str)]
            quantiles: Annotated[list[float], AggregateState("quantiles(0.5, 0.9)", Float32)]
            last_seen: Annotated[datetime, SimpleAggregate("max")]

        fields = to_json(model_info(DailyUsers).model_def())["fields"]
        self.assertEqual(
            [(f["name"], f["data_type"], f["aggregate"]) for f in fields],
            [
                ("day", {"wrappers": [], "leaf": "date"}, None),
                (
                    "users",
                    {"wrappers": [], "leaf": "uint64"},
                    {"function": "uniq", "state_of": [{"wrappers": [], "leaf": "string"}]},
                ),
                (
                    "quantiles",
                    {"wrappers": ["array"], "leaf": "float64"},
                    {"function": "quantiles(0.5, 0.9)", "state_of": [{"wrappers": [], "leaf": "float32"}]},
                ),
                ("last_seen", {"wrappers": [], "leaf": "date-time"}, {"function": "max", "state_of": None}),
            ],
        )

    def test_aggregate_state_arguments_need_column_types(self) -> None:
        with self.assertRaisesRegex(SchemaError, r"AggregateState\('uniq', bytes\): argument bytes"):
            type_info(Annotated[UInt64, AggregateState("uniq", bytes)])

    def test_dataclass_without_docstring_has_no_doc(self) -> None:
        @dataclass
        class Plain:
            id: str

        self.assertIsNone(model_info(Plain).doc)

    def test_plain_annotated_class(self) -> None:
        class Typed:
            id: Key[str]
            n: int = 3

        info = model_info(Typed)
        record = info.parse({"id": "a"})
        self.assertEqual((record.id, record.n), ("a", 3))
        self.assertEqual(info.dump(record), {"id": "a", "n": 3})


if __name__ == "__main__":
    unittest.main()
