import { definePlaybook, directory, file, sh } from 'play';
import inventory from '../../../inventory/lab.ts';

const FILES = 150;
const version = process.env.PLAY_E2E_VERSION ?? 'A';

/** The content of file `index` in a version: large enough that writing all of them takes a while. */
export function manyFilesContent(index: number, v: string): string {
  return `${v}:${index}\n`.repeat(4096);
}

/**
 * Writes many files on both servers, their content from PLAY_E2E_VERSION: for killing play in the middle of a write
 * batch. With PLAY_E2E_SLOW_CHECK each file's check takes 50 ms, so the batch lasts long enough to be caught.
 */
const slowCheck = process.env.PLAY_E2E_SLOW_CHECK ? { validate: (p: string) => sh`sleep 0.05; test -s ${p}` } : {};
export default definePlaybook({
  inventory,
  plays: [
    {
      name: 'many files',
      hosts: ['primary', 'backup'],
      tasks: [
        directory({ path: '/srv/many', mode: '0755' }),
        ...Array.from({ length: FILES }, (_, index) =>
          file({ path: `/srv/many/file-${index}.txt`, content: manyFilesContent(index, version), ...slowCheck }),
        ),
      ],
    },
  ],
});
