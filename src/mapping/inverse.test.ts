import { describe, expect, it } from 'vitest';
import { databaseTargets } from '../../test/support/databases.js';
import { isUuidText } from './inverse.js';

/** The rule isUuidText stands for: what PostgreSQL's uuid cast is let see. */
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const texts = [
  '0b0b0b0b-0000-4000-8000-000000000001',
  '0B0B0B0B-ABCD-4EF0-8000-00000000000A',
  'aBcDeF01-2345-6789-abcd-ef0123456789',
  '0b0b0b0b00000-4000-8000-000000000001', // a hyphen moved
  '0b0b0b0b--000-4000-8000-000000000001', // five hyphens, the length right
  '0b0b0b0b-0000-4000-8000-00000000000-',
  '0b0b0b0b-0000-4000-8000-00000000000g', // not hex
  '0b0b0b0b-0000-4000-8000-0000000000é1', // a character of two bytes
  '{0b0b0b0b-0000-4000-8000-000000000001}', // the cast takes braces; v1 ids never have them
  '0b0b0b0b000040008000000000000001', // the cast takes no hyphens; the rule does not
  'urn:uuid:0b0b0b0b-0000-4000-8000-000000000001',
  ' 0b0b0b0b-0000-4000-8000-00000000001',
  '0b0b0b0b-0000-4000-8000-000000000001 ',
  '0b0b0b0b_0000_4000_8000_000000000001',
  '%%%%%%%%-%%%%-%%%%-%%%%-%%%%%%%%%%%%',
  '',
  'http-1',
];

for (const target of databaseTargets()) {
  describe(`isUuidText [${target.driver}]`, () => {
    it('holds exactly where the anchored UUID regex matches, and is NULL for NULL', async () => {
      const t = await target.open();
      try {
        const { rows } = await t.db.query<{ text: string | null; is_uuid: boolean | null; regex: boolean | null }>(
          `SELECT x AS text, ${isUuidText('x')} AS is_uuid, x ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' AS regex
             FROM unnest($1::text[]) x`,
          [[...texts, null]],
        );
        expect(rows).toHaveLength(texts.length + 1);
        for (const row of rows) {
          expect(row.is_uuid, String(row.text)).toBe(row.text === null ? null : UUID.test(row.text));
          expect(row.is_uuid, String(row.text)).toBe(row.regex);
        }
        // Where it holds, the cast succeeds: every such text is one the cast takes.
        const cast = await t.db.query<{ n: number }>(
          `SELECT count(x::uuid)::int AS n FROM unnest($1::text[]) x WHERE ${isUuidText('x')}`,
          [texts],
        );
        expect(cast.rows[0]!.n).toBe(texts.filter((x) => UUID.test(x)).length);
      } finally {
        await t.dispose();
      }
    });
  });
}
