// What TypeScript authors reach for in the JavaScript standard library: `Intl` with real
// time zones, dates, numbers, strings and collections. `probe()` answers the same inside a
// component and on native Node (tests/tests/end_to_end/conformance.rs compares them).

const instant = new Date(Date.UTC(2024, 6, 1, 12, 0, 0));

function inZone(timeZone: string): string {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "shortOffset",
  }).format(instant);
}

export function probe(): Record<string, unknown> {
  const sorted = ["b", "a", "C"].sort((x, y) => x.localeCompare(y, "en"));
  const match = /(?<year>\d{4})-(?<month>\d{2})/u.exec("on 2024-07 we")?.groups ?? {};
  return {
    intl: [inZone("Europe/Paris"), inZone("America/New_York"), inZone("Asia/Kolkata")],
    resolvedZone: new Intl.DateTimeFormat("en", { timeZone: "Europe/Paris" }).resolvedOptions().timeZone,
    number: new Intl.NumberFormat("en-US", { style: "currency", currency: "EUR" }).format(1234.5),
    plural: new Intl.PluralRules("en").select(1),
    sorted,
    regexp: match,
    json: JSON.parse(JSON.stringify({ a: [1, 2.5, "x"], b: null })),
    math: [Math.round(Math.hypot(3, 4)), Math.trunc(-2.7), Number((0.1 + 0.2).toFixed(2))],
    bigint: (2n ** 64n - 1n).toString(),
    iso: instant.toISOString(),
    collections: [...new Map([["k", 1]]).entries(), ...new Set([1, 1, 2])],
  };
}
