//! Generated client SDKs (`moose generate sdk`): the TypeScript client checked by `tsc
//! --strict` and the Python client by `mypy --strict` (both installed by
//! `scripts/setup-sdkgen.sh`), typed usage that must compile and misuse that must not, and
//! both clients ingesting and querying a running `moose dev`, and the clients of an app
//! with two versions of a model posting each version to its own route.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use moose_host::sdkgen::{self, Language};
use moose_model::app::App;
use moose_tests::{built_guest, quickstart, repo_root, DevHost};
use serde_json::json;

fn tool(path: PathBuf, what: &str) -> PathBuf {
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup-sdkgen.sh (it installs {what})",
        path.display()
    );
    path
}

fn tsc() -> PathBuf {
    tool(
        repo_root().join("tests/sdkgen-tools/node_modules/.bin/tsc"),
        "TypeScript",
    )
}

fn venv_bin(name: &str) -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    tool(
        PathBuf::from(home)
            .join(".local/share/moose/tools-venv/bin")
            .join(name),
        "mypy into the tools venv",
    )
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} does not start: {e}"))
}

fn report(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn succeed(command: &mut Command) -> String {
    let output = run(command);
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}",
        report(&output)
    );
    report(&output)
}

fn fail(command: &mut Command) -> String {
    let output = run(command);
    assert!(!output.status.success(), "{command:?} should fail");
    report(&output)
}

/// `tsc --strict` over `files` in `dir`: check only, or emit ES2022 modules into `dir/out`.
fn tsc_on(dir: &Path, files: &[&str], emit: bool) -> Command {
    let mut command = Command::new(tsc());
    command
        .args(["--strict", "--target", "es2022", "--module", "nodenext"])
        .args(if emit {
            vec!["--outDir", "out"]
        } else {
            vec!["--noEmit"]
        })
        .args(files)
        .current_dir(dir);
    command
}

fn mypy_on(dir: &Path, files: &[&str]) -> Command {
    let mut command = Command::new(venv_bin("mypy"));
    command
        .args(["--strict", "--no-incremental"])
        .args(files)
        .current_dir(dir);
    command
}

/// Runs `moose generate sdk` for the app in `app` (relative to the repository root) into
/// `out`.
fn generate_sdk(app: &str, language: &str, out: &Path) {
    built_guest(app);
    let stdout = succeed(
        Command::new(moose_tests::moose_bin())
            .args(["generate", "sdk", "--language", language, "--out"])
            .arg(out)
            .arg(app)
            .current_dir(repo_root()),
    );
    assert!(stdout.contains("wrote "), "{stdout}");
}

/// Runs `moose generate sdk` for the quickstart into `out`.
fn generate_quickstart(language: &str, out: &Path) {
    generate_sdk("examples/quickstart", language, out);
}

#[test]
fn quickstart_clients_type_check_and_refuse_wrong_types() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ts = dir.path().join("ts");
    generate_quickstart("ts", &ts);
    std::fs::write(
        ts.join("usage.ts"),
        r#"import { MooseClient, MooseError, type DailyRevenue, type Order } from "./client.js";
const client = new MooseClient({ baseUrl: "http://localhost:4000", apiKey: "k" });
const order: Order = { id: "o1", customer: "acme", amount: 12.5, ts: "2024-05-01T10:00:00Z" };
export async function use(): Promise<number> {
  const results = await client.ingest.Order([order], { maxRecords: 100, maxBytes: 1 << 16 });
  const rows: DailyRevenue[] = await client.api.revenue({ customer: "acme", from: "2024-05-01", limit: 10 });
  const all = await client.api.revenue();
  try { await client.api.revenue({ limit: 0 }); } catch (e) { if (e instanceof MooseError) return e.status; }
  return results[0]!.accepted + rows.length + all.length + Number(rows[0]?.orders ?? 0);
}
"#,
    )
    .expect("write");
    succeed(&mut tsc_on(&ts, &["client.ts", "usage.ts"], false));
    std::fs::write(
        ts.join("bad.ts"),
        r#"import type { Order } from "./client.js";
export const order: Order = { id: "o1", customer: "acme", amount: "12.5", ts: "2024-05-01T10:00:00Z" };
"#,
    )
    .expect("write");
    let refused = fail(&mut tsc_on(&ts, &["client.ts", "bad.ts"], false));
    assert!(
        refused.contains("bad.ts(2,59)") && refused.contains("not assignable to type 'number'"),
        "{refused}"
    );
    std::fs::write(
        ts.join("bad_param.ts"),
        r#"import { MooseClient } from "./client.js";
void new MooseClient({ baseUrl: "" }).api.revenue({ limit: "10" });
"#,
    )
    .expect("write");
    let refused = fail(&mut tsc_on(&ts, &["client.ts", "bad_param.ts"], false));
    assert!(refused.contains("bad_param.ts(2"), "{refused}");

    let py = dir.path().join("py");
    generate_quickstart("python", &py);
    assert!(py.join("moose_client/py.typed").is_file());
    std::fs::write(
        py.join("usage.py"),
        r#"from typing import List
from moose_client import DailyRevenue, IngestBatchResult, MooseClient, MooseError, Order

client = MooseClient("http://localhost:4000", api_key="k", timeout=5.0)
order: Order = {"id": "o1", "customer": "acme", "amount": 12.5, "ts": "2024-05-01T10:00:00Z"}


def use() -> int:
    results: List[IngestBatchResult] = client.ingest.order([order], max_records=100)
    rows: List[DailyRevenue] = client.api.revenue(customer="acme", from_="2024-05-01", limit=10)
    try:
        client.api.revenue(limit=0)
    except MooseError as error:
        return error.status
    return results[0].accepted + len(rows) + rows[0]["orders"]
"#,
    )
    .expect("write");
    succeed(&mut mypy_on(&py, &["moose_client", "usage.py"]));
    std::fs::write(
        py.join("bad.py"),
        r#"from moose_client import Order

order: Order = {"id": "o1", "customer": "acme", "amount": "12.5", "ts": "2024-05-01T10:00:00Z"}
"#,
    )
    .expect("write");
    let refused = fail(&mut mypy_on(&py, &["bad.py"]));
    assert!(
        refused.contains("bad.py:3") && refused.contains("\"amount\""),
        "{refused}"
    );
}

/// An app with every field type, names that are keywords or not identifiers, a versioned
/// model nested in another and declared after it, and a versioned API.
fn awkward_app() -> App {
    let scalar = |leaf: serde_json::Value| json!({ "wrappers": [], "leaf": leaf });
    let field = |name: &str, data_type: serde_json::Value| json!({ "name": name, "data_type": data_type, "key": false, "default": null, "doc": null });
    let tiers = json!({ "Enum": [{ "name": "small", "value": 1 }, { "name": "it's \"big\"", "value": 2 }] });
    let mut fields = vec![field("from", scalar(json!("String")))];
    for (name, leaf) in [
        ("class", json!("LowCardinalityString")),
        ("my-field", json!("Int8")),
        ("2fast", json!("Int16")),
        ("i32", json!("Int32")),
        ("i64", json!("Int64")),
        ("u8", json!("Uint8")),
        ("u16", json!("Uint16")),
        ("u32", json!("Uint32")),
        ("u64", json!("Uint64")),
        ("f32", json!("Float32")),
        ("f64", json!("Float64")),
        ("ok", json!("Boolean")),
        (
            "price",
            json!({ "Decimal": { "precision": 18, "scale": 4 } }),
        ),
        ("day", json!("Date")),
        ("at", json!("DateTime")),
        ("at_ms", json!({ "DateTime64": 3 })),
        ("uid", json!("Uuid")),
        ("tier", tiers.clone()),
        ("extra", json!("Json")),
        ("ship_to", json!({ "Nested": "Address@1.1" })),
    ] {
        fields.push(field(name, scalar(leaf)));
    }
    for (name, wrappers, leaf) in [
        (
            "stops",
            json!(["Array"]),
            json!({ "Nested": "Address@1.1" }),
        ),
        ("tags", json!(["Array", "Nullable"]), json!("String")),
        ("scores", json!(["Map", "Array"]), json!("Float64")),
        ("note", json!(["Nullable"]), json!("String")),
    ] {
        fields.push(field(name, json!({ "wrappers": wrappers, "leaf": leaf })));
    }
    let param = |name: &str, leaf: serde_json::Value, required: bool| {
        json!({ "name": name, "data_type": scalar(leaf), "required": required,
                "default": null, "min": null, "max": null, "doc": null })
    };
    let params = json!([
        param("customer", json!("String"), true),
        param("from", json!("Date"), false),
        param("class", tiers, false),
        param("my-param", json!("Boolean"), false),
        { "name": "id", "data_type": { "wrappers": ["Array"], "leaf": "Int64" }, "required": false,
          "default": null, "min": null, "max": null, "doc": null },
    ]);
    let app = json!({
        "name": "awkward",
        "components": [],
        "def": {
            "models": [
                { "name": "Order", "version": null, "fields": fields, "doc": "An order */ \"\"\"." },
                { "name": "Address", "version": "1.1", "doc": null, "fields": [
                    field("city", scalar(json!("String"))),
                    field("price", scalar(json!({ "Decimal": { "precision": 10, "scale": 2 } }))),
                ] },
            ],
            "streams": [], "tables": [], "functions": [], "aggregations": [], "windowed_aggregations": [],
            "views": [],
            "ingests": [{ "name": "Order", "model": "Order", "stream": "Order", "dead_letter": null }],
            "apis": [
                { "name": "orders", "version": null, "params": params, "response": "Order", "doc": null },
                { "name": "orders", "version": "2.0", "params": params, "response": "Address@1.1", "doc": null },
            ],
        },
    });
    serde_json::from_value(app).expect("an App")
}

#[test]
fn awkward_names_and_every_type_compile() {
    let app = awkward_app();
    let dir = tempfile::tempdir().expect("temp dir");
    let ts = dir.path().join("ts");
    sdkgen::write(&ts, &sdkgen::generate(&app, Language::Ts).expect("ts")).expect("write");
    std::fs::write(
        ts.join("usage.ts"),
        r#"import { MooseClient, type Address_v1_1, type Order } from "./client.js";
const address: Address_v1_1 = { city: "Oslo", price: "12.50" };
export const order: Order = {
  from: "a", class: "b", "my-field": -1, "2fast": 2, i32: 3, i64: "9007199254740993", u8: 4,
  u16: 5, u32: 6, u64: 7, f32: 1.5, f64: 2.5, ok: true, price: "1.2345", day: "2024-05-01",
  at: "2024-05-01T12:00:00Z", at_ms: "2024-05-01T12:00:00.123Z",
  uid: "550e8400-e29b-41d4-a716-446655440000", tier: "it's \"big\"", extra: { any: [1] },
  ship_to: address, stops: [address], tags: ["x", null], scores: { a: [1, 2] }, note: null,
};
const client = new MooseClient({ baseUrl: "http://localhost:4000" });
export async function use(): Promise<string> {
  await client.ingest.Order([order]);
  const rows = await client.api.orders({ customer: "c", from: "2024-05-01", class: "small", "my-param": true, id: [1n, "2", 3] });
  const addresses: Address_v1_1[] = await client.api.orders_v2_0({ customer: "c" });
  return rows[0]!["my-field"].toFixed() + addresses.length;
}
"#,
    )
    .expect("write");
    succeed(&mut tsc_on(&ts, &["client.ts", "usage.ts"], false));
    // Responses keep 64-bit integers exact and make decimals strings, nested ones too.
    std::fs::write(
        ts.join("exact.ts"),
        format!(
            r#"import {{ MooseClient }} from "./client.js";
const body = {EXACT_BODY:?};
const fake = async (): Promise<Response> => new Response(body, {{ status: 200 }});
const [row] = await new MooseClient({{ baseUrl: "http://x", fetch: fake }}).api.orders({{ customer: "c" }});
console.log(JSON.stringify(row));
"#
        ),
    )
    .expect("write");
    std::fs::write(ts.join("package.json"), r#"{"type": "module"}"#).expect("write");
    succeed(&mut tsc_on(&ts, &["client.ts", "exact.ts"], true));
    std::fs::write(ts.join("out/package.json"), r#"{"type": "module"}"#).expect("write");
    let row: serde_json::Value = serde_json::from_str(&succeed(
        Command::new("node").arg("out/exact.js").current_dir(&ts),
    ))
    .expect("JSON");
    assert_eq!(
        row,
        json!({"u64": "18446744073709551615", "i64": "-9223372036854775808", "i32": 7,
               "f64": 1e20, "price": "12.5", "ship_to": {"city": "x", "price": "3"},
               "stops": [{"city": "y", "price": "1.25"}], "scores": {"a": [1e22, 0.5]},
               "extra": {"n": 1.5}})
    );

    let py = dir.path().join("py");
    sdkgen::write(&py, &sdkgen::generate(&app, Language::Python).expect("py")).expect("write");
    std::fs::write(
        py.join("usage.py"),
        r#"from typing import List
from moose_client import Address_v1_1, MooseClient, Order

address: Address_v1_1 = {"city": "Oslo", "price": "12.50"}
order: Order = {
    "from": "a", "class": "b", "my-field": -1, "2fast": 2, "i32": 3, "i64": 9007199254740993, "u8": 4,
    "u16": 5, "u32": 6, "u64": 7, "f32": 1.5, "f64": 2.5, "ok": True, "price": "1.2345", "day": "2024-05-01",
    "at": "2024-05-01T12:00:00Z", "at_ms": "2024-05-01T12:00:00.123Z",
    "uid": "550e8400-e29b-41d4-a716-446655440000", "tier": "it's \"big\"", "extra": {"any": [1]},
    "ship_to": address, "stops": [address], "tags": ["x", None], "scores": {"a": [1.0, 2.0]},
}
client = MooseClient("http://localhost:4000")


def use() -> int:
    client.ingest.order([order])
    rows: List[Order] = client.api.orders(customer="c", from_="2024-05-01", class_="small", my_param=True, id=[1, 2])
    addresses: List[Address_v1_1] = client.api.orders_v2_0(customer="c")
    return rows[0]["my-field"] + len(addresses)
"#,
    )
    .expect("write");
    succeed(&mut mypy_on(&py, &["moose_client", "usage.py"]));
    // The module also imports: the functional TypedDicts are evaluated at once.
    succeed(
        Command::new(venv_bin("python"))
            .args(["-c", "import moose_client"])
            .current_dir(&py),
    );
    let exact = format!(
        "import json, moose_client\n\
         client = moose_client.MooseClient('http://x')\n\
         client.transport.request = lambda *args, **kwargs: {EXACT_BODY:?}.encode()\n\
         print(repr(client.api.orders(customer='c')[0]))\n"
    );
    let row = succeed(
        Command::new(venv_bin("python"))
            .args(["-c", &exact])
            .current_dir(&py),
    );
    assert_eq!(
        row.trim(),
        "{'u64': 18446744073709551615, 'i64': -9223372036854775808, 'i32': 7, 'f64': 1e+20, \
         'price': '12.5', 'ship_to': {'city': 'x', 'price': '3'}, 'stops': [{'city': 'y', \
         'price': '1.25'}], 'scores': {'a': [1e+22, 0.5]}, 'extra': {'n': 1.5}}"
    );
}

/// A response row with 64-bit integers beyond 2^53, big floats and decimals as numbers.
const EXACT_BODY: &str = r#"[{"u64": 18446744073709551615, "i64": -9223372036854775808, "i32": 7, "f64": 100000000000000000000, "price": 12.5, "ship_to": {"city": "x", "price": 3}, "stops": [{"city": "y", "price": 1.25}], "scores": {"a": [10000000000000000000000, 0.5]}, "extra": {"n": 1.5}}]"#;

const TS_E2E: &str = r#"import { IngestError, MooseClient, MooseError, type Order } from "./client.js";

const [baseUrl, apiKey] = [BASE_URL, API_KEY];
const client = new MooseClient({ baseUrl, apiKey });
const fail = (message: string): never => { throw new Error(message); };

const orders: Order[] = [];
const expected = new Map<string, { revenue: number; orders: number }>();
for (let i = 0; i < 250; i++) {
  const customer = `ts-${i % 2}`;
  const day = `2024-06-0${1 + (i % 3)}`;
  const amount = 1.25 * ((i % 4) + 1);
  orders.push({ id: `ts-${i}`, customer, amount, ts: `${day}T10:00:00Z` });
  const key = `${day} ${customer}`;
  const sum = expected.get(key) ?? { revenue: 0, orders: 0 };
  expected.set(key, { revenue: sum.revenue + amount, orders: sum.orders + 1 });
}
const results = await client.ingest.Order(orders, { maxRecords: 100 });
if (results.map((r) => `${r.start}+${r.count}:${r.accepted}`).join(",") !== "0+100:100,100+100:100,200+50:50") {
  fail(`batches: ${JSON.stringify(results)}`);
}

const deadline = Date.now() + 120_000;
for (;;) {
  const rows = await client.api.revenue({ from: "2024-06-01", to: "2024-06-03", limit: 100 });
  const mine = rows.filter((r) => r.customer.startsWith("ts-"));
  const got = new Map(mine.map((r) => [`${r.day} ${r.customer}`, { revenue: r.revenue, orders: Number(r.orders) }]));
  const done = got.size === expected.size && [...expected].every(([k, v]) => {
    const g = got.get(k);
    return g !== undefined && g.orders === v.orders && Math.abs(g.revenue - v.revenue) < 1e-9;
  });
  if (done) break;
  if (Date.now() > deadline) fail(`revenue never matched: ${JSON.stringify(mine)}`);
  await new Promise((resolve) => setTimeout(resolve, 500));
}
const one = await client.api.revenue({ customer: "ts-1", from: "2024-06-02", to: "2024-06-02" });
if (one.length !== 1 || one[0]!.customer !== "ts-1" || one[0]!.day !== "2024-06-02") fail(`one: ${JSON.stringify(one)}`);

try {
  await client.ingest.Order([orders[0]!, { ...orders[1]!, amount: "lots" as unknown as number }, orders[2]!], { maxRecords: 2 });
  fail("a bad record was accepted");
} catch (e) {
  if (!(e instanceof IngestError) || e.status !== 400 || !e.message.includes("field `amount`")) throw e;
  if (e.problems.length !== 1 || e.problems[0]!.index !== 1 || e.results.length !== 2 || e.results[0]!.accepted !== 1) {
    fail(`ingest error: ${JSON.stringify(e.results)}`);
  }
}
try {
  await client.api.revenue({ limit: 0 });
  fail("a bad parameter was accepted");
} catch (e) {
  if (!(e instanceof MooseError) || e.status !== 400 || !e.message.includes("`limit`")) throw e;
}
try {
  await new MooseClient({ baseUrl, apiKey: "wrong" }).api.revenue();
  fail("a wrong key was accepted");
} catch (e) {
  if (!(e instanceof MooseError) || e.status !== 401) throw e;
}
try {
  await client.transport.request("GET", "/api/nope");
  fail("an unknown API answered");
} catch (e) {
  if (!(e instanceof MooseError) || e.status !== 404 || !e.message.includes("nope")) throw e;
}
console.log("typescript client ok");
"#;

const PY_E2E: &str = r#"import sys
import time
from typing import Dict, List, Tuple, cast

from moose_client import IngestError, MooseClient, MooseError, Order

base_url, api_key = sys.argv[1], sys.argv[2]
client = MooseClient(base_url, api_key)

orders: List[Order] = []
expected: Dict[Tuple[str, str], Tuple[float, int]] = {}
for i in range(250):
    customer, day, amount = f"py-{i % 2}", f"2024-06-0{1 + i % 3}", 1.25 * (i % 4 + 1)
    orders.append({"id": f"py-{i}", "customer": customer, "amount": amount, "ts": f"{day}T10:00:00Z"})
    revenue, count = expected.get((day, customer), (0.0, 0))
    expected[(day, customer)] = (revenue + amount, count + 1)
results = client.ingest.order(orders, max_records=100)
assert [(r.start, r.count, r.accepted) for r in results] == [(0, 100, 100), (100, 100, 100), (200, 50, 50)], results

deadline = time.monotonic() + 120
while True:
    rows = client.api.revenue(from_="2024-06-01", to="2024-06-03", limit=100)
    got = {(r["day"], r["customer"]): (r["revenue"], r["orders"]) for r in rows if r["customer"].startswith("py-")}
    if got.keys() == expected.keys() and all(
        got[k][1] == v[1] and abs(got[k][0] - v[0]) < 1e-9 for k, v in expected.items()
    ):
        break
    assert time.monotonic() < deadline, f"revenue never matched: {got}"
    time.sleep(0.5)
one = client.api.revenue(customer="py-1", from_="2024-06-02", to="2024-06-02")
assert [(r["day"], r["customer"]) for r in one] == [("2024-06-02", "py-1")], one

bad = cast(Order, {**orders[1], "amount": "lots"})
try:
    client.ingest.order([orders[0], bad, orders[2]], max_records=2)
    raise AssertionError("a bad record was accepted")
except IngestError as error:
    assert error.status == 400 and "field `amount`" in error.message, error
    assert [p.index for p in error.problems] == [1] and len(error.results) == 2, error.results
    assert error.results[0].accepted == 1, error.results
try:
    client.api.revenue(limit=0)
    raise AssertionError("a bad parameter was accepted")
except MooseError as error:
    assert error.status == 400 and "`limit`" in error.message, error
try:
    MooseClient(base_url, "wrong").api.revenue()
    raise AssertionError("a wrong key was accepted")
except MooseError as error:
    assert error.status == 401, error
print("python client ok")
"#;

#[test]
fn clients_ingest_and_query_a_running_app() {
    quickstart();
    let key = moose_host::auth::generate_token();
    let extra = format!(
        "\n[auth]\napi_keys = [\"{}\"]\n",
        moose_host::auth::hash_token_with_rounds(&key, 1000)
    );
    let host = DevHost::start_with("examples/quickstart", &extra);
    let dir = tempfile::tempdir().expect("temp dir");

    let ts = dir.path().join("ts");
    generate_quickstart("ts", &ts);
    let script = TS_E2E
        .replace("BASE_URL", &serde_json::to_string(&host.api).expect("JSON"))
        .replace("API_KEY", &serde_json::to_string(&key).expect("JSON"));
    std::fs::write(ts.join("e2e.ts"), script).expect("write");
    std::fs::write(ts.join("package.json"), r#"{"type": "module"}"#).expect("write");
    succeed(&mut tsc_on(&ts, &["client.ts", "e2e.ts"], true));
    std::fs::write(ts.join("out/package.json"), r#"{"type": "module"}"#).expect("write");
    let out = succeed(Command::new("node").arg("out/e2e.js").current_dir(&ts));
    assert!(out.contains("typescript client ok"), "{out}");

    let py = dir.path().join("py");
    generate_quickstart("python", &py);
    std::fs::write(py.join("e2e.py"), PY_E2E).expect("write");
    succeed(&mut mypy_on(&py, &["moose_client", "e2e.py"]));
    let out = succeed(
        Command::new(venv_bin("python"))
            .arg("e2e.py")
            .args([&host.api, &key])
            .current_dir(&py),
    );
    assert!(out.contains("python client ok"), "{out}");
    assert!(host.stop());
}

/// The app with `Order@1.0` and `Order@1.1` side by side.
const VERSIONED: &str = "tests/guests/versioned-rs";

const TS_VERSIONED: &str = r#"import { IngestError, MooseClient, type Order_v1_0, type Order_v1_1 } from "./client.js";

const client = new MooseClient({ baseUrl: BASE_URL });
const fail = (message: string): never => { throw new Error(message); };
const v10: Order_v1_0[] = [0, 1, 2].map((i) => ({ id: `ts-${i}`, customer: "acme", amount: 1.5 }));
const v11: Order_v1_1[] = [0, 1].map((i) => ({ id: `ts-${i}`, customer: "beta", amount: 2.5, currency: "EUR" }));
const [a] = await client.ingest.Order_v1_0(v10);
const [b] = await client.ingest.Order_v1_1(v11);
if (a?.accepted !== 3 || b?.accepted !== 2) fail(`accepted: ${JSON.stringify([a, b])}`);
try {
  await client.ingest.Order_v1_1(v10 as unknown as Order_v1_1[]);
  fail("1.1 accepted records without a currency");
} catch (e) {
  if (!(e instanceof IngestError) || e.status !== 400 || e.problems[0]?.field !== "currency") throw e;
}
console.log("typescript versioned client ok");
"#;

const PY_VERSIONED: &str = r#"import sys
from typing import List, cast

from moose_client import IngestError, MooseClient, Order_v1_0, Order_v1_1

client = MooseClient(sys.argv[1])
v10: List[Order_v1_0] = [{"id": f"py-{i}", "customer": "acme", "amount": 1.5} for i in range(3)]
v11: List[Order_v1_1] = [{"id": f"py-{i}", "customer": "beta", "amount": 2.5, "currency": "EUR"} for i in range(2)]
[a] = client.ingest.order_v1_0(v10)
[b] = client.ingest.order_v1_1(v11)
assert (a.accepted, b.accepted) == (3, 2), (a, b)
try:
    client.ingest.order_v1_1(cast(List[Order_v1_1], v10))
    raise AssertionError("1.1 accepted records without a currency")
except IngestError as error:
    assert error.status == 400 and error.problems[0].field == "currency", error
print("python versioned client ok")
"#;

#[test]
fn versioned_clients_type_each_version_and_post_it_to_its_route() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ts = dir.path().join("ts");
    generate_sdk(VERSIONED, "ts", &ts);
    // A 1.0 record lacks 1.1's currency: the 1.1 method refuses it.
    std::fs::write(
        ts.join("bad.ts"),
        r#"import { MooseClient, type Order_v1_0 } from "./client.js";
const order: Order_v1_0 = { id: "o1", customer: "acme", amount: 1 };
void new MooseClient({ baseUrl: "" }).ingest.Order_v1_1([order]);
"#,
    )
    .expect("write");
    let refused = fail(&mut tsc_on(&ts, &["client.ts", "bad.ts"], false));
    assert!(
        refused.contains("bad.ts(3") && refused.contains("currency"),
        "{refused}"
    );
    let py = dir.path().join("py");
    generate_sdk(VERSIONED, "python", &py);
    std::fs::write(
        py.join("bad.py"),
        r#"from moose_client import MooseClient, Order_v1_0

order: Order_v1_0 = {"id": "o1", "customer": "acme", "amount": 1.0}
MooseClient("").ingest.order_v1_1([order])
"#,
    )
    .expect("write");
    let refused = fail(&mut mypy_on(&py, &["bad.py"]));
    assert!(
        refused.contains("bad.py:4") && refused.contains("Order_v1_1"),
        "{refused}"
    );

    let host = DevHost::start(VERSIONED);
    let script = TS_VERSIONED.replace("BASE_URL", &serde_json::to_string(&host.api).expect("JSON"));
    std::fs::write(ts.join("e2e.ts"), script).expect("write");
    std::fs::write(ts.join("package.json"), r#"{"type": "module"}"#).expect("write");
    succeed(&mut tsc_on(&ts, &["client.ts", "e2e.ts"], true));
    std::fs::write(ts.join("out/package.json"), r#"{"type": "module"}"#).expect("write");
    let out = succeed(Command::new("node").arg("out/e2e.js").current_dir(&ts));
    assert!(out.contains("typescript versioned client ok"), "{out}");

    std::fs::write(py.join("e2e.py"), PY_VERSIONED).expect("write");
    succeed(&mut mypy_on(&py, &["moose_client", "e2e.py"]));
    let out = succeed(
        Command::new(venv_bin("python"))
            .arg("e2e.py")
            .arg(&host.api)
            .current_dir(&py),
    );
    assert!(out.contains("python versioned client ok"), "{out}");

    // Each version's records reached its own table.
    host.wait_for_count("SELECT count() AS n FROM Order_1_0", 6);
    host.wait_for_count(
        "SELECT count() AS n FROM Order_1_1 WHERE currency = 'EUR'",
        4,
    );
    assert!(host.stop());
}
