import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes drizzle/ from src/db/schema.ts, then bundles it for the Worker.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
});
