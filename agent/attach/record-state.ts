// What a record says of its attachment over time (kept on disk, shown by ls): stopped with its
// container, or failed to be made again with its attempts and the time of the next one (backoff).
import { describeError } from '../../common/errors.js';
import type { AttachmentRecord, RecordStore } from './records.js';

/** Backoff of re-apply attempts: 1 s, 2 s, 4 s … at most a minute. */
export function retryDelayMs(attempts: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.max(0, attempts - 1));
}

/** A recorded attachment that could not be made again stays recorded, failed, with its attempts. */
export function recordFailure(records: RecordStore, r: AttachmentRecord, err: unknown): void {
  const attempts = (r.attempts ?? 0) + 1;
  records.put({
    ...r,
    state: 'failed',
    attempts,
    lastError: describeError(err),
    nextRetryMs: Date.now() + retryDelayMs(attempts),
  });
}

export type StatePatch = Pick<AttachmentRecord, 'state'> &
  Partial<Pick<AttachmentRecord, 'attempts' | 'lastError' | 'nextRetryMs'>>;

/** Writes a lifecycle fact; with `over`, only while the record is still that one (not replaced since). */
export function noteState(records: RecordStore, key: string, patch: StatePatch, over?: AttachmentRecord): boolean {
  const r = records.get(key);
  if (!r || (over && r !== over)) return false;
  records.put({ ...r, ...patch });
  return true;
}
