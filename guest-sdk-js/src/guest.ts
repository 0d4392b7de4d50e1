/**
 * The component's `moose:app/guest` export, wired to the user's app. The build's
 * generated entry calls {@link exportGuest}; users never do.
 */

import { App } from "./app.js";
import { connectHost, type Batch, type HostImports } from "./host.js";
import type { WindowBounds } from "./window.js";

/** Finds the app a module exports: `export default app`, or an export named `app`. */
export function findApp(module: Record<string, unknown>): App {
  if (module["default"] instanceof App) return module["default"];
  if (module["app"] instanceof App) return module["app"];
  const apps = Object.values(module).filter((v): v is App => v instanceof App);
  if (apps.length === 1) return apps[0]!;
  throw new Error(
    apps.length === 0
      ? "the entry module exports no App: add `export default app`"
      : "the entry module exports several Apps: `export default` the one to run",
  );
}

/** The `guest` interface object for the component bindings. */
export function exportGuest(module: Record<string, unknown>, host: HostImports) {
  connectHost(host);
  const app = findApp(module);
  return {
    describe: () => app.describe(),
    process: (name: string, input: Batch) => app.process(name, input),
    handleApi: (api: string, params: Uint8Array) => app.handleApi(api, params),
    windowInit: (name: string, window: WindowBounds) => app.windowInit(name, window),
    windowAccumulate: (name: string, window: WindowBounds, state: Uint8Array, input: Batch) =>
      app.windowAccumulate(name, window, state, input),
    windowMerge: (name: string, window: WindowBounds, a: Uint8Array, b: Uint8Array) => app.windowMerge(name, window, a, b),
    windowEmit: (name: string, window: WindowBounds, state: Uint8Array) => app.windowEmit(name, window, state),
  };
}
