import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

/**
 * zod, able to carry OpenAPI metadata (`.openapi()`): the report schemas are the core's, and
 * the HTTP layer publishes them. The same extension @hono/zod-openapi applies to the same zod.
 */
extendZodWithOpenApi(z);

export { z };
