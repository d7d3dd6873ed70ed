// The CLI's connection to the controller: promises with deadlines, typed errors. Imported lazily.
import { credentials, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { FleetnetError } from '../../common/errors.js';
import { fromServiceError } from '../../common/grpc-errors.js';
import { requireController } from './controller-address.js';
import { controllerChannel, tryCliCredential } from './controller-tls.js';
import { ControllerClient, type ListAttachmentsRequest } from '../../proto/gen/fleetnet/v1/controller.js';

type Unary<Req, Res> = (req: Req, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: Res) => void) => unknown;

export interface ControllerConn {
  client: ControllerClient;
  addr: string;
  call<Req, Res>(fn: Unary<Req, Res>, req: Req, timeoutMs?: number): Promise<Res>;
  /** Streams `ls --json` text chunks to `out` as they arrive. */
  streamJson(req: ListAttachmentsRequest, out: NodeJS.WritableStream, timeoutMs?: number): Promise<void>;
  close(): void;
}

function callError(err: ServiceError, addr: string): FleetnetError {
  const e = fromServiceError(err, `the controller at ${addr}`);
  if (e.kind === 'unavailable' && err.metadata?.get('fleetnet-kind').length === 0) {
    return new FleetnetError('unavailable', `no controller answers at ${addr}`, {
      cause: err, hint: 'start one (fleetnet controller run), fix --controller / FLEETNET_CONTROLLER, or use --local for this host\'s agent',
    });
  }
  return e;
}

export function connectController(addr: string): ControllerConn {
  // A large flow-control window: `ls --json` of a big fleet streams tens of MB in one go.
  // trust (issue 7): mutual TLS with the CLI credential when there is one (FLEETNET_INSECURE=1: plain TCP)
  const tls = process.env.FLEETNET_INSECURE === '1' ? undefined : tryCliCredential();
  const channel = tls ? controllerChannel(tls) : { creds: credentials.createInsecure(), options: {} };
  const client = new ControllerClient(addr, channel.creds, { ...channel.options, 'grpc-node.flow_control_window': 64 << 20 });
  return {
    client,
    addr,
    call: <Req, Res>(fn: Unary<Req, Res>, req: Req, timeoutMs = 30_000) =>
      new Promise<Res>((resolve, reject) => {
        fn.call(client as Client, req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(callError(err, addr)) : resolve(res)));
      }),
    streamJson: (req, out, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        const s = client.listAttachmentsJson(req, new Metadata(), { deadline: Date.now() + timeoutMs });
        s.on('data', (c: { data: Buffer }) => out.write(c.data));
        s.on('error', (err: ServiceError) => reject(callError(err, addr)));
        s.on('end', () => resolve());
      }),
    close: () => client.close(),
  };
}

/** Runs fn with a connection to the configured controller, closed afterwards. */
export async function withController<T>(g: { controller?: string; local?: boolean }, what: string, fn: (conn: ControllerConn) => Promise<T>): Promise<T> {
  const conn = connectController(requireController(g, what).addr);
  try {
    return await fn(conn);
  } finally {
    conn.close();
  }
}
