import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The end-to-end tests share one lab: files run one after the other, and tests inside a file in order.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/e2e/**/*.test.ts'],
    // mail.test.ts (Postfix and Dovecot against each server) passed by hand on its own lab but has not yet
    // run in CI; it joins npm test with the site-level suite (issue 4, in progress). Run it with:
    //   PLAY_E2E_ALL=1 PLAY_LAB=41 npx vitest run --config test/e2e/vitest.config.ts test/e2e/mail.test.ts
    exclude: ['test/lab/.state*/**', '**/node_modules/**', ...(process.env.PLAY_E2E_ALL ? [] : ['test/e2e/mail.test.ts'])],
    globalSetup: ['test/e2e/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
