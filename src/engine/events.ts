import type { TaskResult } from './report.ts';

/** What the engine tells reporters as a run goes on. Reporters draw; the engine never knows how. */
export type RunEvent =
  | { readonly type: 'play'; readonly play: string; readonly hosts: readonly string[] }
  | { readonly type: 'host-start'; readonly host: string; readonly play: string }
  | {
      readonly type: 'task-start';
      readonly host: string;
      readonly play: string;
      readonly role?: string;
      readonly task: string;
      readonly handler: boolean;
    }
  /** Emitted after planning and before applying, so the diff is shown before the change is made. */
  | {
      readonly type: 'task-planned';
      readonly host: string;
      readonly task: string;
      readonly summary: string;
      readonly diff?: string;
      readonly check: boolean;
    }
  | { readonly type: 'task-end'; readonly result: TaskResult; readonly check: boolean }
  | { readonly type: 'host-unreachable'; readonly host: string; readonly error: string }
  /**
   * The health gate after a batch (or before a play with `checkHealthFirst`: `before` names it): `failed` empty lets
   * the run go on; else it stops and `skipped` were not touched.
   */
  | {
      readonly type: 'gate';
      readonly hosts: readonly string[];
      readonly before?: string;
      readonly failed: readonly { readonly check: string; readonly host?: string; readonly detail: string }[];
      readonly skipped: readonly string[];
    }
  /** A host of a play with `anyErrorsFatal` failed: the run stops, `skipped` were not touched after it. */
  | {
      readonly type: 'stopped';
      readonly play: string;
      readonly failed: readonly string[];
      readonly skipped: readonly string[];
    }
  /** Another run holds the host's lock; this one waits for it (`holder` says who: user@controller, pid, since). */
  | { readonly type: 'host-waiting'; readonly host: string; readonly holder: string }
  | { readonly type: 'host-end'; readonly host: string; readonly play: string; readonly failed: boolean };

/** A function that receives every {@link RunEvent}. */
export type RunListener = (event: RunEvent) => void;
