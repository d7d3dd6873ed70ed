// Bundles the CLI (agent and controller included) into dist/ with esbuild; commands load lazily
// through code splitting, so `fleetnet --help` reads only what it needs.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

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
