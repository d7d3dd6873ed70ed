// Bundles the CLI (agent and controller included) into dist/ with esbuild; commands load lazily
// through code splitting, so `fleetnet --help` reads only what it needs.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';

function externalExcept(bundled) {
  return {
    name: 'external-except',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('node:') || bundled.some((p) => args.path === p || args.path.startsWith(`${p}/`))) return undefined;
        return { path: args.path, external: true };
      });
    },
  };
}

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: { fleetnet: 'cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Everything from node_modules stays external except the two small libraries every CLI run
  // loads (commander, the protobuf wire codec): bundled, they cost no module resolution.
  plugins: [externalExcept(['commander', '@bufbuild/protobuf'])],
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
  // commander is CommonJS: its require() of Node built-ins needs a real require in ESM output.
  banner: { js: "import { createRequire as __fleetnetRequire } from 'node:module'; const require = __fleetnetRequire(import.meta.url);" },
});

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
  target: 'node20',
  external: ['cpu-features', '*.node', 'koffi', 'netlink'],
  plugins: [x509Inline],
  banner: { js: "import { createRequire as __fnCreateRequire } from 'node:module'; import { fileURLToPath as __fnPath } from 'node:url'; import { dirname as __fnDir } from 'node:path'; const require = __fnCreateRequire(import.meta.url); const __filename = __fnPath(import.meta.url); const __dirname = __fnDir(__filename);" },
  logLevel: 'warning',
});

// The agent's native modules (in-process netlink: netlink, koffi and koffi's build for this CPU),
// packed for `host add --ssh` to unpack into /opt/fleetnet/node_modules on hosts of this CPU.
// Absent when node_modules lacks them; such hosts' agents run `ip -batch` instead.
const nativePkgs = ['netlink', 'node-gyp-build', 'koffi', `@koromix/koffi-${process.platform}-${process.arch}`];
if (nativePkgs.every((p) => existsSync(`node_modules/${p}/package.json`))) {
  execFileSync('tar', ['-czf', `dist/agent-native-${process.platform}-${process.arch}.tar.gz`, '--owner=0', '--group=0', '-C', 'node_modules', ...nativePkgs]);
}
