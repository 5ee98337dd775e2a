import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Runs site.test.ts first, then the other files in vitest's own order: its first deploy is saved as the snapshot of
 * the deployed site that the files starting `from: 'site'` boot (support/lab.ts), so no other file deploys again.
 */
export class SiteFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const isSite = (file: TestSpecification) => file.moduleId.endsWith('/test/e2e/site.test.ts');
    return [...sorted.filter(isSite), ...sorted.filter((file) => !isSite(file))];
  }
}
