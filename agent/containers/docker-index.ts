// Running Docker containers by name and ID, kept current from Docker's event stream, so that
// resolving a name costs a map lookup and two /proc reads instead of an API round trip.
// Every hit is re-checked against the live process (PID start time and namespace), and a miss
// falls back to asking Docker: the index can make resolution faster, never wrong.
import type Docker from 'dockerode';
import type { Logger } from 'pino';

export interface DockerEntry {
  id: string;
  name: string;
  pid: number;
}

export class DockerIndex {
  private byId = new Map<string, DockerEntry>();
  private byName = new Map<string, DockerEntry>();
  private stream: NodeJS.ReadableStream | undefined;
  private stopped = false;

  constructor(private readonly docker: Docker, private readonly log: Logger) {}

  /** Subscribes to container events, then indexes what already runs. Errors only log: the index is an accelerator. */
  async start(): Promise<void> {
    try {
      this.stream = (await this.docker.getEvents({ filters: { type: ['container'], event: ['start', 'die', 'destroy', 'rename'] } })) as NodeJS.ReadableStream;
    } catch (err) {
      this.log.debug({ err }, 'docker events unavailable; resolving by inspect only');
      return;
    }
    let buf = '';
    this.stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) this.onEvent(line);
      }
    });
    this.stream.on('error', (err) => this.log.debug({ err }, 'docker event stream error'));
    try {
      const running = await this.docker.listContainers();
      await Promise.all(running.map((c) => this.refresh(c.Id)));
    } catch (err) {
      this.log.debug({ err }, 'could not list running containers');
    }
  }

  stop(): void {
    this.stopped = true;
    (this.stream as unknown as { destroy?: () => void } | undefined)?.destroy?.();
  }

  private onEvent(line: string): void {
    let ev: { Action?: string; id?: string; Actor?: { ID?: string } };
    try {
      ev = JSON.parse(line);
    } catch {
      return;
    }
    const id = ev.id ?? ev.Actor?.ID;
    if (!id) return;
    if (ev.Action === 'start' || ev.Action === 'rename') void this.refresh(id);
    else this.remove(id);
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
