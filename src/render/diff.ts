import { createRequire } from 'node:module';

// jsdiff is loaded with the first diff to show, not with the engine (a run with nothing to change shows none).
const requireDiff = () => createRequire(import.meta.url)('diff') as typeof import('diff');
import type { FileDiff } from '../ops/op.ts';
import type { MaskTable } from '../mask-table.ts';
import { Secret, reveal } from '../secret.ts';

/** Past this many added and removed lines, a diff is summarised instead of shown. */
export const MAX_DIFF_EDITS = 1000;

function lineCount(text: string): number {
  return text === '' ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

/**
 * At least how many lines a diff of the two texts adds and removes: the lines of each that the other lacks,
 * counted as multisets. Cheap (linear), and never more than the real edit count, so a diff it puts past the bound
 * is surely past it: jsdiff's search, quadratic in the edits, is then not run at all.
 */
export function leastLineEdits(before: string, after: string): number {
  const counts = new Map<string, number>();
  for (const line of before.split('\n')) counts.set(line, (counts.get(line) ?? 0) + 1);
  for (const line of after.split('\n')) counts.set(line, (counts.get(line) ?? 0) - 1);
  let edits = 0;
  for (const n of counts.values()) edits += Math.abs(n);
  return edits;
}

function looksBinary(text: string): boolean {
  return text.includes('\u0000');
}

/**
 * A file diff as unified-diff text, with attribute changes after it; the secrets `masks` knows masked. Contents
 * given as secrets are not shown at all.
 *
 * @example
 * formatDiff({ path: '/etc/motd', before: 'old\n', after: 'new\n' }, run.masks)
 */
export function formatDiff(fileDiff: FileDiff, masks: MaskTable): string {
  const lines: string[] = [];
  if (fileDiff.before !== undefined || fileDiff.after !== undefined) {
    const before = reveal(fileDiff.before ?? '');
    const after = reveal(fileDiff.after ?? '');
    if (fileDiff.before instanceof Secret || fileDiff.after instanceof Secret) {
      lines.push(
        `${fileDiff.path}: secret content ${before === '' ? 'created' : after === '' ? 'removed' : 'changed'} (not shown)`,
      );
    } else if (looksBinary(before) || looksBinary(after)) {
      lines.push(`Binary file ${fileDiff.path} differs`);
    } else {
      // A bounded edit distance keeps a rewrite of a large file from costing seconds of CPU for a diff nobody reads.
      const patch =
        leastLineEdits(before, after) > MAX_DIFF_EDITS
          ? undefined
          : requireDiff().createTwoFilesPatch(
              `${fileDiff.path} (before)`,
              `${fileDiff.path} (after)`,
              before,
              after,
              '',
              '',
              { context: 3, maxEditLength: MAX_DIFF_EDITS },
            );
      if (patch === undefined) {
        lines.push(
          `${fileDiff.path}: ${lineCount(before)} → ${lineCount(after)} lines; more than ${MAX_DIFF_EDITS} lines differ, not shown`,
        );
      } else {
        // Drop the "Index/====" header lines createTwoFilesPatch adds; keep ---/+++ and hunks.
        lines.push(
          ...patch
            .split('\n')
            .filter((l) => !l.startsWith('====='))
            .filter(Boolean),
        );
      }
    }
  }
  for (const attribute of fileDiff.attributes ?? []) {
    lines.push(`${attribute.name} ${attribute.before} → ${attribute.after} (${fileDiff.path})`);
  }
  // A secret inside the contents is masked here, once, for every reporter.
  return masks.mask(lines.join('\n'));
}
