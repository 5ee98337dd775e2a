import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Every unit test file keeps play's host state (run locks, pending handlers) in a folder of its own: the tests'
// hosts are this machine under the same few names, and one file's pending handler must never reach another's run.
process.env.PLAY_STATE_DIR = mkdtempSync(join(tmpdir(), 'play-state-'));
