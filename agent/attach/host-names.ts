// The host-side names attaches are making, shared with the orphan sweep (agent/lifecycle/orphans.ts).
// An attach claims its name before it looks at what is there (claimOrAdopt) and holds it until it has
// made or adopted the link; the sweep removes an orphan only while no attach holds its name, and an
// attach that claims the name meanwhile waits until that removal has ended. Each side checks and marks
// in one turn of the event loop, so neither acts on a link the other is changing: a sweep that had
// found a killed agent's leftover cannot delete the pair a re-asked attach has just made or adopted.
export class HostNameClaims {
  /** Name → attaches holding it (two orders may name one host-side link: the first to end must not free it). */
  private readonly held = new Map<string, number>();
  /** Name → the orphan removal under way (never rejects). */
  private readonly removing = new Map<string, Promise<void>>();

  /** Claims name for an attach; resolves once no orphan removal of that name is under way. */
  async claim(name: string): Promise<void> {
    this.held.set(name, (this.held.get(name) ?? 0) + 1);
    await this.removing.get(name);
  }

  release(name: string): void {
    const n = (this.held.get(name) ?? 1) - 1;
    if (n > 0) this.held.set(name, n);
    else this.held.delete(name);
  }

  /** The names attaches hold now. */
  names(): ReadonlySet<string> {
    return new Set(this.held.keys());
  }

  /** Runs remove unless an attach holds name or a removal of it is under way; false when it did not run. */
  async ifUnclaimed(name: string, remove: () => Promise<void>): Promise<boolean> {
    if (this.held.has(name) || this.removing.has(name)) return false;
    const run = remove();
    this.removing.set(
      name,
      run.then(
        () => undefined,
        () => undefined,
      ),
    );
    try {
      await run;
    } finally {
      this.removing.delete(name);
    }
    return true;
  }
}
