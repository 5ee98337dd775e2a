import { describe, expect, it } from 'vitest';
import { sh } from '../../../src/connection/sh.ts';
import { PlayError } from '../../../src/errors.ts';
import { reboot } from '../../../src/ops/reboot.ts';
import { FakeHost } from '../support/fake-host.ts';

const needed = sh`test ! -e /run/reboot-required`;

describe('reboot', () => {
  it('plans a reboot step with its timeout on every run when it has no guard', async () => {
    const plan = await new FakeHost().plan(reboot());
    expect(plan).toEqual({
      changed: true,
      summary: 'reboot, and wait up to 600 s until the host is back',
      steps: [{ kind: 'reboot', timeoutSeconds: 600 }],
      diffs: [],
    });
  });

  it('plans nothing when its unless check succeeds, and a reboot when it fails', async () => {
    const answer = (ok: boolean) => ({
      onCommand: (c: { text: string }) => (c.text === needed.text ? { exitCode: ok ? 0 : 1 } : undefined),
    });
    expect(await new FakeHost(answer(true)).plan(reboot({ unless: needed }))).toEqual({
      changed: false,
      reason: 'unless check succeeded: no reboot needed',
    });
    const plan = await new FakeHost(answer(false)).plan(reboot({ unless: needed, timeoutSeconds: 900 }));
    expect(plan.changed && plan.steps).toEqual([{ kind: 'reboot', timeoutSeconds: 900 }]);
  });

  it('refuses a timeout that is not a whole number above 0, and an unless not built with sh', () => {
    expect(() => reboot({ timeoutSeconds: 0 })).toThrow(
      new PlayError('reboot: timeoutSeconds must be a whole number of seconds above 0, got 0'),
    );
    expect(() => reboot({ timeoutSeconds: 1.5 })).toThrow(PlayError);
    expect(() => reboot({ unless: 'test -e /x' as never })).toThrow('reboot: unless must be built with sh`…`');
  });
});
