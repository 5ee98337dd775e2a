import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Unit and SSH tests run the TypeScript sources: `play` and `play/*` resolve to src/ and roles/ through the
// package's `play-source` export condition (the built dist/ is for the binary and for installed copies).
export default defineConfig({
  resolve: { conditions: ['play-source', ...defaultServerConditions] },
  ssr: { resolve: { conditions: ['play-source', ...defaultServerConditions], externalConditions: ['play-source'] } },
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    dir: 'test/unit',
    setupFiles: ['test/unit/support/state-dir.ts'],
    exclude: ['test/lab/.state*/**', '**/node_modules/**', 'dist/**'],
    // The default report, then the time each file took (test/support/file-times-reporter.ts).
    reporters: ['default', './test/support/file-times-reporter.ts'],
    // One file per core, not vitest's default of one fewer: on a 2-core machine that is one file at a time, while
    // most files spend half their time waiting for the programs they start (sshd, restic, python, the play binary).
    // 2026-12-07, 2 cores: 303 s one at a time, 175 s two at once.
    maxWorkers: Math.max(2, availableParallelism()),
  },
});
