/**
 * JSON text in and out of the component, with exact 64-bit integers.
 *
 * 64-bit integers are `bigint`s. They are parsed with `JSON.parse`'s source-text access
 * (only for text that holds a number of 16 or more digits: shorter ones are exact as
 * numbers anyway) and printed with `JSON.rawJSON`, both ES2025 features of the
 * component's engine (Node.js 20 needs `--harmony-json-parse-with-source`).
 */

interface RawJson {
  rawJSON(text: string): unknown;
}

interface TextCodecs {
  TextEncoder: new () => { encode(text: string): Uint8Array };
  TextDecoder: new () => { decode(data: Uint8Array): string };
}

const codecs = globalThis as unknown as TextCodecs;
const encoder = new codecs.TextEncoder();
const decoder = new codecs.TextDecoder();

/** UTF-8 bytes as text. */
export function decodeText(data: Uint8Array): string {
  return decoder.decode(data);
}

/** Text as UTF-8 bytes. */
export function encodeText(text: string): Uint8Array {
  return encoder.encode(text);
}

const rawJson = (JSON as unknown as Partial<RawJson>).rawJSON;

// `JSON.stringify` prints bigints as exact JSON numbers.
Object.defineProperty(BigInt.prototype, "toJSON", {
  value: function toJSON(this: bigint): unknown {
    if (rawJson === undefined) {
      throw new TypeError("this JavaScript engine lacks JSON.rawJSON, needed to print 64-bit integers");
    }
    return rawJson(this.toString());
  },
  writable: true,
  configurable: true,
});

const LONG_NUMBER = /\d{16}/;
const INTEGER = /^-?\d+$/;

function exactIntegers(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === "number" && !Number.isSafeInteger(value) && Number.isInteger(value)) {
    const source = context?.source;
    if (source === undefined) {
      throw new TypeError("this JavaScript engine lacks JSON.parse source access, needed for 64-bit integers");
    }
    if (INTEGER.test(source)) return BigInt(source);
  }
  return value;
}

/**
 * Parses JSON text. When `wide` (the schema holds 64-bit integers), integers beyond
 * 2^53 become exact `bigint`s.
 */
export function parseJson(text: string, wide: boolean): unknown {
  return wide && LONG_NUMBER.test(text)
    ? JSON.parse(text, exactIntegers as (key: string, value: unknown) => unknown)
    : JSON.parse(text);
}

/** A line of a batch that is not JSON. */
export class InvalidLine {
  constructor(readonly message: string) {}
}

/** A batch whose `count` does not match its lines. */
export class CountMismatch extends Error {}

/**
 * The values of newline-delimited JSON `text` holding `count` lines: parsed in one
 * `JSON.parse` call, or line by line when that fails (then each bad line becomes an
 * {@link InvalidLine}).
 */
export function parseLines(text: string, count: number, wide: boolean): unknown[] {
  const body = text.endsWith("\n") ? text.slice(0, -1) : text;
  if (count === 0) {
    if (body.trim() !== "") throw mismatch(count, body);
    return [];
  }
  // JSON never holds a raw newline inside a value, so the lines join into one array.
  try {
    const all = parseJson(`[${body.replaceAll("\n", ",")}]`, wide) as unknown[];
    if (all.length === count) return all;
  } catch {
    // Some line is not JSON: find which, below.
  }
  const lines = body.split("\n");
  if (lines.length !== count) throw mismatch(count, body);
  return lines.map((line) => {
    try {
      return parseJson(line, wide);
    } catch (e) {
      return new InvalidLine(e instanceof Error ? e.message : String(e));
    }
  });
}

function mismatch(count: number, body: string): CountMismatch {
  const lines = body === "" ? 0 : body.split("\n").length;
  return new CountMismatch(`batch count is ${count} but its data holds ${lines} lines`);
}
