// The outbox relay's read: the oldest available entries, leased by pushing available_at
// forward, with FOR UPDATE SKIP LOCKED so concurrent relays (one per API replica) take
// disjoint rows. If a relay dies after taking rows, they become available again when the
// lease ends; a double publish is harmless (same Nats-Msg-Id ⇒ deduped, and claims are fenced).
import { sql, type Kysely } from 'kysely';
import type { OutboxEntry } from '../../core/ports.ts';
import type { FooocusDatabase } from './schema.ts';
import { msAhead } from './sqlValues.ts';

export const DEFAULT_OUTBOX_LEASE_MS = 30_000;

export async function takeOutbox(db: Kysely<FooocusDatabase>, limit: number, leaseMs = DEFAULT_OUTBOX_LEASE_MS): Promise<OutboxEntry[]> {
  const { rows } = await sql<{ id: string | number; task_id: string; attempt: number }>`
    UPDATE task_outbox
    SET available_at = ${msAhead(leaseMs)}
    WHERE id IN (
      SELECT id FROM task_outbox
      WHERE available_at <= now()
      ORDER BY id
      LIMIT ${Math.max(0, Math.floor(limit))}
      FOR UPDATE SKIP LOCKED
    )
    RETURNING id, task_id, attempt`.execute(db);
  return rows.map((r) => ({ id: Number(r.id), taskId: r.task_id, attempt: r.attempt })).sort((a, b) => a.id - b.id);
}
