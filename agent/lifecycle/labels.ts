// Container labels as desired state: `fleetnet.attach=HOSTIF ADDRESS… [MAC][@VLAN]` (the attach
// grammar without the container, made by this agent), `fleetnet.net=NET` [+ `fleetnet.ip=CIDR`]
// (allocated by the controller), each also with an interface prefix (`fleetnet.eth2.net=red`);
// `fleetnet.host=H` names the host that owns the container where several share one Docker daemon.
import { parseAttachArgs, parseTarget, type AttachArgs } from '../../common/attach-args.js';
import { invalid } from '../../common/errors.js';
import { parseIfName } from '../../common/ifname.js';

export type LabelSpec =
  | { kind: 'local'; ifname: string; args: AttachArgs & { hostIf: string } }
  | { kind: 'fleet'; ifname: string; net: string; addresses: string[] };

export interface LabelReading {
  specs: LabelSpec[];
  /** Malformed labels: what is wrong, naming the label (the rest of the container's labels still count). */
  errors: string[];
}

const PREFIX = 'fleetnet.';
const KEYS = new Set(['attach', 'net', 'ip']);

/** The host a container belongs to ('' when the label is absent: the agent of the daemon's host). */
export function ownerHostOf(labels: Record<string, string>): string {
  return labels['fleetnet.host'] ?? '';
}

export function hasFleetnetLabels(labels: Record<string, string>): boolean {
  return Object.keys(labels).some(
    (k) =>
      k.startsWith(PREFIX) && k !== 'fleetnet.host' && !k.startsWith('fleetnet.test') && !k.startsWith('fleetnet.lab'),
  );
}

export function readLabels(labels: Record<string, string>): LabelReading {
  const groups = new Map<string, Record<string, string>>();
  const errors: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (!k.startsWith(PREFIX)) continue;
    const parts = k.slice(PREFIX.length).split('.');
    const key = parts[parts.length - 1]!;
    if (!KEYS.has(key)) continue; // fleetnet.host, and labels of other tools under fleetnet. (test runs, labs)
    if (parts.length > 2) {
      errors.push(`label ${k}: use fleetnet.${key} or fleetnet.IFNAME.${key}`);
      continue;
    }
    const ifname = parts.length === 2 ? parts[0]! : 'eth1';
    const g = groups.get(ifname) ?? {};
    g[key] = v;
    groups.set(ifname, g);
  }
  const specs: LabelSpec[] = [];
  for (const [ifnameText, g] of groups) {
    const where = ifnameText === 'eth1' ? 'fleetnet.' : `fleetnet.${ifnameText}.`;
    try {
      const ifname = parseIfName(ifnameText, `interface name in label ${where}…`);
      if (g.attach !== undefined && g.net !== undefined)
        throw invalid(
          `labels ${where}attach and ${where}net both given`,
          'give one: attach (this host, the attach grammar) or net (the controller allocates)',
        );
      if (g.attach !== undefined) {
        const words = g.attach.trim().split(/\s+/).filter(Boolean);
        if (words.length < 2)
          throw invalid(
            `label ${where}attach='${g.attach}': give the host interface and an address`,
            `e.g. ${where}attach=br1 192.168.1.10/24@192.168.1.254`,
          );
        // The container is the one carrying the label: it stands after the host interface.
        const args = parseAttachArgs([words[0]!, 'labelled', ...words.slice(1)]);
        if (!args.hostIf) throw invalid(`label ${where}attach='${g.attach}': the host interface comes first`);
        specs.push({ kind: 'local', ifname, args: { ...args, hostIf: args.hostIf, target: parseTarget('labelled') } });
      } else if (g.net !== undefined) {
        if (!/^[a-z0-9][a-z0-9-]{0,31}$/i.test(g.net))
          throw invalid(
            `label ${where}net='${g.net}' is not a network name`,
            "names are letters, digits and '-'; 'fleetnet nets' lists them",
          );
        const addresses = (g.ip ?? '').split(/[\s,]+/).filter(Boolean);
        for (const a of addresses)
          if (!/^[0-9a-f.:]+\/\d+(@[0-9a-f.:]+)?$/i.test(a))
            throw invalid(`label ${where}ip='${a}' is not an address with its prefix`, `e.g. ${where}ip=10.1.1.5/24`);
        specs.push({ kind: 'fleet', ifname, net: g.net, addresses });
      } else {
        throw invalid(`label ${where}ip without ${where}net`, `add ${where}net=NETWORK`);
      }
    } catch (err) {
      const what = Object.entries(g)
        .map(([k, v]) => `${where}${k}='${v}'`)
        .join(', ');
      errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { specs, errors };
}
