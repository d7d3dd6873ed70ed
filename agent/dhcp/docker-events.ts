// Docker's events make reaping prompt: a container's `die` stops its DHCP clients at once.
// The supervisor's own pass (namespace owner liveness) catches anything an event stream misses.
import type Docker from 'dockerode';
import type { Logger } from 'pino';

export interface EventWatch {
  close(): void;
}

export function watchContainerExits(docker: () => Docker | undefined, onExit: (id: string) => void, log: Logger, retryMs = 2000): EventWatch {
  let closed = false;
  let stream: NodeJS.ReadableStream | undefined;
  let timer: NodeJS.Timeout | undefined;
  const connect = async () => {
    const d = docker();
    if (closed || !d) return;
    try {
      stream = await d.getEvents({ filters: JSON.stringify({ type: ['container'], event: ['die', 'destroy'] }) });
      let buf = '';
      stream.on('data', (chunk: Buffer) => {
        buf += chunk.toString('utf8');
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const lineText = buf.slice(0, i);
          buf = buf.slice(i + 1);
          try {
            const ev = JSON.parse(lineText) as { id?: string; Actor?: { ID?: string } };
            const id = ev.Actor?.ID ?? ev.id;
            if (id) onExit(id);
          } catch {
            /* a partial or foreign line: the periodic pass still covers it */
          }
        }
      });
      stream.on('end', retry);
      stream.on('error', retry);
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
      (stream as unknown as { destroy?: () => void } | undefined)?.destroy?.();
    },
  };
}
