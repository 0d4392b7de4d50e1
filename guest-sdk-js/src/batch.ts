/** The batch loop shared by every streaming function. */

import { type GuestError, messageOf, type ProcessOutput, type RecordError, type Result, type TransformResult } from "./defs.js";
import type { Batch } from "./host.js";
import { CountMismatch, decodeText, encodeText, InvalidLine, parseLines } from "./json.js";
import { ConvertError, type Encoder, type Model, type Shape } from "./schema.js";

/**
 * The batch loop shared by every function: parse the batch, type each record, call
 * `each`, serialize its outputs. A record that does not parse or whose call throws
 * becomes a record error; the rest of the batch goes on.
 */
export function runBatch(
  input: Batch,
  model: Model<Shape>,
  each: (record: unknown) => TransformResult<unknown>,
  encode: Encoder | undefined,
): Result<ProcessOutput, GuestError> {
  if (input.encoding !== "json") return { tag: "err", val: { tag: "unsupported-encoding", val: input.encoding } };
  let values: unknown[];
  try {
    values = parseLines(decodeText(input.data), input.count, model.wide);
  } catch (e) {
    if (e instanceof CountMismatch) return { tag: "err", val: { tag: "failed", val: e.message } };
    throw e;
  }
  const convert = model.convert;
  const lines: string[] = [];
  let sources = new Uint32Array(Math.max(16, values.length));
  const errors: RecordError[] = [];
  for (let index = 0; index < values.length; index++) {
    const value = values[index];
    if (value instanceof InvalidLine) {
      errors.push({ index, message: `invalid input record: ${value.message}` });
      continue;
    }
    let result: TransformResult<unknown>;
    try {
      result = each(convert(value));
    } catch (e) {
      const message = e instanceof ConvertError ? `invalid input record: ${e.describe()}` : messageOf(e);
      errors.push({ index, message });
      continue;
    }
    if (result === null || result === undefined) continue;
    const mark = lines.length;
    try {
      if (Array.isArray(result)) {
        for (let i = 0; i < result.length; i++) lines.push(serialize(result[i], encode));
      } else {
        lines.push(serialize(result, encode));
      }
    } catch (e) {
      lines.length = mark; // no partial output for a failed record
      errors.push({ index, message: `cannot serialize output record: ${messageOf(e)}` });
      continue;
    }
    if (lines.length > sources.length) {
      const grown = new Uint32Array(Math.max(lines.length, sources.length * 2));
      grown.set(sources);
      sources = grown;
    }
    sources.fill(index, mark, lines.length);
  }
  return {
    tag: "ok",
    val: {
      output: { encoding: "json", count: lines.length, data: encodeText(lines.join("\n")) },
      sources: sources.subarray(0, lines.length),
      errors,
    },
  };
}

export function serialize(record: unknown, encode: Encoder | undefined): string {
  if (typeof record !== "object" || record === null || Array.isArray(record)) {
    throw new TypeError(`expected a record object, got ${record === null ? "null" : typeof record}`);
  }
  return JSON.stringify(encode === undefined ? record : encode(record));
}
