// Changes to in-memory maps that follow a SQLite transaction: each one logged with its inverse
// while the transaction runs, undone when it (or one decision's savepoint) rolls back, forgotten
// once it commits.
export class UndoLog {
  private readonly log: (() => void)[] = [];

  mark(): number {
    return this.log.length;
  }

  /** Undoes, newest first, every change made after `mark`. */
  rollbackTo(mark: number): void {
    while (this.log.length > mark) this.log.pop()!();
  }

  /** The transaction committed: its changes stay. */
  clear(): void {
    this.log.length = 0;
  }

  set<K, V>(m: Map<K, V>, k: K, v: V): void {
    if (m.has(k)) {
      const old = m.get(k) as V;
      this.log.push(() => m.set(k, old));
    } else {
      this.log.push(() => m.delete(k));
    }
    m.set(k, v);
  }

  delete<K, V>(m: Map<K, V>, k: K): void {
    if (!m.has(k)) return;
    const old = m.get(k) as V;
    this.log.push(() => m.set(k, old));
    m.delete(k);
  }
}
