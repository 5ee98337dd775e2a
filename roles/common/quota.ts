import type { HealthRow } from 'play';

/** An account at or above this share of its quota (percent) is a failed check: its mail will soon be refused. */
export const QUOTA_WARN_PERCENT = 90;

/** One account's mailbox use against its quota, as `doveadm quota get -A` reports it (storage, in bytes). */
export interface QuotaUse {
  readonly account: string;
  readonly usedBytes: number;
  readonly limitBytes: number;
  readonly percent: number;
}

/**
 * The shell that prints each account's storage use as `ACCOUNT USED_KB LIMIT_KB PERCENT;` (doveadm's tab format:
 * user, quota name, type, value, limit, percent; storage in kilobytes, `-` for no limit).
 */
export const QUOTA_USE_SCRIPT = `doveadm -f tab quota get -A 2>/dev/null | awk -F'\\t' '$3 == "STORAGE" && $5 ~ /^[0-9]+$/ { printf "%s %s %s %s;", $1, $4, $5, $6 }'`;

/** Parses {@link QUOTA_USE_SCRIPT}'s output. */
export function parseQuotaUse(value: string): QuotaUse[] {
  const uses: QuotaUse[] = [];
  for (const entry of value.split(';')) {
    const match = /^(\S+) (\d+) (\d+) (\d+)$/.exec(entry.trim());
    if (match)
      uses.push({
        account: match[1],
        usedBytes: Number(match[2]) * 1024,
        limitBytes: Number(match[3]) * 1024,
        percent: Number(match[4]),
      });
  }
  return uses;
}

/** A quota as Dovecot counts it (and the inventory writes it, 2G = 2 GiB): `2 GiB`, `20 MiB`, `1.5 GiB`. */
function quotaSize(bytes: number): string {
  const [size, unit] = bytes >= 2 ** 30 ? [bytes / 2 ** 30, 'GiB'] : [bytes / 2 ** 20, 'MiB'];
  return `${Number(size.toFixed(1))} ${unit}`;
}

/**
 * The server's quota row: red when an account is at {@link QUOTA_WARN_PERCENT}% of its quota or more, naming each
 * such account; otherwise the fullest one (not part of the health gate: a deploy does not fill a mailbox).
 *
 * @example
 * quotaRow('primary', [{ account: 'guru4', usedBytes: 19e6, limitBytes: 20e6, percent: 95 }]) // ok: false, 'guru4 95% of 19.1 MiB: …'
 */
export function quotaRow(host: string, uses: readonly QuotaUse[]): HealthRow {
  if (uses.length === 0) return { check: 'quota', host, gate: false, ok: false, detail: 'doveadm reported no quota' };
  const of = (u: QuotaUse) => `${u.account} ${u.percent}% of ${quotaSize(u.limitBytes)}`;
  const full = uses.filter((u) => u.percent >= QUOTA_WARN_PERCENT);
  if (full.length > 0)
    return {
      check: 'quota',
      host,
      gate: false,
      ok: false,
      detail: `${full.map(of).join(', ')}: at ${QUOTA_WARN_PERCENT}% or more (new mail is refused when full)`,
    };
  const fullest = [...uses].sort((a, b) => b.percent - a.percent || b.usedBytes - a.usedBytes)[0];
  return { check: 'quota', host, gate: false, ok: true, detail: `${uses.length} accounts, fullest ${of(fullest)}` };
}
