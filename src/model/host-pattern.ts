import { ValidationError } from '../errors.ts';
import type { InventorySpec } from './inventory.ts';

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

function namesOf(term: string, inventory: InventorySpec): string[] {
  const hosts = Object.keys(inventory.hosts);
  const groups = inventory.groups ?? {};
  if (term === 'all' || term === '*') return hosts;
  if (term in inventory.hosts) return [term];
  if (term in groups) return [...groups[term].hosts];
  if (/[*?]/.test(term)) {
    const pattern = globToRegExp(term);
    const fromGroups = Object.entries(groups).filter(([g]) => pattern.test(g)).flatMap(([, g]) => g.hosts);
    return hosts.filter((h) => pattern.test(h) || fromGroups.includes(h));
  }
  throw new ValidationError(`host pattern "${term}" names no host or group (hosts: ${hosts.join(', ')}; groups: ${Object.keys(groups).join(', ') || 'none'})`);
}

/**
 * The hosts a pattern selects, in the pattern's order: names, groups, `all`, globs (`web*`), joined by `,` or
 * `:`; `!x` removes, `&x` intersects (Ansible's syntax).
 *
 * @example
 * selectHosts('mail:!backup', inventory) // ['primary']
 * selectHosts(['backup', 'primary'], inventory) // ['backup', 'primary']
 */
export function selectHosts(pattern: string | readonly string[], inventory: InventorySpec): string[] {
  const terms = (typeof pattern === 'string' ? [pattern] : pattern).flatMap((p) => p.split(/[,:]/)).map((t) => t.trim()).filter(Boolean);
  let selected: string[] = [];
  for (const term of terms.filter((t) => !t.startsWith('!') && !t.startsWith('&'))) {
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
  return selected;
}
