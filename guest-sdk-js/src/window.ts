/**
 * Event-time windows of windowed aggregations, and the encoding of their states.
 *
 * A state is any value built from JSON values, `bigint`s, `Date`s, `Map`s, `Set`s and
 * `undefined`; it is stored as JSON text in which the non-JSON values are tagged
 * (`{"$bigint":"9007199254740993"}`, `{"$date":1714564800000}`, `{"$map":[[k,v]]}`,
 * `{"$set":[v]}`, `{"$undefined":0}`), so it decodes to an equal value with the same
 * types. An object with a single `$`-key is escaped as `{"$object":{...}}`.
 */

import { decodeText, encodeText } from "./json.js";

/** How windows tile event time: build it with {@link tumbling} or {@link hopping}. */
export interface WindowSize {
  readonly sizeSeconds: number;
  readonly hopSeconds: number;
}

const U32_MAX = 2 ** 32 - 1;

function seconds(what: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min || value > U32_MAX) {
    throw new Error(`${what} must be a whole number of seconds from ${min} to ${U32_MAX}, got ${value}`);
  }
  return value;
}

/** Back-to-back windows of `sizeSeconds`, aligned to the Unix epoch: each record is in one. */
export function tumbling(sizeSeconds: number): WindowSize {
  const size = seconds("a window's size", sizeSeconds, 1);
  return { sizeSeconds: size, hopSeconds: size };
}

/** Windows of `sizeSeconds` starting every `hopSeconds` (overlapping when the hop is
 * smaller than the size), aligned to the Unix epoch. */
export function hopping(sizeSeconds: number, hopSeconds: number): WindowSize {
  const size = seconds("a window's size", sizeSeconds, 1);
  const hop = seconds("a window's hop", hopSeconds, 1);
  if (hop > size) throw new Error(`a window's hop (${hop} s) must not exceed its size (${size} s)`);
  return { sizeSeconds: size, hopSeconds: hop };
}

/** `allowedLateness` checked as a number of seconds. */
export function lateness(value: number): number {
  return seconds("allowedLateness", value, 0);
}

/** One window of event time: `start` inclusive, `end` exclusive. */
export interface Window {
  readonly start: Date;
  readonly end: Date;
  /** `start` in milliseconds since the Unix epoch. */
  readonly startMs: number;
  /** `end` in milliseconds since the Unix epoch. */
  readonly endMs: number;
}

/** A window as the host passes it (`moose:app/types.window-bounds`; 64-bit integers
 * arrive as `bigint`s). */
export interface WindowBounds {
  startMs: bigint | number;
  endMs: bigint | number;
}

/** The bounds as the window users see. */
export function toWindow(bounds: WindowBounds): Window {
  const startMs = Number(bounds.startMs);
  const endMs = Number(bounds.endMs);
  return { start: new Date(startMs), end: new Date(endMs), startMs, endMs };
}

/** A state that cannot be encoded or decoded. */
export class StateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StateError";
  }
}

const TAGS = new Set(["$bigint", "$date", "$map", "$set", "$undefined", "$object"]);

function plain(value: unknown, path: string): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) throw new StateError(`${path}: ${value} cannot be stored`);
      return value;
    case "bigint":
      return { $bigint: value.toString() };
    case "undefined":
      return { $undefined: 0 };
    case "object": {
      if (value === null) return null;
      if (value instanceof Date) {
        const ms = value.getTime();
        if (Number.isNaN(ms)) throw new StateError(`${path}: an invalid Date cannot be stored`);
        return { $date: ms };
      }
      if (Array.isArray(value)) return value.map((v, i) => plain(v, `${path}[${i}]`));
      if (value instanceof Map) {
        return { $map: [...value].map(([k, v], i) => [plain(k, `${path}.key${i}`), plain(v, `${path}.get(${String(k)})`)]) };
      }
      if (value instanceof Set) return { $set: [...value].map((v, i) => plain(v, `${path}.item${i}`)) };
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        if (v !== undefined) out[k] = plain(v, `${path}.${k}`);
      }
      const keys = Object.keys(out);
      return keys.length === 1 && keys[0]!.startsWith("$") ? { $object: out } : out;
    }
    default:
      throw new StateError(`${path}: a ${typeof value} cannot be stored`);
  }
}

function revive(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(revive);
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  if (keys.length === 1 && TAGS.has(keys[0]!)) {
    const inner = object[keys[0]!];
    switch (keys[0]) {
      case "$bigint":
        if (typeof inner === "string" && /^-?\d+$/.test(inner)) return BigInt(inner);
        break;
      case "$date":
        if (typeof inner === "number") return new Date(inner);
        break;
      case "$map":
        if (Array.isArray(inner)) {
          return new Map(inner.map((entry) => {
            if (!Array.isArray(entry) || entry.length !== 2) throw new StateError("a `$map` entry is not a [key, value] pair");
            return [revive(entry[0]), revive(entry[1])];
          }));
        }
        break;
      case "$set":
        if (Array.isArray(inner)) return new Set(inner.map(revive));
        break;
      case "$undefined":
        return undefined;
      case "$object":
        if (typeof inner === "object" && inner !== null && !Array.isArray(inner)) return reviveFields(inner as Record<string, unknown>);
        break;
    }
    throw new StateError(`malformed ${keys[0]} value: ${JSON.stringify(inner)}`);
  }
  return reviveFields(object);
}

function reviveFields(object: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(object)) out[k] = revive(v);
  return out;
}

/** A state as the bytes the host keeps. */
export function encodeState(state: unknown): Uint8Array {
  return encodeText(JSON.stringify(plain(state, "state")));
}

/** Bytes from {@link encodeState} as the state they encode. */
export function decodeState(data: Uint8Array): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decodeText(data));
  } catch (e) {
    throw new StateError(`the state is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return revive(parsed);
}
