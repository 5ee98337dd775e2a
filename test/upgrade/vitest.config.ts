import { defineConfig, mergeConfig } from 'vitest/config';
import e2e from '../e2e/vitest.config.ts';

// The upgrade of a Debian 12 pair to Debian 13 (`npm run test:upgrade`): the e2e tests' lab and settings, its own
// files. Not in `npm test`: one run takes longer than the whole CI may.
// (mergeConfig would append to the e2e files' include list: the list is replaced instead.)
const config = mergeConfig(e2e, defineConfig({}));
config.test = { ...config.test, include: ['test/upgrade/**/*.test.ts'] };
export default config;
