// Bare hosts for the SSH bootstrap tests: each one a network namespace on a test switch, with its
// own mount namespace (private /opt/fleetnet, /etc/fleetnet, /var/lib/fleetnet, /run/fleetnet, so
// hosts share no installed files) and its own sshd (own config, host key, pid file) listening on
// the host's address. Optionally Node.js is hidden from a host. Everything is removed by cleanup().
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addNs, delNs, sh } from './netns.js';

export const PRIVATE_DIRS = ['/opt/fleetnet', '/etc/fleetnet', '/var/lib/fleetnet', '/run/fleetnet'] as const;

export interface SshHost {
  name: string;
  ns: string;
  addr: string;
  dir: string;
  /** Where each private folder of the host really lives (the bind-mount sources). */
  priv: Record<(typeof PRIVATE_DIRS)[number], string>;
  sshd: ChildProcess;
  hostKeyPub: string;
}

export interface SshLab {
  ctlNs: string;
  ctlAddr: string;
  identity: string;
  hosts: SshHost[];
  addHost(name: string, octet: number, o?: { hideNode?: boolean }): Promise<SshHost>;
  cleanup(): Promise<void>;
}

async function link(sw: string, ns: string, tag: string, cidr: string): Promise<void> {
  await sh.run('ip', ['-n', sw, 'link', 'add', tag, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await sh.run('ip', ['-n', sw, 'link', 'set', tag, 'master', 'br0', 'up']);
  await sh.run('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', 'eth0']);
  await sh.run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
}

export async function makeSshLab(prefix: string, dir: string): Promise<SshLab> {
  const sw = `${prefix}-sw`;
  const ctlNs = `${prefix}-ctl`;
  const made: string[] = [];
  const createdDirs: string[] = [];
  const hosts: SshHost[] = [];
  const cleanup = async () => {
    for (const h of hosts) h.sshd.kill('SIGTERM');
    // processes the bootstrap started through sshd (agent supervisors) live only in our namespaces
    for (const ns of made) {
      const pids = (await sh.run('ip', ['netns', 'pids', ns], { allowFail: true })).stdout.split('\n').filter(Boolean);
      if (pids.length) await sh.run('kill', ['-KILL', ...pids], { allowFail: true });
    }
    for (const ns of made.reverse()) await delNs(ns);
    for (const d of createdDirs) await sh.run('rmdir', [d], { allowFail: true });
  };
  try {
    for (const d of [...PRIVATE_DIRS, '/run/sshd']) {
      if (!existsSync(d)) {
        mkdirSync(d, { recursive: true, mode: 0o755 });
        if (d !== '/run/sshd') createdDirs.push(d); // sshd's privilege-separation folder stays: other sshds may use it
      }
    }
    await addNs(sw);
    made.push(sw);
    await sh.run('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await sh.run('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
    await addNs(ctlNs);
    made.push(ctlNs);
    await link(sw, ctlNs, 'vctl', '10.231.0.1/24');
    const identity = join(dir, 'id_ed25519');
    await sh.run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fleetnet-test', '-f', identity]);

    const addHost = async (name: string, octet: number, o: { hideNode?: boolean } = {}): Promise<SshHost> => {
      const ns = `${prefix}-${name}`;
      const addr = `10.231.0.${octet}`;
      const hd = join(dir, name);
      mkdirSync(hd, { recursive: true });
      await addNs(ns);
      made.push(ns);
      await link(sw, ns, `v${name}`, `${addr}/24`);
      await sh.run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(hd, 'ssh_host_ed25519_key')]);
      writeFileSync(join(hd, 'authorized_keys'), readFileSync(`${identity}.pub`), { mode: 0o600 });
      writeFileSync(
        join(hd, 'sshd_config'),
        [
          'Port 22',
          `ListenAddress ${addr}`,
          `HostKey ${hd}/ssh_host_ed25519_key`,
          `PidFile ${hd}/sshd.pid`,
          `AuthorizedKeysFile ${hd}/authorized_keys`,
          'PermitRootLogin prohibit-password',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'UsePAM no',
          'StrictModes no',
          'Subsystem sftp internal-sftp',
          'LogLevel ERROR',
          '',
        ].join('\n'),
      );
      const priv = Object.fromEntries(
        PRIVATE_DIRS.map((d) => [d, join(hd, 'root', d.slice(1).replace(/\//g, '_'))]),
      ) as SshHost['priv'];
      for (const p of Object.values(priv)) mkdirSync(p, { recursive: true });
      const nonode = join(hd, 'no-node');
      writeFileSync(nonode, '', { mode: 0o644 });
      // slave propagation: new /run/netns entries (test containers) still appear inside, while the
      // private binds made here never leak out. Then sshd in the foreground: the mount namespace
      // lives as long as sshd and what it starts
      const script = [
        'set -e',
        ...PRIVATE_DIRS.map((d) => `mount --bind "${priv[d]}" ${d}`),
        ...(o.hideNode
          ? ['for n in /usr/bin/node /usr/local/bin/node; do [ -e $n ] && mount --bind "$1" $n; done; true']
          : []),
        `exec /usr/sbin/sshd -D -e -f "${hd}/sshd_config"`,
      ].join('\n');
      const sshd = sh.start(
        'nsenter',
        [`--net=/run/netns/${ns}`, 'unshare', '--mount', '--propagation', 'slave', 'sh', '-c', script, 'sh', nonode],
        { stdio: 'inherit' },
      );
      const h: SshHost = {
        name,
        ns,
        addr,
        dir: hd,
        priv,
        sshd,
        hostKeyPub: readFileSync(join(hd, 'ssh_host_ed25519_key.pub'), 'utf8'),
      };
      hosts.push(h);
      for (let i = 0; ; i++) {
        const r = await sh.run(
          'nsenter',
          [`--net=/run/netns/${ctlNs}`, 'bash', '-c', 'exec 3<>/dev/tcp/$1/22', 'bash', addr],
          { allowFail: true },
        );
        if (r.code === 0 || existsSync(join(hd, 'sshd.pid'))) break;
        if (i > 100 || sshd.exitCode !== null) throw new Error(`sshd for ${name} did not start`);
        await new Promise((res) => setTimeout(res, 100));
      }
      return h;
    };
    return { ctlNs, ctlAddr: '10.231.0.1', identity, hosts, addHost, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Files under a host's private folders (what an install left there). */
export function installedFiles(h: SshHost): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${rel}/${e.name}`);
      else out.push(`${rel}/${e.name}`);
    }
  };
  for (const [mount, src] of Object.entries(h.priv)) walk(src, mount);
  return out;
}
