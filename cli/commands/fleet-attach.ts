// fleetnet attach through the controller (the fleet path); attach.ts branches here when a
// controller is configured.
import { checkFamily, fleetAttachRequestOf, parseAttachWords } from '../../common/attach/index.js';
import { invalid } from '../../common/errors.js';
import { attachJsonOf, lsEntryOfAttachment } from '../../common/inventory.js';
import type { ControllerChoice } from '../client/controller-address.js';
import { connectController } from '../client/controller.js';
import { describeAttachment, needHost, noteInterrupt, settle, timeoutMsOf, type Opts } from '../fleet/common.js';
import { printJson } from '../output/table.js';

/**
 * attach's options that shape the host side, which a fleet attach takes from its network: refused through a
 * controller rather than dropped (the attach would succeed, made otherwise than asked).
 */
const HOST_SIDE_OPTIONS: readonly [key: string, flag: string][] = [
  ['kind', '--kind'],
  ['hostIfname', '-l/--host-ifname'],
  ['macvlanMode', '--macvlan-mode'],
  ['vlanFiltering', '--vlan-filtering'],
  ['trunk', '--trunk'],
  ['ovsDatapath', '--ovs-datapath'],
  ['dhcpDns', '--dhcp-dns'],
  ['dhcpOneshot', '--dhcp-oneshot'],
  ['directPhys', '--direct-phys'],
];

export async function fleetAttach(ctl: ControllerChoice, words: string[], opts: Opts): Promise<void> {
  const given = HOST_SIDE_OPTIONS.filter(([key]) => opts[key] !== undefined && opts[key] !== false);
  if (given.length) {
    const flags = given.map(([, flag]) => flag).join(', ');
    throw invalid(
      `${flags}: not carried through a controller (the network decides the host side: fleetnet nets shows it)`,
      'leave it out, or attach on the host itself: fleetnet --local attach HOSTIF CONTAINER ADDRESS …',
    );
  }
  const spec = parseAttachWords(words, opts);
  checkFamily(opts.family, spec.addresses);
  if (opts.family !== undefined && !spec.addresses.some((a) => a.kind === 'static'))
    throw invalid(
      `-a ${String(opts.family)} with no address given: the controller allocates from each subnet of the network`,
      "leave -a out (the network's subnets decide the families), or give the address: attach --host H C ADDR/LEN",
    );
  if (spec.hostIf) {
    throw invalid(
      `'${spec.hostIf}' names a host interface, but the controller picks it from the network`,
      'write: fleetnet attach --host H CONTAINER ADDRESS (or --net N), or use --local with a host interface',
    );
  }
  const host = needHost(opts, 'attach');
  const timeoutMs = timeoutMsOf(opts);
  if (opts.dryRun) throw invalid('--dry-run is answered by an agent', 'use --local on the host to see the commands');
  const conn = connectController(ctl.addr);
  const t = spec.target;
  const who = t.kind === 'auto' || t.kind === 'path' ? t.value : `${t.kind}:${t.value}`;
  const ifname = spec.ifname ? ` -i ${spec.ifname}` : '';
  const interrupted = noteInterrupt('attach', host, `fleetnet detach --host ${host}${ifname} ${who}`);
  try {
    const res = await conn.call(
      conn.client.fleetAttach,
      { ...fleetAttachRequestOf(spec, { host, waitMs: timeoutMs }), keepAddress: Boolean(opts.keepAddress) },
      timeoutMs + 10_000,
    );
    const a = res.attachment!;
    if (opts.json) printJson(attachJsonOf(lsEntryOfAttachment(a), res.created, a.lease));
    else if (a.state === 'up')
      process.stdout.write(`${res.created ? 'attached' : 'already attached'}: ${describeAttachment(a)}\n`);
    else process.stdout.write(`${a.state}: ${describeAttachment(a)}\n`);
    settle(a, 'attach');
  } finally {
    interrupted();
    conn.close();
  }
}
