import { ValidationError } from '../errors.ts';
import type { InventorySpec } from './inventory.ts';

function globToRegExp(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
}

function known(inventory: InventorySpec): string {
  return `hosts: ${Object.keys(inventory.hosts).join(', ')}; groups: ${Object.keys(inventory.groups ?? {}).join(', ') || 'none'}`;
}

/** The hosts one term names: `all`, a host, a group or a glob; only the inventory's own names count. */
function namesOf(term: string, inventory: InventorySpec): string[] {
  const hosts = Object.keys(inventory.hosts);
  const groups = inventory.groups ?? {};
  if (term === 'all' || term === '*') return hosts;
  // Own keys only: `constructor` or `__proto__` must not match what every object inherits.
  if (Object.hasOwn(inventory.hosts, term)) return [term];
  if (Object.hasOwn(groups, term)) return [...groups[term].hosts];
  if (/[*?]/.test(term)) {
    const pattern = globToRegExp(term);
    const fromGroups = Object.entries(groups)
      .filter(([g]) => pattern.test(g))
      .flatMap(([, g]) => g.hosts);
    const matched = hosts.filter((h) => pattern.test(h) || fromGroups.includes(h));
    if (matched.length === 0)
      throw new ValidationError(`host pattern "${term}" matches no host or group (${known(inventory)})`);
    return matched;
  }
  throw new ValidationError(`host pattern "${term}" names no host or group (${known(inventory)})`);
}

/**
 * The hosts a pattern selects, in the pattern's order: names, groups, `all`, globs (`web*`), joined by `,` or
 * `:`; `!x` removes, `&x` intersects (Ansible's syntax), and a pattern of removals alone starts from `all`
 * (`!backup` is every host but the backup). An empty pattern, a name or glob that matches nothing, and a pattern
 * that ends up selecting no host are errors (exit code 2): a typo must never run against nothing, or everything.
 *
 * @example
 * selectHosts('mail:!backup', inventory) // ['primary']
 * selectHosts('!backup', inventory) // every host but backup
 * selectHosts(['backup', 'primary'], inventory) // ['backup', 'primary']
 */
export function selectHosts(pattern: string | readonly string[], inventory: InventorySpec): string[] {
  const shown = typeof pattern === 'string' ? pattern : pattern.join(',');
  const terms = (typeof pattern === 'string' ? [pattern] : pattern)
    .flatMap((p) => p.split(/[,:]/))
    .map((t) => t.trim())
    .filter(Boolean);
  if (terms.length === 0)
    throw new ValidationError(`host pattern ${JSON.stringify(shown)} is empty: give host or group names, or all`);
  const positive = terms.filter((t) => !t.startsWith('!') && !t.startsWith('&'));
  let selected: string[] = positive.length === 0 ? Object.keys(inventory.hosts) : [];
  for (const term of positive) {
    for (const host of namesOf(term, inventory)) if (!selected.includes(host)) selected.push(host);
  }
  for (const term of terms.filter((t) => t.startsWith('&'))) {
    const keep = new Set(namesOf(term.slice(1), inventory));
    selected = selected.filter((h) => keep.has(h));
  }
  for (const term of terms.filter((t) => t.startsWith('!'))) {
    const drop = new Set(namesOf(term.slice(1), inventory));
    selected = selected.filter((h) => !drop.has(h));
  }
  if (selected.length === 0) throw new ValidationError(`host pattern "${shown}" selects no host (${known(inventory)})`);
  return selected;
}
