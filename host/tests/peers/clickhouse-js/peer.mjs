// An outside peer of the embedded engine: the official ClickHouse JS client.
// Usage: node peer.mjs <url> <database>. Prints one JSON object with what it saw; exits
// non-zero if a step fails. Run by host/tests/olap.rs (`outside_peer_clickhouse_js`).
import { createClient, ClickHouseError } from '@clickhouse/client'

const [url, database] = process.argv.slice(2)
if (!url || !database) {
  console.error('usage: node peer.mjs <url> <database>')
  process.exit(2)
}

const client = createClient({
  url,
  username: 'default',
  password: '',
  // gzip both ways: request bodies and responses.
  compression: { request: true, response: true },
})

const report = {}
try {
  report.ping = (await client.ping()).success
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` })
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${database}.events
            (id UInt32, name String, at DateTime64(3), tags Array(String))
            ENGINE = MergeTree ORDER BY id`,
  })
  const inserted = await client.insert({
    table: `${database}.events`,
    format: 'JSONEachRow',
    values: [
      { id: 1, name: 'one', at: '2024-05-01 12:00:00.123', tags: ['a'] },
      { id: 2, name: "it's", at: '2024-05-01 12:00:01.000', tags: [] },
      { id: 3, name: 'three', at: '2024-05-02 00:00:00.000', tags: ['b', 'c'] },
    ],
  })
  report.insert_written_rows = inserted.summary?.written_rows ?? null
  const result = await client.query({
    query: `SELECT id, name, tags FROM ${database}.events
            WHERE id >= {min:UInt32} AND name != {skip:String} ORDER BY id`,
    format: 'JSONEachRow',
    query_params: { min: 2, skip: 'three' },
  })
  report.rows = await result.json()
  try {
    await client.query({ query: 'SELEC 1', format: 'JSONEachRow' })
    report.bad_query = 'no error'
  } catch (error) {
    report.bad_query = {
      is_clickhouse_error: error instanceof ClickHouseError,
      code: error.code,
      type: error.type,
    }
  }
  // A session keeps settings and temporary tables between requests.
  const session = createClient({ url, username: 'default', password: '', session_id: `peer-${process.pid}` })
  try {
    await session.command({ query: 'SET max_threads = 3' })
    await session.command({ query: 'CREATE TEMPORARY TABLE scratch (x UInt8)' })
    await session.insert({ table: 'scratch', format: 'JSONEachRow', values: [{ x: 1 }, { x: 2 }] })
    const seen = await session.query({
      query: "SELECT getSetting('max_threads') AS threads, (SELECT sum(x) FROM scratch) AS total",
      format: 'JSONEachRow',
    })
    report.session = await seen.json()
  } finally {
    await session.close()
  }
  console.log(JSON.stringify(report))
} catch (error) {
  console.error(error)
  console.log(JSON.stringify({ ...report, failed: String(error) }))
  process.exitCode = 1
} finally {
  await client.close()
}
