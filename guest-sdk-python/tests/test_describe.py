"""The quickstart's describe output: the same app definition as the Rust quickstart."""

import unittest

import _paths

from moose_guest.defs import to_json

quickstart = _paths.load_project("quickstart_describe", _paths.QUICKSTART)


def scalar(leaf: object, *wrappers: str) -> dict:
    return {"wrappers": list(wrappers), "leaf": leaf}


def column(name: str, leaf: object, key: bool = False) -> dict:
    return {
        "name": name,
        "data_type": scalar(leaf),
        "key": key,
        "default": None,
        "aggregate": None,
        "codec": None,
        "ttl": None,
    }


def without_docs(value: object) -> object:
    if isinstance(value, dict):
        return {k: without_docs(v) for k, v in value.items() if k != "doc"}
    if isinstance(value, list):
        return [without_docs(v) for v in value]
    return value


NO_OPTIONS = {
    "partition_by": None,
    "primary_key": [],
    "sample_by": None,
    "ttl": None,
    "settings": [],
    "indexes": [],
    "projections": [],
    "computed": [],
    "externally_managed": False,
}

TIER = {"enum": [{"name": "small", "value": 1}, {"name": "medium", "value": 2}, {"name": "large", "value": 3}]}

# What the Rust quickstart (examples/quickstart/src/lib.rs) describes, docs left out.
EXPECTED = {
    "models": [
        {
            "name": "Order",
            "version": None,
            "fields": [
                column("id", "string", key=True),
                column("customer", "string"),
                column("amount", "float64"),
                column("ts", "date-time"),
            ],
        },
        {
            "name": "OrderEnriched",
            "version": None,
            "fields": [
                column("id", "string", key=True),
                column("customer", "string"),
                column("amount", "float64"),
                column("amount_cents", "int64"),
                column("tier", TIER),
                column("day", "date"),
                column("ts", "date-time"),
            ],
        },
        {
            "name": "DailyRevenue",
            "version": None,
            "fields": [
                column("day", "date", key=True),
                column("customer", "string", key=True),
                column("revenue", "float64"),
                column("orders", "uint64"),
            ],
        },
    ],
    "streams": [
        {"name": "Order", "model": "Order", "partitions": 0, "retention_hours": None},
        {"name": "OrderEnriched", "model": "OrderEnriched", "partitions": 0, "retention_hours": None},
    ],
    "tables": [
        {
            "name": "Order",
            "model": "Order",
            "order_by": [],
            "engine": "merge-tree",
            "source_stream": "Order",
            "options": NO_OPTIONS,
        },
        {
            "name": "OrderEnriched",
            "model": "OrderEnriched",
            "order_by": [],
            "engine": "merge-tree",
            "source_stream": "OrderEnriched",
            "options": NO_OPTIONS,
        },
    ],
    "ingests": [{"name": "Order", "model": "Order", "stream": "Order", "dead_letter": "Order_dead_letter"}],
    "functions": [
        {"name": "enrich_order", "source": "Order", "destination": "OrderEnriched", "dead_letter": "enrich_order_dead_letter"}
    ],
    "aggregations": [
        {
            "name": "DailyRevenue",
            "select": "SELECT day, customer, sum(amount) AS revenue, count() AS orders "
            "FROM OrderEnriched GROUP BY day, customer",
            "sources": ["OrderEnriched"],
            "target": {
                "name": "DailyRevenue",
                "model": "DailyRevenue",
                "order_by": ["day", "customer"],
                "engine": {"summing-merge-tree": []},
                "source_stream": None,
                "options": NO_OPTIONS,
            },
        }
    ],
    "windowed_aggregations": [],
    "views": [],
    "apis": [
        {
            "name": "revenue",
            "version": None,
            "params": [
                {"name": "customer", "data_type": scalar("string"), "required": False, "default": None, "min": None, "max": None},
                {"name": "from", "data_type": scalar("date"), "required": False, "default": None, "min": None, "max": None},
                {"name": "to", "data_type": scalar("date"), "required": False, "default": None, "min": None, "max": None},
                {"name": "limit", "data_type": scalar("uint32"), "required": False, "default": "100", "min": 1.0, "max": 10000.0},
            ],
            "response": "DailyRevenue",
        }
    ],
}


class DescribeTest(unittest.TestCase):
    def test_quickstart_matches_the_rust_quickstart(self) -> None:
        described = to_json(quickstart.app.describe())
        self.maxDiff = None
        self.assertEqual(without_docs(described), EXPECTED)

    def test_docs_come_from_docstrings_and_field_metadata(self) -> None:
        described = to_json(quickstart.app.describe())
        self.assertEqual(described["models"][0]["doc"], "An order as posted to `POST /ingest/Order`.")
        self.assertEqual(described["models"][1]["fields"][5]["doc"], "UTC date of `ts`.")
        self.assertEqual(described["apis"][0]["params"][3]["doc"], "Maximum number of rows.")

    def test_conformance_models(self) -> None:
        conformance = _paths.load_project("conformance_describe", _paths.CONFORMANCE)
        described = to_json(conformance.app.describe())
        self.assertEqual([m["name"] for m in described["models"]], ["Inner", "Everything"])
        fields = described["models"][1]["fields"]
        self.assertEqual(
            [f["name"] for f in fields],
            "id s lc i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 b dec d dt dt64 uid e j inner "
            "opt_s opt_i arr_i arr_opt m m_arr inners i128 u256 fs v4 v6 pt poly".split(),
        )
        self.assertEqual(fields[31]["data_type"], scalar({"fixed-string": 4}))
        self.assertEqual(fields[35]["data_type"], scalar({"geo": "polygon"}))
        self.assertEqual(fields[27]["data_type"], scalar("uint8", "map", "array"))
        self.assertEqual(fields[28]["data_type"], scalar({"nested": "Inner"}, "array"))


if __name__ == "__main__":
    unittest.main()


class DeclarationsTest(unittest.TestCase):
    def test_pipeline_options_engines_views_and_dead_letters(self) -> None:
        from dataclasses import dataclass
        from typing import Optional

        from moose_guest import (
            App,
            DeadLetterQueue,
            Key,
            PipelineConfig,
            ReplacingMergeTree,
            StreamConfig,
            TableConfig,
        )

        @dataclass
        class Event:
            id: Key[str]
            version: int

        app = App()
        events = app.ingest_pipeline(
            "Event",
            Event,
            PipelineConfig(
                dead_letter=False,
                table=TableConfig(engine=ReplacingMergeTree("version")),
                stream=StreamConfig(partitions=4, retention_hours=24),
            ),
        )
        copy = app.stream_pipeline("EventCopy", Event, PipelineConfig(table=None))
        failed = DeadLetterQueue("copy_failures")

        def copy_event(event: Event) -> Optional[Event]:
            return event

        events.stream.add_transform(copy.stream, copy_event, dead_letter=failed)
        copy.stream.add_consumer(lambda e: None, name="watch", dead_letter=False)
        copy.stream.add_consumer(lambda e: None, name="count")
        app.view("recent", "SELECT * FROM Event ORDER BY version DESC LIMIT 10", [events.table])
        d = to_json(app.describe())
        self.assertEqual(d["streams"][0], {"name": "Event", "model": "Event", "partitions": 4, "retention_hours": 24})
        self.assertEqual(d["tables"], [
            {
                "name": "Event",
                "model": "Event",
                "order_by": [],
                "engine": {"replacing-merge-tree": {"version": "version", "is_deleted": None}},
                "source_stream": "Event",
                "options": NO_OPTIONS,
            }
        ])
        self.assertEqual(d["ingests"], [{"name": "Event", "model": "Event", "stream": "Event", "dead_letter": None}])
        self.assertEqual(d["functions"], [
            {"name": "copy_event", "source": "Event", "destination": "EventCopy", "dead_letter": "copy_failures"},
            {"name": "watch", "source": "EventCopy", "destination": None, "dead_letter": None},
            {"name": "count", "source": "EventCopy", "destination": None, "dead_letter": "count_dead_letter"},
        ])
        self.assertEqual(d["views"], [{"name": "recent", "select": "SELECT * FROM Event ORDER BY version DESC LIMIT 10", "sources": ["Event"]}])
        self.assertEqual([m["name"] for m in d["models"]], ["Event"])
        self.assertIsNone(copy.ingest)


class VersionedModelsTest(unittest.TestCase):
    """The declaration of the Rust SDK's `versions_of_a_model_get_their_own_pipelines`."""

    def declare(self):  # type: ignore[no-untyped-def]
        from dataclasses import dataclass
        from typing import Optional

        from moose_guest import App, model

        @dataclass
        class Big:
            id: str

        @model(name="Big", version="1.1")
        @dataclass
        class BigV11:
            id: str
            note: Optional[str]

        return App(), Big, BigV11

    def test_versions_of_a_model_get_their_own_pipelines(self) -> None:
        app, big, big_v11 = self.declare()
        app.ingest_pipeline("Big", big)
        v11 = app.ingest_pipeline("Big", big_v11)
        self.assertEqual(v11.stream.name, "Big_1_1")
        self.assertEqual(v11.table.name if v11.table else None, "Big_1_1")
        self.assertEqual(v11.dead_letter.name if v11.dead_letter else None, "Big_1_1_dead_letter")
        d = to_json(app.describe())
        self.assertEqual(
            [(i["name"], i["model"], i["stream"]) for i in d["ingests"]],
            [("Big", "Big", "Big"), ("Big", "Big@1.1", "Big_1_1")],
        )
        self.assertEqual([i["dead_letter"] for i in d["ingests"]], ["Big_dead_letter", "Big_1_1_dead_letter"])
        self.assertEqual(
            [m["name"] if m["version"] is None else f"{m['name']}@{m['version']}" for m in d["models"]],
            ["Big", "Big@1.1"],
        )

    def test_one_ingest_route_per_model_version(self) -> None:
        from moose_guest.app import DeclarationError

        app, _, big_v11 = self.declare()
        v11 = app.ingest_pipeline("Big", big_v11)
        with self.assertRaisesRegex(DeclarationError, "two ingest endpoints are named `Big/1.1`"):
            app.ingest("Big", v11.stream)


class StorageOptionsTest(unittest.TestCase):
    def test_tables_describe_engine_columns_storage_options_and_column_codecs(self) -> None:
        from dataclasses import dataclass
        from datetime import date, datetime

        from moose_guest import (
            Alias,
            App,
            Key,
            Materialized,
            Projection,
            ReplacingMergeTree,
            TableConfig,
            TableIndex,
            VersionedCollapsingMergeTree,
            field,
        )
        from moose_guest.types import Int8, UInt32

        @dataclass
        class Event:
            id: Key[str]
            ts: datetime = field(codec="Delta, ZSTD(1)")
            sign: Int8 = 1
            version: UInt32 = 0
            note: str = field(default="", ttl="ts + INTERVAL 1 DAY")

        app = App()
        app.table(
            "Events",
            Event,
            TableConfig(
                order_by=["id", "ts"],
                engine=VersionedCollapsingMergeTree("sign", "version"),
                partition_by="toYYYYMM(ts)",
                primary_key=["id"],
                ttl="ts + INTERVAL 90 DAY",
                settings={"index_granularity": 4096, "storage_policy": "it's", "allow_nullable_key": True},
                indexes=[TableIndex("note_bf", "lower(note)", "bloom_filter(0.01)")],
                projections=[Projection("by_ts", "SELECT * ORDER BY ts")],
                computed={
                    "day": Materialized(date, "toDate(ts)"),
                    "shout": Alias(str, "upper(note)", doc="The note, loud."),
                },
            ),
        )
        app.table("Replaced", Event, TableConfig(engine=ReplacingMergeTree("version", "sign")))
        app.table("Theirs", Event, TableConfig(externally_managed=True))
        d = to_json(app.describe())
        self.assertEqual(d["tables"][2]["options"], {**NO_OPTIONS, "externally_managed": True})
        fields = d["models"][0]["fields"]
        self.assertEqual(
            [(f["name"], f["codec"], f["ttl"]) for f in fields],
            [
                ("id", None, None),
                ("ts", "Delta, ZSTD(1)", None),
                ("sign", None, None),
                ("version", None, None),
                ("note", None, "ts + INTERVAL 1 DAY"),
            ],
        )
        events, replaced, _ = d["tables"]
        self.assertEqual(events["engine"], {"versioned-collapsing-merge-tree": {"sign": "sign", "version": "version"}})
        self.assertEqual(
            events["options"],
            {
                "partition_by": "toYYYYMM(ts)",
                "primary_key": ["id"],
                "sample_by": None,
                "ttl": "ts + INTERVAL 90 DAY",
                "settings": [
                    ["index_granularity", "4096"],
                    ["storage_policy", "'it\\'s'"],
                    ["allow_nullable_key", "1"],
                ],
                "indexes": [{"name": "note_bf", "expression": "lower(note)", "kind": "bloom_filter(0.01)", "granularity": 1}],
                "projections": [{"name": "by_ts", "select": "SELECT * ORDER BY ts"}],
                "computed": [
                    {
                        "name": "day",
                        "data_type": {"wrappers": [], "leaf": "date"},
                        "kind": "materialized",
                        "expression": "toDate(ts)",
                        "doc": None,
                    },
                    {
                        "name": "shout",
                        "data_type": {"wrappers": [], "leaf": "string"},
                        "kind": "alias",
                        "expression": "upper(note)",
                        "doc": "The note, loud.",
                    },
                ],
                "externally_managed": False,
            },
        )
        self.assertEqual(replaced["engine"], {"replacing-merge-tree": {"version": "version", "is_deleted": "sign"}})
        self.assertEqual(replaced["options"], NO_OPTIONS)

