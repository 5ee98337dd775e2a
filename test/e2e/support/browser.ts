import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO } from './play.ts';

/** Debian's chromium, installed on the machine by `lab:up` (MACHINE_PACKAGES). */
export const CHROMIUM = '/usr/bin/chromium';

/** Where tests keep screenshots (git-ignored). */
export const ARTIFACTS = join(REPO, 'test/artifacts');

/** A headless browser and one context in it; `close()` ends both. */
export interface LabBrowser {
  readonly browser: Browser;
  readonly context: BrowserContext;
  /** A page in a context of its own (its own cookies): another person at another browser. */
  newSession(): Promise<Page>;
  close(): Promise<void>;
}

/**
 * Starts Debian's chromium through playwright-core, headless, with nothing that phones home, trusting the
 * lab's self-signed certificate. `hosts` maps names to addresses inside the browser only
 * (`--host-resolver-rules`), e.g. the mail host name to a lab server: the controller reaches the lab hosts
 * directly on the lab's bridge, and no DNS is involved.
 *
 * @example
 * const lab = await launchBrowser({ hosts: { 'mail.smknh.sch.id': '198.18.43.1' } });
 * const page = await lab.context.newPage();
 * await page.goto('https://mail.smknh.sch.id/');
 * await lab.close();
 */
export async function launchBrowser(options: { hosts?: Readonly<Record<string, string>> } = {}): Promise<LabBrowser> {
  const rules = Object.entries(options.hosts ?? {}).map(([name, address]) => `MAP ${name} ${address}`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(rules.length ? [`--host-resolver-rules=${rules.join(', ')}`] : []),
    ],
  });
  try {
    const newContext = () => browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    const context = await newContext();
    return { browser, context, newSession: async () => (await newContext()).newPage(), close: () => browser.close() };
  } catch (error) {
    await browser.close();
    throw error;
  }
}

/** Saves a full-page screenshot as `test/artifacts/<name>.png` and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
