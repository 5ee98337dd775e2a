import type { Page } from 'playwright-core';
import { screenshot } from './browser.ts';

/** Logs in to Roundcube (elastic skin) at `url` and waits for the mailbox. */
export async function webmailLogin(page: Page, url: string, user: string, password: string): Promise<void> {
  await page.goto(url);
  await page.fill('#rcmloginuser', user);
  await page.fill('#rcmloginpwd', password);
  await Promise.all([page.waitForURL(/_task=mail/, { timeout: 30_000 }), page.click('#rcmloginsubmit')]);
  // The folder list: the message list itself is hidden while the mailbox is empty.
  await page.waitForSelector('#mailboxlist', { timeout: 30_000 });
}

/**
 * Writes and sends a message with one attachment through the compose screen, as a person would: recipient,
 * subject, body, the attachment uploaded, the Send button. Screenshots go to test/artifacts/ under `shots`.
 */
export async function webmailSend(
  page: Page,
  url: string,
  message: {
    to: string;
    subject: string;
    body: string;
    attachment: { name: string; mimeType: string; buffer: Buffer };
  },
  shots: string,
): Promise<void> {
  await page.goto(`${url}?_task=mail&_action=compose`);
  const to = page.locator('.recipient-input input').first();
  await to.waitFor({ timeout: 30_000 });
  await to.fill(message.to);
  await to.press('Enter');
  await page.fill('#compose-subject', message.subject);
  await page.fill('#composebody', message.body);
  await page.setInputFiles('input[type=file][name="_attachments[]"]', {
    name: message.attachment.name,
    mimeType: message.attachment.mimeType,
    buffer: message.attachment.buffer,
  });
  // The upload is done when its list entry no longer shows the upload progress.
  await page
    .locator('#attachment-list li:not(.uploading)', { hasText: message.attachment.name })
    .first()
    .waitFor({ timeout: 30_000 });
  await screenshot(page, `${shots}-compose`);
  await page.locator('button.send, a.send').first().click();
  await page.waitForURL(/_task=mail(?!.*_action=compose)/, { timeout: 30_000 });
  await screenshot(page, `${shots}-sent`);
}

/**
 * Opens the newest message with this subject in the inbox and returns the attachment names it shows.
 * Polls the inbox for up to `timeoutMs` (delivery takes a moment).
 */
export async function webmailOpen(
  page: Page,
  url: string,
  subject: string,
  shots: string,
  timeoutMs = 30_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.goto(`${url}?_task=mail&_mbox=INBOX`);
    await page.waitForSelector('#mailboxlist', { timeout: 30_000 }).catch(async (error: Error) => {
      // What the browser showed instead (a login form: the session was lost; an error page): for the failure's message.
      await screenshot(page, `${shots}-no-mailbox`).catch(() => undefined);
      const heading = await page
        .locator('h1, h2, #message, .boxerror')
        .allInnerTexts()
        .catch(() => []);
      throw new Error(
        `no folder list at ${page.url()} ("${await page.title().catch(() => '?')}"; ${heading.join(' | ').slice(0, 200) || 'no heading'}; screenshot ${shots}-no-mailbox): ${error.message}`,
      );
    });
    await page.waitForLoadState('networkidle');
    const row = page.locator('#messagelist tr', { hasText: subject }).first();
    if ((await row.count()) > 0) {
      await screenshot(page, `${shots}-inbox`);
      await row.dblclick();
      await page.waitForURL(/_action=show/, { timeout: 30_000 });
      await page.waitForSelector('#messagebody, #message-content', { timeout: 30_000 });
      await screenshot(page, `${shots}-message`);
      return page
        .locator('#attachment-list li a.filename, #attachment-list li .attachment-name, #attachment-list li')
        .allInnerTexts();
    }
    if (Date.now() > deadline) throw new Error(`no message "${subject}" in the inbox after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** A contact as the address book's form takes it. */
export interface WebmailContact {
  readonly firstName: string;
  readonly surname: string;
  readonly email: string;
}

/**
 * Adds a contact to the personal address book through its form, as a person would (first name, surname, email,
 * Save), and waits until Roundcube says it is saved.
 */
export async function webmailAddContact(page: Page, url: string, contact: WebmailContact): Promise<void> {
  await page.goto(`${url}?_task=addressbook&_action=add&_source=0`);
  await page.fill('#ff_firstname', contact.firstName);
  await page.fill('#ff_surname', contact.surname);
  await page.fill('#ff_email0', contact.email);
  // Saved, Roundcube goes back to the address book's list.
  await Promise.all([
    page.waitForURL((u) => !u.search.includes('_action=add'), { timeout: 30_000 }),
    page.locator('button.submit, #rcmbtn100').first().click(),
  ]);
}

/** The names in the personal address book's list, as shown. */
export async function webmailContactNames(page: Page, url: string): Promise<string[]> {
  await page.goto(`${url}?_task=addressbook&_source=0`);
  await page.waitForSelector('#contacts-table', { state: 'attached', timeout: 30_000 });
  await page.waitForLoadState('networkidle');
  return (await page.locator('#contacts-table tbody tr').allInnerTexts()).map((t) => t.trim());
}

/** Adds an identity (a name and an address to send as) in Settings > Identities, and waits until it is saved. */
export async function webmailAddIdentity(
  page: Page,
  url: string,
  identity: { name: string; email: string },
): Promise<void> {
  await page.goto(`${url}?_task=settings&_action=add-identity`);
  await page.fill('input[name="_name"]', identity.name);
  await page.fill('input[name="_email"]', identity.email);
  await Promise.all([
    page.waitForURL((u) => !u.search.includes('_action=add-identity'), { timeout: 30_000 }),
    page.locator('button.submit, button.mainaction').first().click(),
  ]);
}

/** The identities (`Name <address>`) in Settings > Identities, as listed. */
export async function webmailIdentities(page: Page, url: string): Promise<string[]> {
  await page.goto(`${url}?_task=settings&_action=identities`);
  await page.waitForSelector('#identities-table', { state: 'attached', timeout: 30_000 });
  return (await page.locator('#identities-table tbody tr').allInnerTexts()).map((t) => t.trim());
}
