/**
 * What a component cannot do, made to fail like JavaScript does: the engine's `fetch`
 * would stop the whole call (components have no network), so it is replaced by one that
 * throws an ordinary `TypeError` a function can catch, or that fails just its record.
 *
 * The build imports this module before the app's, so it holds from the first line of
 * user code on.
 */

function unavailable(api: string): () => never {
  return () => {
    throw new TypeError(`${api} is not available in Moose components: they have no network access`);
  };
}

Object.defineProperty(globalThis, "fetch", {
  value: unavailable("fetch()"),
  writable: true,
  configurable: true,
});
