// Running Docker containers by name and ID, kept current from Docker's event stream, so that
// resolving a name costs a map lookup and two /proc reads instead of an API round trip.
// Every hit is re-checked against the live process (PID start time and namespace), and a miss
// falls back to asking Docker: the index can make resolution faster, never wrong.
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { watchContainerEvents, type EventWatch } from '../dhcp/docker-events.js';

export interface DockerEntry {
  id: string;
  name: string;
  pid: number;
}

export class DockerIndex {
  private byId = new Map<string, DockerEntry>();
  private byName = new Map<string, DockerEntry>();
  private watch?: EventWatch;
  private stopped = false;

  constructor(
    private readonly docker: Docker,
    private readonly log: Logger,
  ) {}

  /**
   * Follows container events (the stream opened again when it breaks: dockerd restarted), indexing
   * what runs at each (re)connect. Resolves once first connected, or after a few seconds without
   * Docker. Errors only log: the index is an accelerator.
   */
  start(): Promise<void> {
    return new Promise<void>((resolve) => {
      const giveUp = setTimeout(resolve, 5000);
      giveUp.unref();
      this.watch = watchContainerEvents(
        () => this.docker,
        {
          onEvent: (ev) => {
            if (ev.action === 'start' || ev.action === 'rename') void this.refresh(ev.id);
            else this.remove(ev.id);
          },
          onConnect: () =>
            void this.indexRunning().finally(() => {
              clearTimeout(giveUp);
              resolve();
            }),
        },
        this.log,
        { actions: ['start', 'die', 'destroy', 'rename'] },
      );
    });
  }

  stop(): void {
    this.stopped = true;
    this.watch?.close();
  }

  /** Everything that runs now (after a reconnect, what changed meanwhile was not heard). */
  private async indexRunning(): Promise<void> {
    try {
      const running = await this.docker.listContainers();
      const ids = new Set(running.map((c) => c.Id));
      for (const id of [...this.byId.keys()]) if (!ids.has(id)) this.remove(id);
      await Promise.all(running.map((c) => this.refresh(c.Id)));
    } catch (err) {
      this.log.debug({ err }, 'could not list running containers');
    }
  }

  private async refresh(id: string): Promise<void> {
    if (this.stopped) return;
    try {
      const c = await this.docker.getContainer(id).inspect();
      this.remove(c.Id);
      if (!c.State.Running || !c.State.Pid) return;
      const e: DockerEntry = { id: c.Id, name: c.Name.replace(/^\//, ''), pid: c.State.Pid };
      this.byId.set(e.id, e);
      this.byName.set(e.name, e);
    } catch {
      this.remove(id);
    }
  }

  private remove(id: string): void {
    const e = this.byId.get(id);
    if (!e) return;
    this.byId.delete(id);
    if (this.byName.get(e.name) === e) this.byName.delete(e.name);
  }

  /** A name, a full ID, or an unambiguous ID prefix of 12 or more characters. */
  lookup(ref: string): DockerEntry | undefined {
    const hit = this.byName.get(ref) ?? this.byId.get(ref);
    if (hit || ref.length < 12 || !/^[0-9a-f]+$/.test(ref)) return hit;
    const matches = [...this.byId.values()].filter((e) => e.id.startsWith(ref));
    return matches.length === 1 ? matches[0] : undefined;
  }
}
