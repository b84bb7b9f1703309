import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes drizzle/ from the schema files, then bundles it for the Worker.
export default defineConfig({
  dialect: 'postgresql',
  schema: ['./src/db/schema.ts', './src/db/service-schema.ts'],
  out: './drizzle',
});
