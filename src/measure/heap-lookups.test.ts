import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainOutput, heapLookups } from './plan.js';

/** Plans from a real PostgreSQL (PGlite): a nested loop's lookups, then the same with a covering index. */
describe('heapLookups', () => {
  let db: PGlite;
  const JOIN = `SELECT p.id, p.label, count(*) FROM child c JOIN parent p ON p.id = c.parent_id WHERE c.id <= 50 GROUP BY p.id, p.label`;
  const plan = async (options: string) =>
    explainOutput(
      (await db.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (${options}, FORMAT JSON) ${JOIN}`)).rows[0]!['QUERY PLAN'],
    );

  beforeAll(async () => {
    db = await PGlite.create();
    await db.exec(`
      CREATE TABLE parent (id int PRIMARY KEY, label text, filler text);
      CREATE TABLE child (id int PRIMARY KEY, parent_id int);
      INSERT INTO parent SELECT g, 'p' || g, repeat('x', 200) FROM generate_series(1, 20000) g;
      INSERT INTO child SELECT g, 1 + (g * 7919) % 20000 FROM generate_series(1, 20000) g;
      SET enable_hashjoin = off; SET enable_mergejoin = off;`);
    await db.query('VACUUM ANALYZE parent');
    await db.query('VACUUM ANALYZE child');
  });
  afterAll(() => db.close());

  it('finds each row looked up through the primary key and fetched from the table, with loops and pages', async () => {
    const lookups = heapLookups(await plan('ANALYZE, BUFFERS, TIMING OFF'));
    expect(lookups).toEqual([
      expect.objectContaining({ relation: 'child', index: 'child_pkey', node: 'Index Scan', rows: 50, lookups: 1 }),
      {
        relation: 'parent',
        index: 'parent_pkey',
        node: 'Index Scan',
        rows: 50,
        lookups: 50,
        buffers: { hit: expect.any(Number), read: expect.any(Number) },
      },
    ]);
    lookups.shift();
    expect(lookups[0]!.buffers!.hit + lookups[0]!.buffers!.read).toBeGreaterThanOrEqual(50);
  });

  it("takes the planner's outer rows for loops when the plan was not run", async () => {
    const lookup = heapLookups(await plan('COSTS ON')).find((l) => l.relation === 'parent');
    expect(lookup).toMatchObject({ index: 'parent_pkey', node: 'Index Scan', buffers: null });
    expect(lookup!.lookups).toBeGreaterThan(10);
    expect(lookup!.lookups).toBeLessThan(500);
    expect(lookup!.rows).toBe(lookup!.lookups); // one row per lookup: the key is unique
  });

  it('finds none on a table once a covering index answers them from the index alone', async () => {
    await db.query('CREATE INDEX parent_covering ON parent (id) INCLUDE (label)');
    await db.query('VACUUM ANALYZE parent');
    const explained = await plan('ANALYZE, BUFFERS, TIMING OFF');
    expect(JSON.stringify(explained)).toContain('Index Only Scan');
    expect(heapLookups(explained).map((l) => l.relation)).toEqual(['child']);
  });
});
