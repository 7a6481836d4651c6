import { CompiledQuery, type Compilable } from 'kysely';

const SLOT = '\u0000slot:';

/**
 * A query built and compiled once, then run with new values: the hot paths (authenticate, submit,
 * review) would otherwise spend most of their time rebuilding and recompiling the same SQL with Kysely.
 *
 * `build` receives a placeholder for each name; every placeholder must end up as a bound parameter
 * (never inlined), which holds for values passed to `where`, `values` and `set`.
 */
export function prepareQuery<K extends string>(
  names: readonly K[],
  build: (slot: Record<K, never>) => Compilable,
): (values: Record<K, unknown>) => CompiledQuery {
  const slots = Object.fromEntries(names.map((n) => [n, `${SLOT}${n}`])) as Record<K, never>;
  const compiled = build(slots).compile();
  type Param = { name: K; constant?: undefined } | { name?: undefined; constant: unknown };
  const order: Param[] = compiled.parameters.map((p) =>
    typeof p === 'string' && p.startsWith(SLOT) ? { name: p.slice(SLOT.length) as K } : { constant: p },
  );
  for (const n of names) {
    if (!order.some((o) => o.name === n)) throw new Error(`prepared query lost its slot ${n}`);
  }
  return (values) =>
    CompiledQuery.raw(
      compiled.sql,
      order.map((o) => (o.name === undefined ? o.constant : values[o.name])),
    );
}

/**
 * A multi-row statement built and compiled once for `n` rows of `columns`, then run with the rows' values
 * in one flat array, row after row, each in column order: no record of named values to build per call.
 * `build` receives the placeholders of each row; the compiled query must bind exactly those, in that
 * order (as an INSERT's VALUES list does), or this throws when it is prepared.
 */
export function prepareRows<C extends string>(
  n: number,
  columns: readonly C[],
  build: (rows: Record<C, never>[]) => Compilable,
): (flat: readonly unknown[]) => CompiledQuery {
  const rows = Array.from(
    { length: n },
    (_, i) => Object.fromEntries(columns.map((c) => [c, `${SLOT}${i}:${c}`])) as Record<C, never>,
  );
  const compiled = build(rows).compile();
  const expected = rows.flatMap((row) => columns.map((c) => row[c] as unknown));
  const same =
    compiled.parameters.length === expected.length && compiled.parameters.every((p, i) => p === expected[i]);
  if (!same) throw new Error('prepared rows do not bind their values row after row in column order');
  return (flat) => CompiledQuery.raw(compiled.sql, flat as unknown[]);
}
