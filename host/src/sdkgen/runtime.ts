// ---------------------------------------------------------------- client runtime

/**
 * A 64-bit integer (`Int64`, `UInt64`): a number, or a string of digits for values
 * beyond `Number.MAX_SAFE_INTEGER` (2^53 - 1). Send big values as strings; responses
 * carry them as strings, so no value is ever silently rounded.
 */
export type WideInt = number | string;

/** A 64-bit query parameter: every form is sent exactly. */
export type WideIntParam = number | bigint | string;

/** Options of a client. */
export interface ClientOptions {
  /** Where the app serves ingest and APIs, e.g. `http://localhost:4000`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>` when given. */
  apiKey?: string;
  /** Extra headers for every request. */
  headers?: Record<string, string>;
  /** The `fetch` to use; the global one by default (Node 18+, browsers). */
  fetch?: typeof fetch;
}

/**
 * An error answer of the app (`status` is its HTTP status: 400 bad record or parameter,
 * 401 no or bad API key, 404 unknown endpoint, 413 body or result too large, 503 store
 * unavailable, ...), or status 0 when the app could not be reached. `message` is the
 * server's own message; `body` the parsed answer.
 */
export class MooseError extends Error {
  readonly status: number;
  readonly body: unknown;

  constructor(status: number, message: string, body?: unknown) {
    super(message);
    this.name = "MooseError";
    this.status = status;
    this.body = body;
  }
}

/** One problem of one rejected record. */
export interface IngestProblem {
  /** Index of the record in the array given to the ingest method. */
  index: number;
  /** Path of the field (`items[2].sku`), empty for the record itself. */
  field: string;
  problem: string;
}

/** What the server answered for one batch of records. */
export interface IngestBatchResult {
  /** Index of the batch's first record in the array given to the ingest method. */
  start: number;
  /** Records in the batch. */
  count: number;
  /** Records written durably. */
  accepted: number;
  /** Records that failed validation (sent to the dead-letter stream). */
  rejected: number;
  problems: IngestProblem[];
}

/** Limits of the bodies an ingest method sends. */
export interface IngestOptions {
  /** Records per request at most; 1000 by default. */
  maxRecords?: number;
  /**
   * Bytes per request body at most (the server refuses bodies above its
   * `[http] max_body_bytes`, 16 MiB by default, with 413); 1 MiB by default. A single
   * record larger than this is sent alone.
   */
  maxBytes?: number;
}

/**
 * An ingest that did not fully succeed. Status 400 with `problems`: some records failed
 * validation, every batch was still sent and the valid records were accepted (resend only
 * the rejected ones). Any other status: the batch failed and later batches were not sent.
 * `results` holds the answer of every batch sent before the failure (and all of them for a
 * validation failure).
 */
export class IngestError extends MooseError {
  readonly results: IngestBatchResult[];
  readonly problems: IngestProblem[];

  constructor(
    status: number,
    message: string,
    body: unknown,
    results: IngestBatchResult[],
    problems: IngestProblem[],
  ) {
    super(status, message, body);
    this.name = "IngestError";
    this.results = results;
    this.problems = problems;
  }
}

type QueryValue = string | number | bigint | boolean;

/** How a response value is converted after parsing (see `Transport.query`). */
type Conv = "float" | "decimal" | { array: Conv } | { map: Conv } | { model: string };

/** HTTP to the app: requests, errors, batching and exact JSON parsing. */
export class Transport {
  readonly #baseUrl: string;
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof fetch;
  readonly #shapes: Record<string, Record<string, Conv>>;

  constructor(options: ClientOptions, shapes: Record<string, Record<string, Conv>>) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#headers = { ...options.headers };
    if (options.apiKey !== undefined) {
      this.#headers["Authorization"] = `Bearer ${options.apiKey}`;
    }
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#shapes = shapes;
  }

  /** Sends one request; the body text of a 2xx answer, else throws a `MooseError`. */
  async request(
    method: string,
    path: string,
    body?: { contentType: string; text: string },
  ): Promise<string> {
    const headers: Record<string, string> = { Accept: "application/json", ...this.#headers };
    if (body !== undefined) {
      headers["Content-Type"] = body.contentType;
    }
    let response: Response;
    try {
      response = await this.#fetch(this.#baseUrl + path, { method, headers, body: body?.text });
    } catch (error) {
      throw new MooseError(0, `could not reach ${this.#baseUrl}: ${String(error)}`);
    }
    const text = await response.text();
    if (response.ok) {
      return text;
    }
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: the text itself is the message.
    }
    const message =
      isObject(parsed) && typeof parsed["error"] === "string"
        ? parsed["error"]
        : text.trim() || `${response.status} ${response.statusText}`;
    throw new MooseError(response.status, message, parsed);
  }

  /** Calls a query API; rows of model `model`, exactly as sent (see `WideInt`). */
  async query<Row>(
    path: string,
    params: Record<string, QueryValue | readonly QueryValue[] | null | undefined>,
    model: string,
  ): Promise<Row[]> {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (item !== undefined && item !== null) {
          query.append(name, String(item));
        }
      }
    }
    const search = query.toString();
    const text = await this.request("GET", search ? `${path}?${search}` : path);
    const rows = parseExact(text);
    if (!Array.isArray(rows)) {
      throw new MooseError(200, `expected a JSON array of rows from ${path}`, rows);
    }
    return rows.map((row) => this.#restore(row, { model })) as Row[];
  }

  /**
   * Posts `records` to ingest route `route` (`name` or `name/version`) in NDJSON bodies
   * within `options`' limits.
   */
  async ingest(
    route: string,
    records: readonly unknown[],
    options: IngestOptions = {},
  ): Promise<IngestBatchResult[]> {
    const maxRecords = Math.max(1, options.maxRecords ?? 1000);
    const maxBytes = Math.max(1, options.maxBytes ?? 1 << 20);
    const path = `/ingest/${route.split("/").map(encodeURIComponent).join("/")}`;
    const encoder = new TextEncoder();
    const results: IngestBatchResult[] = [];
    let lines: string[] = [];
    let bytes = 0;
    let start = 0;
    const send = async (): Promise<void> => {
      const count = lines.length;
      const text = lines.join("\n");
      lines = [];
      bytes = 0;
      const result: IngestBatchResult = { start, count, accepted: 0, rejected: 0, problems: [] };
      try {
        const answer: unknown = JSON.parse(await this.request("POST", path, {
          contentType: "application/x-ndjson",
          text,
        }));
        result.accepted = isObject(answer) && typeof answer["accepted"] === "number" ? answer["accepted"] : count;
      } catch (error) {
        const rejected = error instanceof MooseError && error.status === 400 ? rejection(error.body) : undefined;
        if (rejected === undefined) {
          const status = error instanceof MooseError ? error.status : 0;
          throw new IngestError(
            status,
            `${error instanceof Error ? error.message : String(error)} (records ${start} to ${start + count - 1}; ${results.length} earlier batch(es) sent)`,
            error instanceof MooseError ? error.body : undefined,
            results,
            results.flatMap((r) => r.problems),
          );
        }
        result.accepted = rejected.accepted;
        result.rejected = rejected.rejected;
        result.problems = rejected.problems.map((p) => ({ ...p, index: p.index + start }));
      }
      results.push(result);
      start += count;
    };
    for (const record of records) {
      const line = JSON.stringify(record);
      const size = encoder.encode(line).length + 1;
      if (lines.length > 0 && (lines.length >= maxRecords || bytes + size > maxBytes)) {
        await send();
      }
      lines.push(line);
      bytes += size;
    }
    if (lines.length > 0) {
      await send();
    }
    const problems = results.flatMap((r) => r.problems);
    if (problems.length > 0) {
      const rejected = results.reduce((n, r) => n + r.rejected, 0);
      const shown = problems
        .slice(0, 5)
        .map((p) => `record ${p.index}: ${p.field ? `field \`${p.field}\`: ` : ""}${p.problem}`)
        .join("; ");
      const more = problems.length > 5 ? `; and ${problems.length - 5} more` : "";
      throw new IngestError(
        400,
        `${rejected} of ${records.length} record(s) failed validation (the others were accepted): ${shown}${more}`,
        undefined,
        results,
        problems,
      );
    }
    return results;
  }

  #restore(value: unknown, conv: Conv): unknown {
    if (value === null || value === undefined) {
      return value;
    }
    if (conv === "float") {
      return typeof value === "string" ? Number(value) : value;
    }
    if (conv === "decimal") {
      return typeof value === "number" ? String(value) : value;
    }
    if ("array" in conv) {
      return Array.isArray(value) ? value.map((item) => this.#restore(item, conv.array)) : value;
    }
    if (!isObject(value)) {
      return value;
    }
    if ("map" in conv) {
      for (const key of Object.keys(value)) {
        value[key] = this.#restore(value[key], conv.map);
      }
      return value;
    }
    const shape = this.#shapes[conv.model];
    if (shape !== undefined) {
      for (const [field, fieldConv] of Object.entries(shape)) {
        if (field in value) {
          value[field] = this.#restore(value[field], fieldConv);
        }
      }
    }
    return value;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The `accepted`, `rejected` and `problems` of a 400 ingest answer, if it has them. */
function rejection(
  body: unknown,
): { accepted: number; rejected: number; problems: IngestProblem[] } | undefined {
  if (!isObject(body) || !Array.isArray(body["problems"])) {
    return undefined;
  }
  const problems = body["problems"].filter(isObject).map((p) => ({
    index: typeof p["index"] === "number" ? p["index"] : 0,
    field: typeof p["field"] === "string" ? p["field"] : "",
    problem: typeof p["problem"] === "string" ? p["problem"] : "",
  }));
  return {
    accepted: typeof body["accepted"] === "number" ? body["accepted"] : 0,
    rejected: typeof body["rejected"] === "number" ? body["rejected"] : problems.length,
    problems,
  };
}

/**
 * `JSON.parse`, except that integers beyond `Number.MAX_SAFE_INTEGER` become strings of
 * their exact digits instead of rounded numbers.
 */
function parseExact(text: string): unknown {
  if (!/\d{16}/.test(text)) {
    return JSON.parse(text);
  }
  let out = "";
  let copied = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === "\\") {
          i++;
        }
      }
      i++;
    } else if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) {
      const start = i;
      for (i++; i < text.length && /[0-9eE.+-]/.test(text[i] ?? ""); i++) {
        // Scan the whole number literal.
      }
      const literal = text.slice(start, i);
      if (/^-?[0-9]+$/.test(literal) && !Number.isSafeInteger(Number(literal))) {
        out += `${text.slice(copied, start)}"${literal}"`;
        copied = i;
      }
    } else {
      i++;
    }
  }
  return JSON.parse(out + text.slice(copied));
}
