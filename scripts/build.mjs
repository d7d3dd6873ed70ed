// Bundles the CLI (agent and controller included) into dist/fleetnet-all.cjs, its fast path (attach,
// detach, ls) into dist/fleetnet-fast.cjs and the entry that chooses between them into dist/fleetnet.cjs
// with esbuild (run by bin/fleetnet.cjs with Node's compile cache), and the agent alone into
// dist/fleetnet-agent.mjs.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';

function externalExcept(bundled) {
  return {
    name: 'external-except',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('node:') || bundled.some((p) => args.path === p || args.path.startsWith(`${p}/`)))
          return undefined;
        return { path: args.path, external: true };
      });
    },
  };
}

rmSync('dist', { recursive: true, force: true });

// `import('node:fs')` of a built-in would stay a dynamic import (a promise and the ES module
// loader's facade for a built-in): made a require() like every other import here.
const builtinDynamicImports = {
  name: 'builtin-dynamic-imports',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === 'dynamic-import' ? { path: args.path, namespace: 'builtin-cjs' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'builtin-cjs' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

// The CLI (agent and controller included) as ONE CommonJS file: a new process reads one file
// (no ES module resolution, linking or built-in facades) and compiles it once into Node's compile
// cache (bin/fleetnet.cjs). Commands still import their heavy parts lazily, so they run only when
// needed; V8 compiles a function only when it first runs.
const cjs = {
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node24',
  logLevel: 'warning',
};
// Two built-ins the CLI's common modules import at their top but a typical command never calls
// (node:crypto for MAC and name derivation, node:child_process for commander's external
// subcommands) cost every process ~3 ms to load: required on first use instead. Named imports
// compile to `import_x = require("node:x")` used as `import_x.name`, which the proxy serves;
// anything that enumerates the module (a namespace import) simply loads it then.
const LAZY_BUILTINS = ['node:crypto', 'node:child_process'];

/** One CLI bundle, dist/NAME.cjs, from one entry. */
async function cliBundle(name, entry) {
  await build({
    ...cjs,
    entryPoints: { [name]: entry },
    charset: 'ascii', // a one-byte string for V8: no UTF-8 decoding of a megabyte on every start
    // Everything from node_modules stays external except the two small libraries every CLI run
    // loads (commander, the protobuf wire codec): bundled, they cost no module resolution.
    plugins: [externalExcept(['commander', '@bufbuild/protobuf']), builtinDynamicImports],
    // The sources are ES modules: strict mode, and import.meta.url as the bundle's own file URL.
    banner: {
      js: [
        "'use strict';",
        "const __fleetnetImportMetaUrl = require('node:url').pathToFileURL(__filename).href;",
        // LAZY_BUILTINS: a stand-in that requires the module on first use of any of its names.
        'const __fleetnetLazyRequire = (id) => { let m; const get = () => (m ??= require(id)); return new ' +
          'Proxy({}, { get: (_, k) => get()[k], has: (_, k) => k in get(), ownKeys: () => Reflect.ownKeys(get()), ' +
          'getOwnPropertyDescriptor: (_, k) => { const d = Reflect.getOwnPropertyDescriptor(get(), k); ' +
          'return d && { ...d, configurable: true }; } }); };',
      ].join('\n'),
    },
    define: { 'import.meta.url': '__fleetnetImportMetaUrl' },
    // Every process reads the whole file and copies it into V8: a third smaller without
    // whitespace and with shorter syntax (names are kept, so stack traces still name functions;
    // node --enable-source-maps maps them back to the sources through the linked map).
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
  });
  const file = `dist/${name}.cjs`;
  let text = readFileSync(file, 'latin1');
  for (const id of LAZY_BUILTINS)
    text = text.replaceAll(`require(${JSON.stringify(id)})`, `__fleetnetLazyRequire(${JSON.stringify(id)})`);
  writeFileSync(file, text, 'latin1');
}
// The whole CLI (cli/main.ts); the entry bin/fleetnet.cjs runs first (cli/main-fast.ts), which answers a
// bare --version itself and requires one of the other two; and attach, detach and ls from a bundle of only
// their modules (cli/fast-bundle.ts), imported statically (no lazy wrappers to compile on every start).
await cliBundle('fleetnet-all', 'cli/main.ts');
await cliBundle('fleetnet-fast', 'cli/fast-bundle.ts');
// The agent's netlink thread (agent/linux/netlink-thread.ts), a worker started from the file beside the bundle.
await cliBundle('netlink-worker', 'agent/linux/netlink-worker.ts');
// The entry imports no package and no import.meta, and loads no built-in but what it writes with: none
// of the bundles' preamble.
await build({
  ...cjs,
  entryPoints: { fleetnet: 'cli/main-fast.ts' },
  charset: 'ascii',
  banner: { js: "'use strict';" },
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
});

// The CNI plugin executables' bundle (issue 14): the plugin is a thin client of the local agent
// and a runtime starts one process per call, so it carries only cni/plugin.ts, cni/spec.ts and
// cni/transport.ts (node:net to the agent's CNI socket), a few kilobytes with no module resolution.
// It is the fallback: the native plugin below is what `fleetnet cni install` prefers.
await build({
  ...cjs,
  entryPoints: { 'cni-plugin': 'cni/main.ts' },
  charset: 'ascii',
  plugins: [builtinDynamicImports],
  banner: { js: "'use strict';" },
  minifyWhitespace: true,
  minifySyntax: true,
});

// The native CNI plugin (cni/native/fleetnet-cni.c): what `fleetnet cni install` installs when it is
// here, because a runtime starts one plugin process per call and a Node process alone costs more than
// fleetnet's whole ADD. Static when the C library allows it (no loader at start), else dynamic; a
// machine without a C compiler builds without it and installs the Node plugin above instead. Named
// for this machine's system and CPU, like the agent's native modules below: the package may be
// installed on hosts of another CPU, which install the Node plugin.
const nativeCni = `dist/fleetnet-cni-${process.platform}-${process.arch}`;
const ccArgs = ['-O2', '-s', '-Wall', '-Wextra', '-Werror', '-o', nativeCni, 'cni/native/fleetnet-cni.c'];
const cc = process.env.CC || 'cc';
for (const args of [['-static', ...ccArgs], ccArgs]) {
  try {
    execFileSync(cc, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    break;
  } catch (err) {
    if (err.code === 'ENOENT') {
      console.warn(`build: no C compiler (${cc}): ${nativeCni} not built; fleetnet cni install uses the Node plugin`);
      break;
    }
    if (args === ccArgs) throw new Error(`build: ${cc} ${args.join(' ')} failed:\n${err.stderr}`);
  }
}

// common/pki/x509.ts loads @peculiar/x509 from node_modules at run time (after its Reflect shim);
// inside this self-contained bundle it must be inlined instead. Bundled ESM keeps import order,
// so here the plain re-export after the shim import is correct.
const x509Inline = {
  name: 'x509-inline',
  setup(b) {
    b.onLoad({ filter: /common[\\/]pki[\\/]x509\.ts$/ }, () => ({
      contents: "import './reflect-metadata.js';\nexport * from '@peculiar/x509';\n",
      loader: 'ts',
      resolveDir: 'common/pki',
    }));
  },
};

// agent/containers/dockerode-load.ts loads dockerode from node_modules when the agent first sees a Docker socket;
// this bundle has no node_modules, so there it is a require of the inlined package, which esbuild keeps lazy.
const dockerodeInline = {
  name: 'dockerode-inline',
  setup(b) {
    b.onLoad({ filter: /agent[\\/]containers[\\/]dockerode-load\.ts$/ }, () => ({
      contents: "export function loadDockerode() {\n  return require('dockerode');\n}\n",
      loader: 'js',
      resolveDir: 'agent/containers',
    }));
  },
};

// grpc-health-check reads its health.proto from beside its own files when it loads; the agent
// bundle runs where no node_modules exists, so there the package's proto-loader import is served
// the same definitions from the proto's JSON form, made here from the package's own file
// (proto-loader's public fromJSON).
const require = createRequire(import.meta.url);
const healthJson = JSON.stringify(protobuf.loadSync(require('grpc-health-check').protoPath).toJSON());
const healthProtoInline = {
  name: 'health-proto-inline',
  setup(b) {
    b.onResolve({ filter: /^@grpc\/proto-loader$/ }, (args) =>
      /[\\/]grpc-health-check[\\/]/.test(args.importer)
        ? { path: 'health-proto-loader', namespace: 'health-proto' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'health-proto' }, () => ({
      contents:
        `import { fromJSON } from '@grpc/proto-loader';\nconst json = ${healthJson};\n` +
        'export function loadSync(_file, options) { return fromJSON(json, options); }\n',
      loader: 'js',
      resolveDir: process.cwd(),
    }));
  },
};

// The agent alone, as ONE self-contained file for `fleetnet host add --ssh` to upload (issue 7):
// every package inlined; the optional native addons it never needs (ssh2's, through dockerode)
// stay out, and their loaders fall back to plain JavaScript.
await build({
  entryPoints: { 'fleetnet-agent': 'agent/bundle-entry.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  external: ['cpu-features', '*.node', 'koffi', 'netlink'],
  plugins: [x509Inline, healthProtoInline, dockerodeInline],
  banner: {
    js:
      "import { createRequire as __fnCreateRequire } from 'node:module'; import { fileURLToPath as __fnPath } " +
      "from 'node:url'; import { dirname as __fnDir } from 'node:path'; const require = " +
      '__fnCreateRequire(import.meta.url); const __filename = ' +
      '__fnPath(import.meta.url); const __dirname = __fnDir(__filename);',
  },
  logLevel: 'warning',
});

// The agent's native modules (in-process netlink: netlink, koffi and koffi's build for this CPU),
// packed for `host add --ssh` to unpack into /opt/fleetnet/node_modules on hosts of this CPU.
// Absent when node_modules lacks them; such hosts' agents run `ip -batch` instead.
const nativePkgs = ['netlink', 'node-gyp-build', 'koffi', `@koromix/koffi-${process.platform}-${process.arch}`];
if (nativePkgs.every((p) => existsSync(`node_modules/${p}/package.json`))) {
  execFileSync('tar', [
    '-czf',
    `dist/agent-native-${process.platform}-${process.arch}.tar.gz`,
    '--owner=0',
    '--group=0',
    '-C',
    'node_modules',
    ...nativePkgs,
  ]);
}
