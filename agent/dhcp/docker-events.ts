// Docker's container events (start, die, destroy), read from one stream that is opened again when it
// breaks (dockerd restarted). Events are hints: after a reconnect the caller runs a full pass,
// because whatever happened while the stream was down was never heard. While dockerd does not answer
// (stopped, or a host that runs containers with something else), the tries back off from retryMs to
// maxRetryMs, and start over at retryMs once a stream opens.
import type Docker from 'dockerode';
import type { Logger } from 'pino';

export interface EventWatch {
  close(): void;
}

export type ContainerAction = 'start' | 'die' | 'destroy' | 'rename';

export interface ContainerEvent {
  action: ContainerAction;
  id: string;
  /** The container's labels, as Docker attaches them to the event. */
  labels: Record<string, string>;
}

export interface WatchHandlers {
  onEvent(ev: ContainerEvent): void;
  /** The stream is (again) open: events may have been missed before this. */
  onConnect?(): void;
}

export interface WatchOptions {
  /** The wait before the first try again (default 1 s), doubled after each failed one up to maxRetryMs. */
  retryMs?: number;
  /** Default 10 s: how late a dockerd that comes back after a long time is heard again at most. */
  maxRetryMs?: number;
  actions?: readonly ContainerAction[];
}

export function watchContainerEvents(
  docker: () => Docker | undefined,
  h: WatchHandlers,
  log: Logger,
  o: WatchOptions = {},
): EventWatch {
  const firstMs = o.retryMs ?? 1000;
  const maxMs = Math.max(firstMs, o.maxRetryMs ?? 10_000);
  const actions = o.actions ?? ['start', 'die', 'destroy'];
  let waitMs = firstMs;
  let closed = false;
  let stream: NodeJS.ReadableStream | undefined;
  let timer: NodeJS.Timeout | undefined;
  const connect = async () => {
    const d = docker();
    if (closed) return;
    if (!d) return retry();
    try {
      const s = await d.getEvents({ filters: JSON.stringify({ type: ['container'], event: actions }) });
      stream = s;
      waitMs = firstMs;
      if (closed) return destroy(s);
      let buf = '';
      s.on('data', (chunk: Buffer) => {
        buf += chunk.toString('utf8');
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const lineText = buf.slice(0, i);
          buf = buf.slice(i + 1);
          let ev: {
            id?: string;
            Action?: string;
            status?: string;
            Actor?: { ID?: string; Attributes?: Record<string, string> };
          };
          try {
            ev = JSON.parse(lineText);
          } catch {
            continue; // a partial or foreign line: the periodic pass still covers it
          }
          const id = ev.Actor?.ID ?? ev.id;
          const action = (ev.Action ?? ev.status) as ContainerAction | undefined;
          if (!id || !action || !actions.includes(action)) continue;
          const { name: _n, image: _i, exitCode: _e, ...labels } = ev.Actor?.Attributes ?? {};
          h.onEvent({ action, id, labels });
        }
      });
      let done = false;
      const lost = () => {
        if (done) return;
        done = true;
        if (!closed) log.info('docker event stream ended; reconnecting');
        retry();
      };
      s.on('end', lost);
      s.on('close', lost);
      s.on('error', lost);
      h.onConnect?.();
    } catch (err) {
      log.debug({ err }, 'docker events not available; relying on the periodic pass');
      retry();
    }
  };
  const retry = () => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void connect(), waitMs);
    timer.unref();
    waitMs = Math.min(waitMs * 2, maxMs);
  };
  void connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      if (stream) destroy(stream);
    },
  };
}

function destroy(s: NodeJS.ReadableStream): void {
  (s as unknown as { destroy?: () => void }).destroy?.();
}
