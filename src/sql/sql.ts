import type { Queryable, Row } from '../adapters/db/types.js';

/**
 * Every statement the service runs is made by a function under src/sql/ that returns one of
 * these: the text, with `$n` for each value, and the values, always bound. Identifiers in the
 * text come from fixed catalogues only, never from a request. `R` is the row it returns.
 */
export interface Sql<R extends Row = Row> {
  text: string;
  values: unknown[];
  /** Never set: it only ties the row type to the statement. */
  readonly row?: R;
}

export const sql = <R extends Row = Row>(text: string, values: unknown[] = []): Sql<R> => ({ text, values });

/**
 * The values of one statement, in the order they are bound: `bind` answers the placeholder
 * (`$n`, with a cast where given), so a statement names each value where it uses it.
 */
export class Params {
  readonly values: unknown[] = [];

  bind(value: unknown, type?: string): string {
    this.values.push(value);
    return `$${this.values.length}${type ? `::${type}` : ''}`;
  }
}

/** The rows a statement returns. */
export async function queryRows<R extends Row>(db: Queryable, statement: Sql<R>): Promise<R[]> {
  return (await db.query<R>(statement.text, statement.values)).rows;
}

/** The one row a statement returns (an aggregate, a RETURNING of one row). */
export async function queryOne<R extends Row>(db: Queryable, statement: Sql<R>): Promise<R> {
  const [row] = await queryRows(db, statement);
  if (!row) throw new Error(`expected a row from: ${statement.text.slice(0, 80)}`);
  return row;
}

/** Runs a statement for its effect; the rows it touched. */
export async function execute(db: Queryable, statement: Sql): Promise<number> {
  return (await db.query(statement.text, statement.values)).rowCount;
}
