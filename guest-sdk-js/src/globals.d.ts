// The console of the component's engine (its output goes to the host's stderr).
interface Console {
  log(...data: unknown[]): void;
  info(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
  debug(...data: unknown[]): void;
}
declare var console: Console;

/** Not available in components (they have no network access): throws a `TypeError`. */
declare function fetch(input: unknown, init?: unknown): Promise<never>;
