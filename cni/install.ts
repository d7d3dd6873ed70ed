// `fleetnet cni install`: the two plugin executables into the CNI plugin directory, and an example
// network configuration list. Each executable is a copy of the native plugin (dist/fleetnet-cni-<os>-<cpu>,
// cni/native/fleetnet-cni.c: it starts in a millisecond, a Node process in tens) when this
// installation has one, else a three-line launcher: Node's compile cache on, then the plugin bundle
// of this installation (dist/cni-plugin.cjs). Both are thin clients of the agent and behave alike.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { invalid } from '../common/errors.js';
import { parseIfName } from '../common/ifname.js';
import { parseNetwork } from '../common/ip.js';
import { isSupportedVersion, SUPPORTED_VERSIONS } from './spec.js';

export const PLUGIN_NAMES = ['fleetnet', 'fleetnet-ipam'] as const;

export interface InstallOptions {
  binDir: string;
  confDir: string;
  /** dist/cni-plugin.cjs of this installation. */
  bundle: string;
  /** The Node.js to run the plugin with (the runtime's PATH may not hold one). */
  node: string;
  /**
   * dist/fleetnet-cni-<os>-<cpu> of this installation, for this host: installed when it exists, unless `nodePlugin`.
   */
  native: string;
  /** Install the Node plugin even when the native one exists. */
  nodePlugin: boolean;
  network: string;
  kind: 'bridge' | 'ovs' | 'macvlan';
  bridge?: string;
  subnet?: string;
  /** Write `<network>.conflist` (live) instead of `<network>.conflist.example`. */
  enable: boolean;
  /** The conflist's cniVersion (default CONFLIST_VERSION). */
  cniVersion?: string;
}

export interface InstallResult {
  plugins: string[];
  /** Which plugin the executables are. */
  implementation: 'native' | 'node';
  conflist: string;
}

export function launcher(node: string, bundle: string): string {
  return [
    `#!${node}`,
    '// fleetnet CNI plugin (written by `fleetnet cni install`): runs the plugin bundle of that fleetnet.',
    "'use strict';",
    "require('node:module').enableCompileCache();",
    `require(${JSON.stringify(bundle)});`,
    '',
  ].join('\n');
}

/**
 * The cniVersion `cni install` writes unless told: 1.0.0, the newest that podman 4.3 (Debian 12) and containerd 1.6
 * read; a runtime that sends GC and STATUS wants 1.1.0 (--cni-version).
 */
export const CONFLIST_VERSION = '1.0.0';

export function exampleConflist(
  o: Pick<InstallOptions, 'network' | 'kind' | 'bridge' | 'subnet' | 'cniVersion'>,
): object {
  const link =
    o.kind === 'macvlan' ? { master: o.bridge ?? 'eth0' } : { bridge: o.bridge ?? `br-${o.network}`.slice(0, 15) };
  return {
    cniVersion: o.cniVersion ?? CONFLIST_VERSION,
    name: o.network,
    plugins: [
      { type: 'fleetnet', network: o.network, kind: o.kind, ...link, ...(o.subnet ? { subnet: o.subnet } : {}) },
    ],
  };
}

function writeAtomic(path: string, text: string | Buffer, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path); // a runtime running the plugin right now sees the old file or the new one
}

export function installCni(o: InstallOptions): InstallResult {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(o.network))
    throw invalid(
      `network name '${o.network}' is not a CNI network name`,
      'letters, digits, _ . - (starting with a letter or digit)',
    );
  if (o.bridge) parseIfName(o.bridge, o.kind === 'macvlan' ? '--master' : '--bridge');
  if (o.subnet) parseNetwork(o.subnet);
  if (o.cniVersion !== undefined && !isSupportedVersion(o.cniVersion))
    throw invalid(
      `--cni-version ${o.cniVersion} is not a version the plugin speaks`,
      `use ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  const implementation = !o.nodePlugin && existsSync(o.native) ? 'native' : 'node';
  if (implementation === 'node' && !existsSync(o.bundle))
    throw invalid(`the plugin bundle ${o.bundle} is missing`, 'build fleetnet first: npm run build');
  const exe = implementation === 'native' ? readFileSync(o.native) : launcher(o.node, o.bundle);
  mkdirSync(o.binDir, { recursive: true, mode: 0o755 });
  mkdirSync(o.confDir, { recursive: true, mode: 0o755 });
  const plugins = PLUGIN_NAMES.map((n) => join(o.binDir, n));
  for (const p of plugins) writeAtomic(p, exe, 0o755);
  const conflist = join(o.confDir, `${o.network}.conflist${o.enable ? '' : '.example'}`);
  writeAtomic(conflist, `${JSON.stringify(exampleConflist(o), null, 2)}\n`, 0o644);
  return { plugins, implementation, conflist };
}
