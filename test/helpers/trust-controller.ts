// A controller endpoint (Enrollment over mTLS) as its own process, so a test can run it inside a
// namespace: node --import tsx test/helpers/trust-controller.ts CONTROLLER_DIR LISTEN
import pino from 'pino';
import { openTrust } from '../../controller/pki/controller-dir.js';
import { startControllerEndpoint } from '../../controller/pki/endpoint.js';

const [dir, listen] = process.argv.slice(2);
if (!dir || !listen) throw new Error('usage: trust-controller.ts DIR LISTEN');
const ep = await startControllerEndpoint({ trust: await openTrust(dir), listen, log: pino({ level: 'warn' }, pino.destination(2)) });
process.stdout.write('ready\n');
process.once('SIGTERM', () => void ep.stop().then(() => process.exit(0)));
