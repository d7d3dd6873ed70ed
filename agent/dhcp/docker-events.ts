// Docker's container events (start, die, destroy), read from one stream that is opened again when it
// breaks (dockerd restarted). Events are hints: after a reconnect the caller runs a full pass,
// because whatever happened while the stream was down was never heard.
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

export function watchContainerEvents(
  docker: () => Docker | undefined,
  h: WatchHandlers,
  log: Logger,
  retryMs = 1000,
  actions: readonly ContainerAction[] = ['start', 'die', 'destroy'],
): EventWatch {
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
    timer = setTimeout(() => void connect(), retryMs);
    timer.unref();
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

/** Docker's events make reaping prompt: a container's `die` stops its DHCP clients at once. */
export function watchContainerExits(
  docker: () => Docker | undefined,
  onExit: (id: string) => void,
  log: Logger,
  retryMs = 2000,
): EventWatch {
  return watchContainerEvents(docker, { onEvent: (ev) => ev.action !== 'start' && onExit(ev.id) }, log, retryMs);
}
