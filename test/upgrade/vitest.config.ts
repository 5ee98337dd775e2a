import { defineConfig, mergeConfig } from 'vitest/config';
import e2e from '../e2e/vitest.config.ts';

// The upgrade of a Debian 12 pair to Debian 13 (`npm run test:upgrade`): the e2e tests' lab and settings, its own
// files. Not in `npm test`: one run takes longer than the whole CI may.
export default mergeConfig(e2e, defineConfig({ test: { include: ['test/upgrade/**/*.test.ts'] } }));
