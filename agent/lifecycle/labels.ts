// Container labels as desired state: `fleetnet.attach=HOSTIF ADDRESS… [MAC][@VLAN] [OPTIONS]` (`fleetnet attach`'s
// words and options without the container, made by this agent), `fleetnet.net=NET` [+ `fleetnet.ip=CIDR`]
// (allocated by the controller), each also with an interface prefix (`fleetnet.eth2.net=red`);
// `fleetnet.host=H` names the host that owns the container where several share one Docker daemon.
import { isIpoibParent, parseAttachLabel, type AttachSpec } from '../../common/attach/index.js';
import { invalid } from '../../common/errors.js';
import { parseIfName, parseNewIfName, type IfName } from '../../common/ifname.js';

export type LabelSpec =
  | {
      kind: 'local';
      ifname: IfName;
      /** The label as written on the container (`fleetnet.attach`, `fleetnet.eth2.attach`). */
      label: string;
      spec: Omit<AttachSpec, 'dryRun'> & { hostIf: IfName };
    }
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

type Key = 'attach' | 'net' | 'ip';

/** The labels of one container interface as its keys name it: values and the label names they were written as. */
interface Group {
  values: Partial<Record<Key, string>>;
  names: Partial<Record<Key, string>>;
}

/** The labels of container `id` (its Docker ID: the container a fleetnet.attach label attaches). */
export function readLabels(labels: Record<string, string>, id = ''): LabelReading {
  const groups = new Map<string, Group>();
  const clashed = new Set<string>();
  const errors: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (!k.startsWith(PREFIX)) continue;
    const parts = k.slice(PREFIX.length).split('.');
    const key = parts[parts.length - 1]! as Key;
    if (!KEYS.has(key)) continue; // fleetnet.host, and labels of other tools under fleetnet. (test runs, labs)
    if (parts.length > 2) {
      errors.push(`label ${k}: use fleetnet.${key} or fleetnet.IFNAME.${key}`);
      continue;
    }
    const ifname = parts.length === 2 ? parts[0]! : 'eth1';
    const g = groups.get(ifname) ?? { values: {}, names: {} };
    const before = g.names[key];
    if (before !== undefined) {
      errors.push(`labels ${before} and ${k} both set ${key} of ${ifname}: keep one`);
      clashed.add(ifname);
    }
    g.values[key] = v;
    g.names[key] = k;
    groups.set(ifname, g);
  }
  const specs: LabelSpec[] = [];
  for (const [ifnameText, g] of groups) {
    if (clashed.has(ifnameText)) continue;
    const where = ifnameText === 'eth1' ? 'fleetnet.' : `fleetnet.${ifnameText}.`;
    if (g.values.attach !== undefined && g.values.net === undefined) {
      try {
        specs.push(localSpec(ifnameText, g.names.attach!, g.values.attach, id));
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err)); // names the label already
      }
      continue;
    }
    try {
      const ifname = parseIfName(ifnameText, `interface name in label ${where}…`);
      if (g.values.attach !== undefined && g.values.net !== undefined)
        throw invalid(
          `labels ${where}attach and ${where}net both given`,
          'give one: attach (this host, the attach grammar) or net (the controller allocates)',
        );
      const net = g.values.net;
      if (net !== undefined) {
        if (!/^[a-z0-9][a-z0-9-]{0,31}$/i.test(net))
          throw invalid(
            `label ${where}net='${net}' is not a network name`,
            "names are letters, digits and '-'; 'fleetnet nets' lists them",
          );
        const addresses = (g.values.ip ?? '').split(/[\s,]+/).filter(Boolean);
        for (const a of addresses)
          if (!/^[0-9a-f.:]+\/\d+(@[0-9a-f.:]+)?$/i.test(a))
            throw invalid(`label ${where}ip='${a}' is not an address with its prefix`, `e.g. ${where}ip=10.1.1.5/24`);
        specs.push({ kind: 'fleet', ifname, net, addresses });
      } else {
        throw invalid(`label ${where}ip without ${where}net`, `add ${where}net=NETWORK`);
      }
    } catch (err) {
      const what = Object.entries(g.values)
        .map(([k, v]) => `${where}${k}='${v}'`)
        .join(', ');
      errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { specs: onePerInterface(specs, errors), errors };
}

/**
 * A fleetnet.attach label (`label` as written: `fleetnet.attach`, or `fleetnet.IFNAME.attach` whose IFNAME is
 * `keyIf`): `fleetnet attach`'s words and options, the container being the labelled one.
 */
function localSpec(keyIf: string, label: string, value: string, id: string): LabelSpec {
  const prefixed = label !== 'fleetnet.attach';
  const keyIfname = prefixed ? parseIfName(keyIf, `interface name in label ${label}`) : undefined;
  const { dryRun: _never, ...spec } = parseAttachLabel(value, { kind: 'docker', value: id }, label);
  if (keyIfname && spec.ifname && spec.ifname !== keyIfname)
    throw invalid(
      `label ${label}='${value}': -i ${spec.ifname} names another interface than the label's ${keyIfname}`,
      `name it once: ${label} without -i, or fleetnet.attach with -i ${spec.ifname}`,
    );
  const ifname = spec.ifname ?? keyIfname ?? parseNewIfName(isIpoibParent(spec) ? 'ib0' : 'eth1');
  return { kind: 'local', ifname, label, spec: { ...spec, hostIf: spec.hostIf!, ifname } };
}

/** Two labels that end up naming one container interface (`-i`) are both refused: neither is acted on. */
function onePerInterface(specs: LabelSpec[], errors: string[]): LabelSpec[] {
  const labelOf = (s: LabelSpec) =>
    s.kind === 'local' ? s.label : s.ifname === 'eth1' ? 'fleetnet.net' : `fleetnet.${s.ifname}.net`;
  const byIf = new Map<string, LabelSpec[]>();
  for (const s of specs) byIf.set(s.ifname, [...(byIf.get(s.ifname) ?? []), s]);
  const kept: LabelSpec[] = [];
  for (const [ifname, same] of byIf) {
    if (same.length === 1) kept.push(same[0]!);
    else errors.push(`labels ${same.map(labelOf).join(' and ')} all ask for ${ifname}: give each interface one label`);
  }
  return kept;
}
