/**
 * The host's imports (`moose:app/host`): logging and read-only queries.
 *
 * Inside a component the generated entry connects them with {@link connectHost}; in
 * plain Node.js (unit tests) set a stand-in with the same function.
 */

/** Severity of a log message. */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

/** A value bound to `{name:Type}` in SQL, in ClickHouse's Escaped text form. */
export interface QueryParam {
  name: string;
  value: string;
}

/** Records as one buffer of newline-delimited JSON (`moose:app/types.batch`). */
export interface Batch {
  encoding: "json";
  count: number;
  data: Uint8Array;
}

/** What the host provides. `query` throws `{payload: {tag, val}}` on failure, as the
 * component bindings do for a `result` error. */
export interface HostImports {
  log(level: LogLevel, message: string): void;
  query(sql: string, params: QueryParam[]): Batch;
}

let current: HostImports | undefined;

/** Connects the SDK to the host (or, in tests, to a stand-in). */
export function connectHost(host: HostImports | undefined): void {
  current = host;
}

/** The connected host, if any. */
export function connectedHost(): HostImports | undefined {
  return current;
}

function emit(level: LogLevel, message: string): void {
  if (current !== undefined) current.log(level, message);
  else console.error(`[${level.toUpperCase()}] ${message}`);
}

/** Logs through the host, attributed to the component. */
export const log = {
  trace: (message: string): void => emit("trace", message),
  debug: (message: string): void => emit("debug", message),
  info: (message: string): void => emit("info", message),
  warn: (message: string): void => emit("warn", message),
  error: (message: string): void => emit("error", message),
};
