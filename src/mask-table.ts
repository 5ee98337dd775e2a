import { MASK, Secret } from './secret.ts';

/**
 * The forms a secret takes once something escapes it: inside a JSON string (`--json`, a JSON config), and with
 * backslashes before quotes and backslashes (a PHP or shell string, an error that quotes a line).
 */
function escapedForms(value: string): string[] {
  return [JSON.stringify(value).slice(1, -1), value.replace(/['"\\]/g, '\\$&')].filter((form) => form !== value);
}

/** The texts to mask for one secret value: it, its escaped forms, and each line of a multi-line value. */
function formsOf(value: string): string[] {
  const forms = value.length > 0 ? [value, ...escapedForms(value)] : [];
  // A multi-line secret (a key, a certificate) shows up line by line in diffs and logs: mask each line too.
  for (const line of value.split('\n')) if (line.trim().length >= 4 && line !== value) forms.push(line);
  return forms;
}

/**
 * The secret values one run (or one caller) has met, and what masks them in text it shows: a run's
 * `RunContext` owns one, {@link compileRun} adds the secrets of the vars and prepared files it reads, the engine
 * those of the commands and diffs it plans; reporters, `--json`, errors and health rows are masked with it. A
 * {@link Secret} added before its value is loaded (a vault's) is masked from the moment it is revealed.
 *
 * @example
 * const masks = new MaskTable();
 * const password = secret('s3cret-4417');
 * masks.add(password).mask(`password=${password.reveal()}`); // 'password=********'
 */
export class MaskTable {
  /** Every text masked, longest first once sorted (so a secret that contains another is masked whole). */
  readonly #forms = new Set<string>();
  #sorted: string[] | undefined;
  /** Secrets added before their value was loaded: their forms join the table once they are revealed. */
  readonly #pending = new Set<Secret>();

  /** Adds a secret (or a plain value to treat as one), and returns the table. */
  add(value: string | Secret): this {
    if (value instanceof Secret) {
      if (value.isRevealed) this.#addForms(value.reveal());
      else this.#pending.add(value);
    } else {
      this.#addForms(value);
    }
    return this;
  }

  /**
   * Adds every {@link Secret} found in a value: itself, or inside its arrays, maps, sets and plain objects, at
   * any depth (vars, what an op prepared). Other objects (class instances, functions) are not looked into.
   */
  addSecretsIn(value: unknown): this {
    const seen = new Set<unknown>();
    const walk = (item: unknown): void => {
      if (item instanceof Secret) {
        this.add(item);
        return;
      }
      if (item === null || typeof item !== 'object' || seen.has(item)) return;
      seen.add(item);
      if (Array.isArray(item) || item instanceof Set) for (const entry of item) walk(entry);
      else if (item instanceof Map) for (const entry of item.values()) walk(entry);
      else if ([Object.prototype, null].includes(Object.getPrototypeOf(item)))
        for (const entry of Object.values(item)) walk(entry);
    };
    walk(value);
    return this;
  }

  /**
   * Replaces every secret value the table knows (and their escaped forms and lines) in a text with `********`.
   *
   * @example
   * masks.mask(JSON.stringify(report))
   */
  mask(text: string): string {
    this.#takeRevealed();
    if (this.#forms.size === 0 || text.length === 0) return text;
    this.#sorted ??= [...this.#forms].sort((a, b) => b.length - a.length);
    let masked = text;
    for (const value of this.#sorted) {
      if (masked.includes(value)) masked = masked.split(value).join(MASK);
    }
    return masked;
  }

  #addForms(value: string): void {
    for (const form of formsOf(value)) {
      if (this.#forms.has(form)) continue;
      this.#forms.add(form);
      this.#sorted = undefined;
    }
  }

  /** Moves the pending secrets revealed since into the table. */
  #takeRevealed(): void {
    for (const secret of this.#pending) {
      if (!secret.isRevealed) continue;
      this.#pending.delete(secret);
      this.#addForms(secret.reveal());
    }
  }
}
