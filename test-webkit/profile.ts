/**
 * One WebKit browser profile for the tests: its own WebKitWebDriver and MiniBrowser (WebKitGTK),
 * driven through classic WebDriver by selenium-webdriver. Playwright cannot drive Debian's
 * MiniBrowser; automation sessions keep nothing on disk, so a profile lives as long as its session.
 * Needs a display: the suite runs under `xvfb-run -a` (see ../shared/browsers.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Builder, type WebDriver } from 'selenium-webdriver';
import { freePort } from '../test-e2e/server';
import { waitFor } from '../test/helpers/wait';

const DRIVER = process.env['WEBKIT_DRIVER_PATH'] ?? '/usr/bin/WebKitWebDriver';
const MINIBROWSER = process.env['WEBKIT_MINIBROWSER_PATH'] ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
/** How long a script may run in a tab: longer than the facade's callTimeout (10 s). */
const SCRIPT_TIMEOUT_MS = 30_000;

/** A tab: the WebDriver handle of its window. */
export type Tab = string;

export class WebKitProfile {
  private current: Tab | undefined;

  private constructor(
    private readonly driver: WebDriver,
    private readonly process: ChildProcess,
    /** The tab the session started with (about:blank): it keeps the browser open while no app tab is. */
    private readonly blank: Tab,
  ) {}

  static async launch(): Promise<WebKitProfile> {
    const port = await freePort();
    const child = spawn(DRIVER, [`--port=${port}`, '--host=127.0.0.1'], { stdio: 'ignore' });
    const server = `http://127.0.0.1:${port}`;
    try {
      await waitFor(() => fetch(`${server}/status`).then((r) => r.ok, () => false), 'WebKitWebDriver to listen');
      const driver = await new Builder()
        .usingServer(server)
        .withCapabilities({ browserName: 'MiniBrowser', 'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] } })
        .build();
      await driver.manage().setTimeouts({ script: SCRIPT_TIMEOUT_MS });
      return new WebKitProfile(driver, child, await driver.getWindowHandle());
    } catch (error) {
      child.kill();
      throw error;
    }
  }

  /** Opens `url` in a new tab. */
  async open(url: string): Promise<Tab> {
    await this.driver.switchTo().newWindow('tab');
    const tab = await this.driver.getWindowHandle();
    this.current = tab;
    await this.driver.get(url);
    return tab;
  }

  /** Opens the demo at `url` in a new tab and waits until its client answers. */
  async openDemo(url: string): Promise<Tab> {
    const tab = await this.open(url);
    await this.attached(tab);
    return tab;
  }

  /** Reloads the tab and waits until its client answers again. */
  async reload(tab: Tab): Promise<void> {
    await this.focus(tab);
    await this.driver.navigate().refresh();
    await this.attached(tab);
  }

  /** Closes the tab; the session then stands on the blank first tab (it needs a current one). */
  async close(tab: Tab): Promise<void> {
    await this.focus(tab);
    await this.driver.close();
    this.current = undefined;
    await this.focus(this.blank);
  }

  /**
   * Runs `fn(arg)` in the tab and resolves with what it returns (awaited in the page). Only its
   * source is sent: it may use its argument and the page's globals, nothing of this module.
   * A rejection in the page rejects here, with its `code` when it has one.
   */
  async run<T, A = undefined>(tab: Tab, fn: (arg: A) => T | Promise<T>, arg?: A): Promise<T> {
    await this.focus(tab);
    const outcome = (await this.driver.executeAsyncScript(
      `const done = arguments[arguments.length - 1];
       Promise.resolve().then(() => (${fn.toString()})(arguments[0])).then(
         (value) => done({ value }),
         (error) => done({ error: String((error && (error.code || error.message)) || error) }));`,
      arg ?? null,
    )) as { value?: T; error?: string };
    if (outcome.error !== undefined) throw new Error(`in the page: ${outcome.error}`);
    return outcome.value as T;
  }

  async quit(): Promise<void> {
    try {
      await this.driver.quit();
    } finally {
      const exited = once(this.process, 'exit');
      this.process.kill();
      await exited;
    }
  }

  private async focus(tab: Tab): Promise<void> {
    if (this.current === tab) return;
    await this.driver.switchTo().window(tab);
    this.current = tab;
  }

  private async attached(tab: Tab): Promise<void> {
    await waitFor(() => this.run(tab, () => typeof window.todos === 'object'), 'the demo to load');
    await this.run(tab, () => window.lf.status());
  }
}
