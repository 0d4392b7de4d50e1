#!/usr/bin/env node
// Builds the TypeScript/JavaScript app in the current directory into a WebAssembly
// component:
//
//   node node_modules/@moose/guest/bin/moose-build.mjs --wit WIT_DIR --world moose-app --out OUT.wasm
//       [--dev-source SOURCE.js --runtime-cache DIR]
//
// 1. finds the entry (package.json `"moose": {"entry": ...}`, else app.ts, src/app.ts,
//    app.js, src/app.js);
// 2. type-checks TypeScript (strict, with the project's tsconfig.json if any) while
//    esbuild bundles in its own process; a type error fails the build;
// 3. bundles the entry and a generated export module into one ES module (esbuild); when
//    the code uses `Intl` or `toLocale*String`, which the component's engine lacks, the
//    bundle also carries FormatJS's Intl polyfills (DateTimeFormat with every time zone,
//    NumberFormat, PluralRules, Locale) with the data of the locales in package.json
//    `"moose": {"intlLocales": [...]}` (default `["en"]`);
// 4. declares the app once in Node.js, so a mistake in the declaration is reported
//    with its place in the user's source;
// 5. runs componentize-js on the bundle.
//
// With `--dev-source` (`moose dev`), steps 3 and 5 change: the app is bundled as a
// CommonJS module without the SDK and written to SOURCE.js, and OUT.wasm is the
// development runtime (world `moose-dev-runtime`: the engine, the SDK and, when the app
// uses them, the Intl polyfills) that evaluates it when instantiated. The runtime is built
// once per SDK, WIT and locale set into DIR and copied from there; an edit costs the type
// check and the bundle.
//
// User errors print as `path:line:col: error: message` on stderr and exit with 1.

import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HOST_MODULE = "moose:app/host@0.1.0";
const DEV_SOURCE_MODULE = "moose:app/dev-source@0.1.0";
const DEV_WORLD = "moose-dev-runtime";
/** What an app's development bundle imports from the runtime rather than carrying. */
const RUNTIME_MODULES = ["@moose/guest", "@moose/guest/guest", "@moose/guest/sandbox", HOST_MODULE];
/** The name of the generated export module in bundles and stack traces. */
const ENTRY_NAME = "moose-entry.js";
const ENTRY_CANDIDATES = ["app.ts", "src/app.ts", "app.js", "src/app.js"];
const sdkDir = realpathSync(resolve(dirname(fileURLToPath(import.meta.url)), ".."));
const require = createRequire(import.meta.url);

/** A failure to report to the user: already formatted lines. */
class UserError extends Error {
  constructor(lines) {
    super(lines.join("\n"));
    this.lines = lines;
  }
}

const USAGE = "moose-build.mjs --wit WIT_DIR --world WORLD --out OUT.wasm [--dev-source SOURCE.js --runtime-cache DIR]";

function parseArgs(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (!["--wit", "--world", "--out", "--dev-source", "--runtime-cache"].includes(flag) || value === undefined) {
      throw new UserError([`error: usage: ${USAGE} (got ${flag})`]);
    }
    options[flag.slice(2)] = flag === "--world" ? value : resolve(value);
  }
  for (const required of ["wit", "world", "out"]) {
    if (options[required] === undefined) throw new UserError([`error: --${required} is required`]);
  }
  if ((options["dev-source"] === undefined) !== (options["runtime-cache"] === undefined)) {
    throw new UserError([`error: --dev-source and --runtime-cache go together: ${USAGE}`]);
  }
  return options;
}

function display(file) {
  const rel = relative(process.cwd(), file);
  return rel.startsWith("..") || isAbsolute(rel) ? file : rel;
}

function findEntry(project) {
  const manifest = join(project, "package.json");
  if (existsSync(manifest)) {
    let entry;
    try {
      entry = JSON.parse(readFileSync(manifest, "utf8"))?.moose?.entry;
    } catch (e) {
      throw new UserError([`package.json: error: ${e.message}`]);
    }
    if (entry !== undefined) {
      const path = resolve(project, String(entry));
      if (!existsSync(path)) throw new UserError([`package.json: error: moose.entry ${JSON.stringify(entry)} does not exist`]);
      return path;
    }
  }
  for (const candidate of ENTRY_CANDIDATES) {
    const path = join(project, candidate);
    if (existsSync(path)) return path;
  }
  throw new UserError([`error: no app entry found: add ${ENTRY_CANDIDATES.join(", ")} or set "moose": {"entry": "..."} in package.json`]);
}

const DEFAULT_COMPILER_OPTIONS = {
  target: "ES2022",
  lib: ["ES2023"],
  module: "ESNext",
  moduleResolution: "bundler",
  strict: true,
  skipLibCheck: true,
  isolatedModules: true,
  types: [],
};

/** Type-checks the project; returns the error lines of the user's files. */
function typeCheck(project, entry) {
  const ts = require("typescript");
  const configPath = join(project, "tsconfig.json");
  let options;
  let rootNames = [entry];
  const format = (d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    if (d.file === undefined || d.start === undefined) return `error: ${text}`;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${display(d.file.fileName)}:${line + 1}:${character + 1}: error: ${text}`;
  };
  if (existsSync(configPath)) {
    const read = ts.readConfigFile(configPath, ts.sys.readFile);
    if (read.error) return [format(read.error)];
    const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, project, undefined, configPath);
    if (parsed.errors.length > 0) return parsed.errors.map(format);
    options = parsed.options;
    rootNames = [...new Set([...parsed.fileNames, entry])];
  } else {
    options = ts.convertCompilerOptionsFromJson(DEFAULT_COMPILER_OPTIONS, project).options;
  }
  options = { ...options, strict: true, noEmit: true };
  const program = ts.createProgram({ rootNames, options });
  const inSdk = (d) => d.file !== undefined && realpathSync(d.file.fileName).startsWith(sdkDir + sep);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.category === ts.DiagnosticCategory.Error && !inSdk(d))
    .map(format);
}

/** The virtual module that installs the Intl polyfills (see the file's header). */
const INTL_MODULE = "moose:intl";

/** The locales whose Intl data components carry: package.json `moose.intlLocales`. */
function intlLocales(project) {
  const manifest = join(project, "package.json");
  const locales = existsSync(manifest) ? JSON.parse(readFileSync(manifest, "utf8")).moose?.intlLocales : undefined;
  if (locales === undefined) return ["en"];
  if (!Array.isArray(locales) || locales.length === 0 || !locales.every((l) => typeof l === "string" && /^[A-Za-z0-9-]+$/.test(l))) {
    throw new UserError([`${display(manifest)}: error: "moose": {"intlLocales": ...} must list locale tags such as "en" or "fr-CA"`]);
  }
  for (const locale of locales) {
    try {
      require.resolve(`@formatjs/intl-datetimeformat/locale-data/${locale}.js`);
    } catch {
      throw new UserError([`${display(manifest)}: error: no Intl data for locale "${locale}" (intlLocales)`]);
    }
  }
  return locales;
}

/** Resolves {@link INTL_MODULE}: the polyfills, then each locale's data, from the SDK's
 * own dependencies. */
function intlPolyfills(locales) {
  // ES imports run before the module's own statements: the `Intl` object comes first,
  // from a module of its own.
  const lines = [
    `import "moose:intl-base";`,
    `import "@formatjs/intl-getcanonicallocales/polyfill-force.js";`,
    `import "@formatjs/intl-locale/polyfill-force.js";`,
    `import "@formatjs/intl-pluralrules/polyfill-force.js";`,
    `import "@formatjs/intl-numberformat/polyfill-force.js";`,
    `import "@formatjs/intl-datetimeformat/polyfill-force.js";`,
    `import "@formatjs/intl-datetimeformat/add-all-tz.js";`,
  ];
  for (const locale of locales) {
    for (const api of ["pluralrules", "numberformat", "datetimeformat"]) {
      // Plural rules are per language: `en-GB` uses `en`'s.
      const data = [locale, locale.split("-")[0]]
        .map((l) => `@formatjs/intl-${api}/locale-data/${l}.js`)
        .find((module) => {
          try {
            return require.resolve(module) !== undefined;
          } catch {
            return false;
          }
        });
      if (data !== undefined) lines.push(`import ${JSON.stringify(data)};`);
    }
  }
  const base = `if (typeof globalThis.Intl === "undefined") globalThis.Intl = {};`;
  return {
    name: "moose-intl",
    setup(build) {
      build.onResolve({ filter: /^moose:intl(-base)?$/ }, (args) => ({ path: args.path, namespace: "moose-intl" }));
      build.onLoad({ filter: /.*/, namespace: "moose-intl" }, (args) => ({
        contents: args.path === INTL_MODULE ? [...new Set(lines)].join("\n") : base,
        resolveDir: sdkDir,
        loader: "js",
      }));
    },
  };
}

/** The code uses what the component's engine lacks and the polyfills provide. */
function usesIntl(code) {
  return /\bIntl\b|\.toLocale(?:Date|Time)?String\b/.test(code);
}

/** The module the component exports: the user's app wired to the guest interface. */
function entrySource(entry, intl = false) {
  return [
    `import "@moose/guest/sandbox";`,
    ...(intl ? [`import ${JSON.stringify(INTL_MODULE)};`] : []),
    `import * as host from ${JSON.stringify(HOST_MODULE)};`,
    `import { exportGuest } from "@moose/guest/guest";`,
    `import * as app from ${JSON.stringify(entry)};`,
    `export const guest = exportGuest(app, host);`,
  ].join("\n");
}

/** Answers the host imports while the app is declared in Node.js. */
const stubHost = {
  name: "moose-stub-host",
  setup(build) {
    build.onResolve({ filter: /^moose:app\/host@/ }, (args) => ({ path: args.path, namespace: "moose-stub" }));
    build.onLoad({ filter: /.*/, namespace: "moose-stub" }, () => ({
      contents:
        "export function log(level, message) { console.error(`[${level}] ${message}`); }\n" +
        "export function query() { throw { payload: { tag: 'unavailable', val: 'no OLAP store while building' } }; }\n",
      loader: "js",
    }));
  },
};

/** Runs esbuild with the options every bundle shares; build errors become user errors
 * naming the file and line. */
async function esbuild(project, options) {
  const result = await require("esbuild")
    .build({
      bundle: true,
      platform: "neutral",
      mainFields: ["module", "main"],
      target: "es2022",
      write: false,
      logLevel: "silent",
      legalComments: "none",
      ...options,
    })
    .catch((e) => {
      if (!Array.isArray(e.errors)) throw e;
      throw new UserError(
        e.errors.map((m) =>
          m.location ? `${display(resolve(project, m.location.file))}:${m.location.line}:${m.location.column + 1}: error: ${m.text}` : `error: ${m.text}`,
        ),
      );
    });
  return result.outputFiles[0].text;
}

/** The bundled module: for componentize-js, or with `checkFile`, for Node.js with the
 * host imports stubbed and an inline source map. */
function bundle(project, entry, checkFile, locales) {
  return esbuild(project, {
    stdin: { contents: entrySource(entry, locales !== undefined), resolveDir: project, sourcefile: ENTRY_NAME, loader: "js" },
    format: "esm",
    ...(checkFile !== undefined
      ? { plugins: [stubHost], sourcemap: "inline", sourcesContent: false, outfile: checkFile }
      : { external: [HOST_MODULE], plugins: locales === undefined ? [] : [intlPolyfills(locales)] }),
  });
}

/** The app alone as a CommonJS module, for the development runtime: the SDK and the host
 * imports come from the runtime. */
function devBundle(project, entry) {
  return esbuild(project, { entryPoints: [entry], format: "cjs", external: RUNTIME_MODULES });
}

/** The development runtime's export module: it evaluates the app's development bundle
 * (see {@link devBundle}) on an instance's first call. */
function runtimeSource(intl) {
  return [
    `import "@moose/guest/sandbox";`,
    ...(intl ? [`import ${JSON.stringify(INTL_MODULE)};`] : []),
    `import * as host from ${JSON.stringify(HOST_MODULE)};`,
    `import { source } from ${JSON.stringify(DEV_SOURCE_MODULE)};`,
    `import * as sdk from "@moose/guest";`,
    `import * as sdkGuest from "@moose/guest/guest";`,
    `const modules = { "@moose/guest": sdk, "@moose/guest/guest": sdkGuest, "@moose/guest/sandbox": {}, ${JSON.stringify(HOST_MODULE)}: host };`,
    `function require(name) {`,
    `  if (Object.hasOwn(modules, name)) return modules[name];`,
    `  throw new Error("Cannot find module '" + name + "' in the development runtime");`,
    `}`,
    `let app;`,
    `function loaded() {`,
    `  if (app === undefined) {`,
    `    const module = { exports: {} };`,
    `    new Function("require", "module", "exports", source() + "\\n//# sourceURL=app.js")(require, module, module.exports);`,
    `    app = sdkGuest.exportGuest(module.exports, host);`,
    `  }`,
    `  return app;`,
    `}`,
    `export const guest = {`,
    ...["describe", "process", "handleApi", "windowInit", "windowAccumulate", "windowMerge", "windowEmit"].map(
      (call) => `  ${call}: (...args) => loaded().${call}(...args),`,
    ),
    `};`,
  ].join("\n");
}

/** Every file under `dir`, sorted, as paths relative to it. */
function filesUnder(dir, prefix = "") {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) => (e.isDirectory() ? filesUnder(dir, join(prefix, e.name)) : e.isFile() ? [join(prefix, e.name)] : []));
}

/** The package.json of installed package `name`, found from its resolved entry. */
function packageManifest(name) {
  let dir = dirname(fileURLToPath(import.meta.resolve(name)));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, "package.json");
}

/** The development runtime for `locales` (none: without Intl), from `options["runtime-cache"]`
 * or built into it: keyed by the SDK's sources, componentize-js, the WIT and the locales. */
async function devRuntime(project, options, locales) {
  const hash = createHash("sha256");
  const hashFiles = (dir) => {
    for (const file of filesUnder(dir)) hash.update(`${file}\0`).update(readFileSync(join(dir, file)));
  };
  hashFiles(join(sdkDir, "src"));
  hashFiles(options.wit);
  hash.update(readFileSync(join(sdkDir, "package.json")));
  hash.update(readFileSync(packageManifest("@bytecodealliance/componentize-js")));
  hash.update(runtimeSource(locales !== undefined));
  hash.update(JSON.stringify(locales ?? null));
  const cache = options["runtime-cache"];
  const runtime = join(cache, `js-${hash.digest("hex").slice(0, 32)}.wasm`);
  if (existsSync(runtime)) return runtime;
  process.stderr.write("  building the TypeScript development runtime (once per SDK version)...\n");
  await mkdir(cache, { recursive: true });
  const workDir = await mkdtemp(join(tmpdir(), "moose-runtime-"));
  const partial = `${runtime}.${process.pid}.partial`;
  try {
    const code = await esbuild(project, {
      stdin: { contents: runtimeSource(locales !== undefined), resolveDir: project, sourcefile: "moose-dev-runtime.js", loader: "js" },
      format: "esm",
      external: [HOST_MODULE, DEV_SOURCE_MODULE],
      plugins: locales === undefined ? [] : [intlPolyfills(locales)],
    });
    const bundleFile = join(workDir, "runtime.js");
    await writeFile(bundleFile, code);
    await componentize(bundleFile, { ...options, world: DEV_WORLD, out: partial });
    await rename(partial, runtime);
  } finally {
    await rm(workDir, { recursive: true, force: true });
    await rm(partial, { force: true });
  }
  return runtime;
}

/** `path:line:col` of the first stack frame in the user's code, if any. */
function userFrame(error, project) {
  const stack = typeof error?.stack === "string" ? error.stack : "";
  for (const line of stack.split("\n").slice(1)) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/.exec(line);
    if (m === null) continue;
    const file = m[1].startsWith("file://") ? fileURLToPath(m[1]) : m[1];
    const user = file.startsWith(project + sep) && !file.endsWith(sep + ENTRY_NAME);
    if (user && !file.includes(`${sep}node_modules${sep}`) && !file.startsWith(sdkDir + sep)) {
      return `${display(file)}:${m[2]}:${m[3]}`;
    }
  }
  return undefined;
}

/** Declares the app in Node.js and describes it, as the component will at build time. */
async function declareApp(code, file, project, entry) {
  await writeFile(file, code);
  process.setSourceMapsEnabled(true);
  try {
    const module = await import(pathToFileURL(file).href);
    module.guest.describe();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const where = userFrame(e, project);
    throw new UserError([`${where ?? display(entry)}: error: the app failed while being declared: ${message}`]);
  }
}

async function componentize(bundleFile, options) {
  const { componentize } = await import("@bytecodealliance/componentize-js");
  try {
    const { component } = await componentize({
      sourcePath: bundleFile,
      witPath: options.wit,
      worldName: options.world,
      disableFeatures: ["http", "fetch-event"],
    });
    await writeFile(options.out, component);
  } catch (e) {
    const message = String(e?.message ?? e);
    const lines = message.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("Binary and sources available"));
    const evaluating = lines.findIndex((l) => l.includes("Exception while evaluating top-level script"));
    const detail = evaluating >= 0 ? lines.slice(evaluating + 1) : lines.slice(0, 3);
    throw new UserError([`error: componentize-js failed: ${detail.join(" ")}`]);
  }
}

/** Fails readably when the SDK's own dependencies are not installed. */
function checkToolchain() {
  for (const dependency of ["typescript", "esbuild", "@bytecodealliance/componentize-js"]) {
    try {
      import.meta.resolve(dependency);
    } catch {
      throw new UserError([`error: the JS guest SDK's dependencies are not installed: run \`npm ci\` in ${sdkDir}`]);
    }
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const dev = options["dev-source"] !== undefined;
  checkToolchain();
  const project = realpathSync(process.cwd());
  const entry = findEntry(project);
  const workDir = await mkdtemp(join(tmpdir(), "moose-build-"));
  try {
    const checkFile = join(workDir, "check.mjs");
    // esbuild bundles in its own process while the type check runs in this one.
    const bundles = Promise.all([dev ? devBundle(project, entry) : bundle(project, entry), bundle(project, entry, checkFile)]);
    bundles.catch(() => {});
    if (/\.[cm]?tsx?$/.test(entry)) {
      const errors = typeCheck(project, entry);
      if (errors.length > 0) throw new UserError(errors);
    }
    let [componentCode, nodeCode] = await bundles;
    const locales = usesIntl(componentCode) ? intlLocales(project) : undefined;
    await declareApp(nodeCode, checkFile, project, entry);
    if (dev) {
      await copyFile(await devRuntime(project, options, locales), options.out);
      await writeFile(options["dev-source"], componentCode);
      return;
    }
    if (locales !== undefined) componentCode = await bundle(project, entry, undefined, locales);
    const bundleFile = join(workDir, "component.js");
    await writeFile(bundleFile, componentCode);
    await componentize(bundleFile, options);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${e instanceof UserError ? e.lines.join("\n") : `error: ${e?.stack ?? e}`}\n`);
    process.exit(1);
  },
);
