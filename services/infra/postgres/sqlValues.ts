// Two value helpers every operation needs, written once so pg and PGlite behave the same:
// - jsonb(): pg turns a JS array parameter into a Postgres ARRAY literal (wrong for jsonb),
//   so JSON is always sent as text and cast in SQL.
// - msAgo()/msAhead(): durations are evaluated against the database clock (ports.ts), never
//   the caller's, so replicas with skewed clocks agree on leases and staleness.
import { sql, type RawBuilder } from 'kysely';

export function jsonb<T>(value: T): RawBuilder<T> {
  if (value === null || value === undefined) return sql<T>`null`;
  return sql<T>`cast(cast(${JSON.stringify(value)} as text) as jsonb)`;
}

export function msAgo(ms: number): RawBuilder<Date> {
  return sql<Date>`(now() - (cast(${ms} as double precision) * interval '1 millisecond'))`;
}

export function msAhead(ms: number): RawBuilder<Date> {
  return sql<Date>`(now() + (cast(${ms} as double precision) * interval '1 millisecond'))`;
}

/** The database's current time (see msAgo). */
export const now: RawBuilder<Date> = sql<Date>`now()`;

/** `$1, $2, …` for an IN (…) list inside raw SQL. Callers guarantee a non-empty list. */
export function sqlList(values: readonly string[]): RawBuilder<unknown> {
  return sql.join(values.map((v) => sql`${v}`));
}
