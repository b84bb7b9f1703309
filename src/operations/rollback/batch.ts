import type { Queryable } from '../../adapters/db/types.js';
import { isServiceError, saidOf } from '../../errors.js';
import type { Mapping } from '../../mapping/mapping.js';
import {
  archiveClassifiedCapabilitiesSql,
  archiveClassifiedResourcesSql,
  archiveLeavingCapabilitiesSql,
  archiveLeavingResourcesSql,
  archiveWholeBatchCapabilitiesSql,
  archiveWholeBatchResourcesByIdSql,
  archiveWholeBatchResourcesSql,
  backportServersSql,
  backportToolsSql,
  batchBornCountsSql,
  batchBornInV2Sql,
  batchCompositionSql,
  batchDivergentSql,
  classifyCapabilitiesSql,
  lockBatchSql,
  lockLeavingCapabilitiesSql,
  refuseWriteBackSql,
  savepointSql,
  writeBackResourcesSql,
  writeBackServersSql,
  writeBackToolsSql,
  type PageRange,
} from '../../sql/rollback/batch.js';
import type { BornRow, DivergentRow } from '../../sql/rollback/plan.js';
import { archiveOrphansSql, settingsSql } from '../../sql/rollback/run.js';
import { execute, queryOne, queryRows } from '../../sql/sql.js';
import type { RollbackInput } from './context.js';
import { LISTED, nothingDone, totalsOf, type Done, type Listed, type Totals } from './report.js';

/**
 * One batch of a rollback run, in the caller's transaction: it locks its resources, writes the
 * rows born in v2 back into v1 (and backports changes if asked), then archives and deletes.
 * What it returns counts only once the transaction has committed.
 */
export async function rollbackBatch(
  tx: Queryable,
  run: BatchRun,
  range: PageRange,
  last?: LastBatch,
): Promise<BatchOutcome> {
  const batch = await LockedBatch.lock(tx, run, range);
  const tries = run.foreignKey && !run.input.backportChanges && run.fastPath.worthTrying();
  const whole = tries ? await batch.archiveWhole() : null;
  const outcome: Omit<BatchOutcome, 'totals'> = whole
    ? { done: { ...nothingDone(), ...whole }, listed: { born: [], divergent: null }, path: 'whole' }
    : await classifiedBatch(await batch.classify(), run, tries ? 'fell back' : 'classified');
  if (last?.orphans) {
    // Orphans exist only where the key was dropped (or never validated), and only a run over every resource takes them.
    const { removed } = await queryOne(tx, archiveOrphansSql(run.m, { rollbackId: run.rollbackId }));
    outcome.done.orphans = removed;
    outcome.done.capabilities += removed;
  }
  return { ...outcome, totals: totalsOf(outcome.listed), ...(last?.onlyWrittenBack ? writtenBackOnly(outcome) : {}) };
}

async function classifiedBatch(
  batch: ClassifiedBatch,
  run: BatchRun,
  path: Path,
): Promise<Omit<BatchOutcome, 'totals'>> {
  const done = nothingDone();
  const listed: Listed = { born: [], divergent: null };
  if (run.input.backportChanges) {
    const backported = await batch.backport();
    listed.divergent = backported.divergent;
    done.serversBackported = backported.servers;
    done.toolsBackported = backported.tools;
  }
  if (batch.anyBorn) {
    const written = await batch.writeBack();
    done.serversWrittenBack = written.servers;
    done.toolsWrittenBack = written.tools;
    listed.born = written.listed;
  }
  Object.assign(done, await batch.archive());
  return { done, listed, path };
}

/** The last batch of a run over page ranges reports only what it wrote back: the ranges reported the born rows that stay. */
function writtenBackOnly({ done, listed }: Omit<BatchOutcome, 'totals'>): Pick<BatchOutcome, 'listed' | 'totals'> {
  return {
    listed: { ...listed, born: listed.born.filter((b) => b.written_back) },
    totals: { ...totalsOf(listed), born: done.serversWrittenBack + done.toolsWrittenBack, staying: 0 },
  };
}

/** What every batch of a run shares. */
export interface BatchRun {
  m: Mapping;
  input: RollbackInput;
  rollbackId: string;
  /** A validated foreign key from capabilities to resources holds. */
  foreignKey: boolean;
  fastPath: FastPath;
}

/** The run's last batch, over every resource in scope: what no page range held (a subset, rows moved or added meanwhile). */
export interface LastBatch {
  /** Takes the orphaned capabilities of v1 origin too. */
  orphans: boolean;
  /** Page ranges ran before it and listed the born rows that stay. */
  onlyWrittenBack: boolean;
}

/**
 * How a batch went: its capabilities archived in one pass (whole), classified first after that
 * pass found one born in v2 (fell back), or classified first from the start.
 */
export type Path = 'whole' | 'fell back' | 'classified';

export interface BatchOutcome {
  done: Done;
  listed: Listed;
  totals: Totals;
  path: Path;
}

/**
 * Whether a batch tries the fast path. It saves reading the batch's capabilities twice, and
 * costs a rolled-back statement where a capability was born in v2 after all, so a run stops
 * trying once more than one batch in ten (after the first) has fallen back.
 */
export class FastPath {
  tried = 0;
  fellBack = 0;
  worthTrying = () => this.fellBack <= 1 + this.tried / 10;
}

/** A value v1 cannot hold (class 22) or a constraint it enforces (class 23): a refusal of that row, not a failure of the run. */
const refusedByV1 = (error: unknown) => isServiceError(error, 'invalid-value', 'constraint-violation');

/** The batch's resources, locked, in the temp table `batch`: what every later step reads. */
class LockedBatch {
  private constructor(
    private readonly tx: Queryable,
    private readonly run: BatchRun,
  ) {}

  static async lock(tx: Queryable, run: BatchRun, range: PageRange): Promise<LockedBatch> {
    await execute(tx, settingsSql());
    await execute(tx, lockBatchSql(run.m, { resourceIds: run.input.resourceIds ?? null, range }));
    return new LockedBatch(tx, run);
  }

  /**
   * The fast path, for a batch of v1-origin resources only, where the foreign key holds and
   * nothing is backported: every capability of the batch goes to the archive in one statement,
   * under a savepoint, which is rolled back if any of them turns out to be born in v2 (it must
   * be written back first). Returns what it removed, or null after rolling back.
   */
  async archiveWhole(): Promise<Pick<Done, 'resources' | 'capabilities'> | null> {
    const { tx, run } = this;
    const { m, rollbackId, fastPath } = run;
    const batch = await queryOne(tx, batchCompositionSql());
    if (batch.born > 0) return null;
    fastPath.tried++;
    await execute(tx, savepointSql('set', 'whole_batch'));
    const { removed, born } = await queryOne(tx, archiveWholeBatchCapabilitiesSql(m, { rollbackId }));
    if (born > 0) {
      fastPath.fellBack++;
      await execute(tx, savepointSql('rollback to', 'whole_batch'));
      return null;
    }
    await execute(tx, savepointSql('release', 'whole_batch'));
    let resources = (await queryOne(tx, archiveWholeBatchResourcesSql(m, { rollbackId }))).removed;
    if (resources < batch.resources) {
      // One moved within this transaction (a trigger on the capabilities' delete): the rest by id.
      resources += (await queryOne(tx, archiveWholeBatchResourcesByIdSql(m, { rollbackId }))).removed;
    }
    return { capabilities: removed, resources };
  }

  /** Finds the batch's capabilities born in v2, and why any cannot be a v1 row: the temp table `born_capabilities`. */
  async classify(): Promise<ClassifiedBatch> {
    await execute(this.tx, classifyCapabilitiesSql(this.run.m));
    const born = await queryOne(this.tx, batchBornCountsSql());
    return new ClassifiedBatch(this.tx, this.run, born.resources + born.capabilities > 0);
  }
}

/** A batch whose born capabilities are known (`batch` and `born_capabilities`): it backports, writes back, archives. */
class ClassifiedBatch {
  constructor(
    private readonly tx: Queryable,
    private readonly run: BatchRun,
    /** Rows born in v2 in the batch: the statements that list and write them back run only if any. */
    readonly anyBorn: boolean,
  ) {}

  /**
   * Backports the leaving rows of v1 origin that changed since cutover, after locking their
   * capabilities (so what is backported is what the delete then archives); lists them first,
   * a field-by-field compare worth its cost only beside the backport.
   */
  async backport(): Promise<{ divergent: DivergentRow[]; servers: number; tools: number }> {
    const { tx, run } = this;
    await queryOne(tx, lockLeavingCapabilitiesSql(run.m));
    const divergent = await queryRows(tx, batchDivergentSql(run.m, { limit: LISTED }));
    const servers = await execute(tx, backportServersSql(run.m));
    const tools = await execute(tx, backportToolsSql(run.m));
    return { divergent, servers, tools };
  }

  /**
   * Writes the batch's rows born in v2 back into v1, in one statement per table. v1 may still
   * refuse a row the checks let through (a value longer than its column, a consul_id two born
   * servers share, a date that does not parse): then resource by resource, each under a
   * savepoint, and what v1 refuses stays in v2 with PostgreSQL's reason. Lists the born rows
   * after: what v1 refused now stays in v2.
   */
  async writeBack(): Promise<{ servers: number; tools: number; listed: BornRow[] }> {
    const written = await this.writeAll().catch(async (error: unknown) => {
      if (!refusedByV1(error)) throw error;
      return this.writeOneByOne();
    });
    return { ...written, listed: await queryRows(this.tx, batchBornInV2Sql(this.run.m, { limit: LISTED })) };
  }

  private async writeAll(): Promise<{ servers: number; tools: number }> {
    const { tx, run } = this;
    await execute(tx, savepointSql('set', 'write_back'));
    try {
      const servers = await execute(tx, writeBackServersSql(run.m, { resourceId: null }));
      const tools = await execute(tx, writeBackToolsSql(run.m, { resourceId: null }));
      await execute(tx, savepointSql('release', 'write_back'));
      return { servers, tools };
    } catch (error) {
      if (refusedByV1(error)) await execute(tx, savepointSql('rollback to', 'write_back'));
      throw error;
    }
  }

  private async writeOneByOne(): Promise<{ servers: number; tools: number }> {
    const { tx, run } = this;
    const written = { servers: 0, tools: 0 };
    for (const { id } of await queryRows(tx, writeBackResourcesSql(run.m))) {
      await execute(tx, savepointSql('set', 'write_back_one'));
      try {
        const servers = await execute(tx, writeBackServersSql(run.m, { resourceId: id }));
        const tools = await execute(tx, writeBackToolsSql(run.m, { resourceId: id }));
        await execute(tx, savepointSql('release', 'write_back_one'));
        written.servers += servers;
        written.tools += tools;
      } catch (error) {
        if (!refusedByV1(error)) throw error;
        await execute(tx, savepointSql('rollback to', 'write_back_one'));
        await execute(tx, refuseWriteBackSql({ resourceId: id, reason: `v1 refused it: ${saidOf(error)}` }));
      }
    }
    return written;
  }

  /**
   * Archives and deletes the leaving capabilities, then their resources. Without the foreign key
   * a writer may add a capability to the batch's resources meanwhile: only what was classified goes.
   */
  async archive(): Promise<Pick<Done, 'resources' | 'capabilities'>> {
    const { tx, run } = this;
    const { m, rollbackId } = run;
    const capabilities = run.foreignKey
      ? archiveLeavingCapabilitiesSql(m, { rollbackId })
      : archiveClassifiedCapabilitiesSql(m, { rollbackId });
    const resources = run.foreignKey
      ? archiveLeavingResourcesSql(m, { rollbackId })
      : archiveClassifiedResourcesSql(m, { rollbackId });
    return {
      capabilities: (await queryOne(tx, capabilities)).removed,
      resources: (await queryOne(tx, resources)).removed,
    };
  }
}
