import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { connectHost, query, sql, t, type QueryParam } from "@moose/guest";
import app, { DailyRevenue } from "../../examples/quickstart-ts/app.js";

afterEach(() => connectHost(undefined));

test("interpolated values are bound as typed parameters", () => {
  const day = new Date(Date.UTC(2024, 4, 1, 12, 30, 5, 7));
  const statement = sql`SELECT * FROM ${{ name: "Orders" }} WHERE a = ${"x"} AND b = ${42} AND c = ${1.5} AND d = ${2n ** 64n - 1n} AND e = ${true} AND f = ${day} AND g = ${null} AND ${sql.identifier("col")} = ${sql.param("2024-05-01", t.date())}`;
  assert.deepEqual(statement.build(), {
    sql: "SELECT * FROM {p0:Identifier} WHERE a = {p1:String} AND b = {p2:Int64} AND c = {p3:Float64} AND d = {p4:UInt64} AND e = {p5:Bool} AND f = {p6:DateTime64(3, 'UTC')} AND g = {p7:Nullable(String)} AND {p8:Identifier} = {p9:Date}",
    params: [
      { name: "p0", value: "Orders" },
      { name: "p1", value: "x" },
      { name: "p2", value: "42" },
      { name: "p3", value: "1.5" },
      { name: "p4", value: "18446744073709551615" },
      { name: "p5", value: "true" },
      { name: "p6", value: "2024-05-01 12:30:05.007" },
      { name: "p7", value: "\\N" },
      { name: "p8", value: "col" },
      { name: "p9", value: "2024-05-01" },
    ],
  });
});

test("integers beyond 64 bits, addresses and geo values are bound with their types", () => {
  const area = [[[0, 0], [10, 0], [10, 10.5], [0, 0]]];
  const { sql: text, params } = sql`SELECT ${-(2n ** 127n)}, ${2n ** 128n - 1n}, ${2n ** 200n}, ${sql.param("10.0.0.1", t.ipv4())}, ${sql.param("NOK", t.fixedString(3))}, ${sql.param([1, -2], t.point())}, ${sql.param(area, t.polygon())}`.build();
  assert.equal(
    text,
    "SELECT {p0:Int128}, {p1:UInt128}, {p2:Int256}, {p3:IPv4}, {p4:FixedString(3)}, {p5:Point}, {p6:Polygon}",
  );
  assert.deepEqual(
    params.map((p) => p.value),
    [`${-(2n ** 127n)}`, `${2n ** 128n - 1n}`, `${2n ** 200n}`, "10.0.0.1", "NOK", "(1,-2)", "[[(0,0),(10,0),(10,10.5),(0,0)]]"],
  );
  assert.throws(() => sql`${2n ** 256n}`.build(), /does not fit a 256-bit integer/);
});

test("an injection attempt stays a bound, escaped value", () => {
  const attack = "x' OR 1=1; DROP TABLE Orders --\\\t\n\r\0";
  const { sql: text, params } = sql`SELECT 1 WHERE name = ${attack}`.build();
  assert.equal(text, "SELECT 1 WHERE name = {p0:String}");
  assert.deepEqual(params, [{ name: "p0", value: "x' OR 1=1; DROP TABLE Orders --\\\\\\t\\n\\r\\0" }]);
});

test("one Param interpolated twice is bound once; fragments nest", () => {
  const customer = sql.param(null, t.nullable(t.string()));
  const filter = sql`customer = ${customer}`;
  const { sql: text, params } = sql`WHERE (${customer} IS NULL OR ${filter}) LIMIT ${7}`.build();
  assert.equal(text, "WHERE ({p0:Nullable(String)} IS NULL OR customer = {p0:Nullable(String)}) LIMIT {p1:Int64}");
  assert.deepEqual(params, [{ name: "p0", value: "\\N" }, { name: "p1", value: "7" }]);
  assert.throws(() => sql`${sql.param(null, t.string())}`.build(), /cannot bind null/);
});

function mockHost(rows: string, seen: { sql?: string; params?: QueryParam[] }) {
  connectHost({
    log: () => {},
    query: (text, params) => {
      seen.sql = text;
      seen.params = params;
      return { encoding: "json", count: 1, data: new TextEncoder().encode(rows) };
    },
  });
}

test("the revenue API binds every parameter and types its rows", async () => {
  const seen: { sql?: string; params?: QueryParam[] } = {};
  mockHost(`{"day":"2024-05-01","customer":"acme","revenue":12.345,"orders":18446744073709551615}\n`, seen);
  const result = await app.handleApi("revenue", new TextEncoder().encode(`{"customer":"acme","from":"2024-05-01"}`));
  assert.equal(result.tag, "ok");
  const response = result.val as { status: number; body: Uint8Array };
  assert.equal(response.status, 200);
  assert.equal(new TextDecoder().decode(response.body), `[{"day":"2024-05-01","customer":"acme","revenue":12.345,"orders":18446744073709551615}]`);
  assert.deepEqual(seen.params, [
    { name: "p0", value: "DailyRevenue" },
    { name: "p1", value: "acme" },
    { name: "p2", value: "2024-05-01" },
    { name: "p3", value: "\\N" },
    { name: "p4", value: "100" },
  ]);
  assert.match(seen.sql!, /FROM \{p0:Identifier\}\nWHERE \(\{p1:Nullable\(String\)\} IS NULL OR customer = \{p1:Nullable\(String\)\}\)/);
  assert.match(seen.sql!, /LIMIT \{p4:UInt32\}$/);

  const bad = await app.handleApi("revenue", new TextEncoder().encode(`{"limit":0}`));
  assert.deepEqual(bad, { tag: "err", val: { tag: "bad-request", val: "parameter `limit` must be at least 1, got 0" } });
  const unknown = await app.handleApi("nope", new Uint8Array());
  assert.deepEqual(unknown, { tag: "err", val: { tag: "unknown-api", val: "nope" } });
});

test("query errors surface as the API's query error", async () => {
  connectHost({
    log: () => {},
    query: () => {
      throw { payload: { tag: "timeout" } };
    },
  });
  const result = await app.handleApi("revenue", new Uint8Array());
  assert.deepEqual(result, { tag: "err", val: { tag: "query", val: { tag: "timeout" } } });
});

test("query rows are checked against the model", () => {
  mockHost(`{"day":"yesterday","customer":"acme","revenue":1,"orders":1}`, {});
  assert.throws(() => query(sql`SELECT 1`, DailyRevenue), /cannot decode result row 0 as DailyRevenue: field `day`/);
  assert.deepEqual(query(sql`SELECT 1`), [{ day: "yesterday", customer: "acme", revenue: 1, orders: 1 }]);
});
