import type { RunEvent } from '../../engine/events.ts';

/** What a reporter writes to. */
export interface Output {
  write(text: string): void;
}

/**
 * Line-by-line output for logs and CI: one line per task with its host and outcome, diffs before each change.
 *
 * @example
 * executeRun(run, { ..., onEvent: plainReporter(process.stdout, { diff: true }) })
 */
export function plainReporter(out: Output, options: { diff: boolean }): (event: RunEvent) => void {
  return (event) => {
    switch (event.type) {
      case 'play':
        out.write(`\nPLAY [${event.play}] hosts: ${event.hosts.join(', ') || '(none)'}\n`);
        break;
      case 'task-planned':
        if (options.diff && event.diff)
          out.write(
            `${event.host} | ${event.check ? 'would change' : 'changing'}: ${event.task}\n${indent(event.diff)}\n`,
          );
        break;
      case 'task-end': {
        const r = event.result;
        const label = r.status === 'changed' && event.check ? (r.handler ? 'would run' : 'would change') : r.status;
        const where = [r.role, r.handler ? `handler ${r.task}` : r.task].filter(Boolean).join(' › ');
        const detail = r.error ? `\n${indent(r.error)}` : r.summary ? ` (${r.summary})` : '';
        out.write(`${r.host} | ${label} | ${where}${detail}\n`);
        break;
      }
      case 'gate':
        out.write(`${formatGate(event)}\n`);
        break;
      case 'stopped':
        out.write(`${formatStop(event)}\n`);
        break;
      case 'host-waiting':
        out.write(`${event.host} | waiting for the run lock, held by ${event.holder}\n`);
        break;
      default:
        break;
    }
  };
}

/**
 * The health gate's verdict after a batch, e.g. `GATE after primary: FAILED, smtp 25 primary: …; the run stops,
 * backup not touched`.
 */
export function formatGate(gate: {
  hosts: readonly string[];
  before?: string;
  failed: readonly { check: string; host?: string; detail: string }[];
  skipped: readonly string[];
}): string {
  const when = gate.before !== undefined ? `before play [${gate.before}] on` : 'after';
  if (gate.failed.length === 0) return `GATE ${when} ${gate.hosts.join(', ')}: ok`;
  const checks = gate.failed.map((f) => `${f.check}${f.host ? ` ${f.host}` : ''}: ${f.detail}`).join('; ');
  const stop = gate.skipped.length ? `; the run stops, ${gate.skipped.join(', ')} not touched` : '';
  return `GATE ${when} ${gate.hosts.join(', ')}: FAILED, ${checks}${stop}`;
}

/**
 * Why a run stopped early, e.g. `STOPPED in play [upgrade backup]: backup failed; primary not touched`.
 */
export function formatStop(stop: { play: string; failed: readonly string[]; skipped: readonly string[] }): string {
  const untouched = stop.skipped.length ? `; ${stop.skipped.join(', ')} not touched` : '';
  return `STOPPED in play [${stop.play}]: ${stop.failed.join(', ')} failed, and the play stops the run on any failure${untouched}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}
