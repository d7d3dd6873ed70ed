// One controller process on etcd for the HA tests and benchmarks, with in-memory agents (one per
// agent address, test/helpers/controller-fake-agent.ts): it can be killed -9 like a real one.
// Usage: node --import tsx test/helpers/ha-controller-main.ts URLS PREFIX
// Prints one JSON line {listen, controller} once it serves; stops on SIGTERM.
import { makeLogger, runUntilSignal } from '../../common/logger.js';
import { controllerConfig } from '../../controller/config.js';
import { startController } from '../../controller/main.js';
import type { EtcdStore } from '../../controller/store/etcd/etcd-store.js';
import { fakeFleet } from './controller-fake-agent.js';

const [urls, prefix] = process.argv.slice(2);
const log = makeLogger(process.env.FLEETNET_TEST_LOG ?? 'fatal', 'controller');
const cfg = controllerConfig({
  listen: '127.0.0.1:0',
  etcd: { urls: urls!.split(','), prefix: prefix! },
  trustDir: '/nonexistent/fleetnet-ha-test',
  resyncMs: 2000,
  backoffMinMs: 50,
  backoffMaxMs: 1000,
});
const h = await startController(cfg, log, { links: fakeFleet().links });
process.stdout.write(JSON.stringify({ listen: h.listen, controller: (h.store as EtcdStore).controllerId }) + '\n');
// For the HA benchmark: SIGUSR2 prints where this controller's store spent its time (one JSON line).
process.on('SIGUSR2', () => process.stdout.write(JSON.stringify({ stats: (h.store as EtcdStore).stats }) + '\n'));
await runUntilSignal(log, h);
process.exit(0); // as `fleetnet controller run` does after a clean stop
