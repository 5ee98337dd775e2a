import { fileURLToPath } from 'node:url';
import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';
import { SiteFirstSequencer } from './site-first-sequencer.ts';

// The end-to-end tests share one lab: files run one after the other, and tests inside a file in order.
// `play` resolves to the TypeScript sources here (the play-source export condition); the `play` processes the tests
// start run the built dist/.
export default defineConfig({
  resolve: { conditions: ['play-source', ...defaultServerConditions] },
  ssr: { resolve: { conditions: ['play-source', ...defaultServerConditions], externalConditions: ['play-source'] } },
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/e2e/**/*.test.ts'],
    exclude: ['test/lab/.state*/**', '**/node_modules/**', 'dist/**'],
    // The default report, then the time each file took (test/support/file-times-reporter.ts).
    reporters: ['default', './test/support/file-times-reporter.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    fileParallelism: false,
    sequence: { sequencer: SiteFirstSequencer },
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
