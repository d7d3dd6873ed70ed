import { GrpcLite } from '../cli/client/grpc-lite.js';
import { CONTROLLER_METHODS } from '../cli/client/controller.js';
import { execFileSync, spawnSync } from 'node:child_process';
const CTL = '127.0.0.1:7440';
const c = new GrpcLite(CTL, 'ctl');
const N = 15;
const lat: number[] = [];
for (let i = 0; i < N; i++) {
  const req = { host: 'hb', network: 'bench', target: { kind: 'netns', value: `fnexp-t${i}` }, ifname: '', addresses: [], mac: '', macString: '', vlan: '', mtu: 0, attachmentId: '', waitMs: 10000 };
  const t0 = performance.now();
  const r = await c.unary(CONTROLLER_METHODS.fleetAttach, req, 60_000);
  lat.push(performance.now() - t0);
  if (i === 0) console.log(JSON.stringify(r).slice(0, 300));
}
console.log('in-process FleetAttach (wait up) ms:', lat.map((x) => x.toFixed(1)).join(' '));
const cl: number[] = [];
const env = { ...process.env }; delete env.NODE_EXTRA_CA_CERTS;
for (let i = N; i < N + 10; i++) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['bin/fleetnet.mjs', '--controller', CTL, 'attach', '--host', 'hb', '--net', 'bench', `netns:fnexp-t${i}`], { env });
  cl.push(performance.now() - t0);
  if (r.status !== 0) console.log(r.stderr.toString());
}
console.log('CLI (no NODE_EXTRA_CA_CERTS) ms:', cl.map((x) => x.toFixed(1)).join(' '));
const vl: number[] = [];
for (let i = 0; i < 10; i++) { const t0 = performance.now(); spawnSync(process.execPath, ['bin/fleetnet.mjs', '--version'], { env }); vl.push(performance.now() - t0); }
console.log('--version ms:', vl.map((x) => x.toFixed(1)).join(' '));
c.close();
