import { createApiClient, EndpointType } from '@neondatabase/api-client';
import { ServiceError } from '../../errors.js';
import type { Database } from '../db/types.js';
import { COPY_NAME, type CopyProvider } from './types.js';

export interface NeonCopiesOptions {
  /** NEON_API_KEY: sent as a bearer token to Neon's API, never written anywhere. */
  apiKey: string;
  /** NEON_PROJECT_ID */
  projectId: string;
  /** NEON_BRANCH_ID: the branch DATABASE_URL is on; absent, the project's default branch. */
  branchId?: string | undefined;
  /** NEON_API_URL: Neon's API (default https://console.neon.tech/api/v2); tests point it at a local server. */
  apiUrl?: string | undefined;
  /** DATABASE_URL: its database and role name are the copy's. */
  sourceUrl: string;
  /** Opens the branch's direct connection string (the Neon driver). */
  open(url: string): Database;
}

/** Neon's API refused or could not be reached: the status and its message, never the key. */
function apiRefused(what: string, error: unknown): ServiceError {
  const response = (error as { response?: { status?: number; data?: { message?: unknown } } }).response;
  const said = typeof response?.data?.message === 'string' ? response.data.message : (error as Error).message;
  return new ServiceError(
    'copy-refused',
    `Neon's API did not ${what}${response?.status ? ` (${response.status})` : ''}: ${said}. Nothing was left behind.`,
    { facts: { neonStatus: response?.status ?? null }, cause: error },
  );
}

/**
 * Neon: a branch of the database's branch (copy-on-write, made in seconds whatever the size,
 * and no quiet needed on the source), with a read-write compute endpoint of its own; the
 * rehearsal connects to its direct (non-pooled) connection string and deletes the branch after.
 * Not run against Neon's cloud from this repository: its tests use a local server that answers
 * the three endpoints used (docs/rehearse.md).
 */
export function neonCopies(options: NeonCopiesOptions): CopyProvider {
  const api = createApiClient({ apiKey: options.apiKey, ...(options.apiUrl ? { baseURL: options.apiUrl } : {}) });
  const source = new URL(options.sourceUrl);
  const databaseName = decodeURIComponent(source.pathname.slice(1)) || 'neondb';
  const roleName = decodeURIComponent(source.username);
  const { projectId } = options;

  const deleteBranch = async (branchId: string) => {
    try {
      await api.deleteProjectBranch({ projectId, branchId });
    } catch (error) {
      throw apiRefused(`delete branch ${branchId}`, error);
    }
  };

  return {
    method: 'neon-branch',
    canKeep: true,
    async create(name) {
      if (!COPY_NAME.test(name)) throw new Error(`not a copy name the service makes: ${name}`);
      let branchId: string;
      let endpointId: string | undefined;
      try {
        const { data } = await api.createProjectBranch(projectId, {
          branch: { name, ...(options.branchId ? { parent_id: options.branchId } : {}) },
          endpoints: [{ type: EndpointType.ReadWrite }],
        });
        branchId = data.branch.id;
        endpointId = data.endpoints[0]?.id;
      } catch (error) {
        throw apiRefused('create a branch', error);
      }
      let db: Database;
      try {
        const { data } = await api.getConnectionUri({
          projectId,
          branch_id: branchId,
          ...(endpointId ? { endpoint_id: endpointId } : {}),
          database_name: databaseName,
          role_name: roleName,
          pooled: false,
        });
        db = options.open(data.uri);
      } catch (error) {
        await deleteBranch(branchId).catch(() => undefined);
        throw apiRefused(`give branch ${branchId}'s connection string`, error);
      }
      let dropped = false;
      return {
        db,
        name,
        reach: `Neon branch "${name}" (${branchId}) of project ${projectId}: its connection string is in Neon's console (Connect, branch ${name})`,
        async drop() {
          if (dropped) return;
          await db.close().catch(() => undefined);
          await deleteBranch(branchId);
          dropped = true;
        },
      };
    },
  };
}
