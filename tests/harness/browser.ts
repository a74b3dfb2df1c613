/**
 * A headless Chromium driven over the DevTools Protocol, for tests of the
 * dashboard. A small client of our own over the runtime's WebSocket: the
 * few commands the tests need do not justify puppeteer's weight.
 *
 * @module
 */

/** Where Debian's `chromium` package puts the browser; null when it is not installed. */
export const CHROMIUM: string | null = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
  .find((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  }) ?? null;

type Listener = (params: Record<string, unknown>, sessionId?: string) => void;

interface Pending {
  resolve(result: Record<string, unknown>): void;
  reject(error: Error): void;
  method: string;
}

/** One browser process and its DevTools connection. */
export class Browser implements AsyncDisposable {
  #child: Deno.ChildProcess;
  #socket: WebSocket;
  #profile: string;
  #stderr: Promise<void>;
  #next = 1;
  #pending = new Map<number, Pending>();
  #listeners = new Map<string, Set<Listener>>();
  #closed: Promise<void>;

  private constructor(
    child: Deno.ChildProcess,
    socket: WebSocket,
    profile: string,
    stderr: Promise<void>,
  ) {
    this.#child = child;
    this.#socket = socket;
    this.#profile = profile;
    this.#stderr = stderr;
    this.#closed = new Promise((resolve) => socket.addEventListener("close", () => resolve()));
    socket.addEventListener("message", (event) => this.#onMessage(String(event.data)));
    socket.addEventListener("close", () => {
      for (const pending of this.#pending.values()) {
        pending.reject(new Error(`Browser connection closed during ${pending.method}`));
      }
      this.#pending.clear();
    });
  }

  /** Starts a headless Chromium with a throwaway profile. */
  static async launch(): Promise<Browser> {
    if (!CHROMIUM) {
      throw new Error("Cannot launch Chromium: not installed (apt-get install chromium)");
    }
    const profile = await Deno.makeTempDir({ prefix: "wormhole-chromium-" });
    const child = new Deno.Command(CHROMIUM, {
      args: [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--remote-debugging-port=0",
        `--user-data-dir=${profile}`,
        "about:blank",
      ],
      env: { HOME: profile },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // The DevTools URL is on stderr; the rest of stderr is drained so the pipe never fills.
    const { promise: url, resolve, reject } = Promise.withResolvers<string>();
    const lines: string[] = [];
    const stderr = (async () => {
      let rest = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        let nl;
        while ((nl = rest.indexOf("\n")) >= 0) {
          const line = rest.slice(0, nl);
          rest = rest.slice(nl + 1);
          if (lines.length < 200) lines.push(line);
          const match = /DevTools listening on (ws:\/\/\S+)/.exec(line);
          if (match) resolve(match[1]);
        }
      }
      reject(new Error(`Chromium exited before listening:\n${lines.join("\n")}`));
    })();
    let socket: WebSocket;
    try {
      socket = new WebSocket(await url);
      await new Promise<void>((open, fail) => {
        socket.addEventListener("open", () => open(), { once: true });
        socket.addEventListener("error", () => fail(new Error("Cannot open the DevTools socket")), {
          once: true,
        });
      });
    } catch (error) {
      child.kill("SIGKILL");
      await child.status;
      await stderr.catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      throw error;
    }
    return new Browser(child, socket, profile, stderr.catch(() => {}));
  }

  #onMessage(text: string): void {
    const message = JSON.parse(text);
    if (typeof message.id === "number") {
      const pending = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if (!pending) return;
      if (message.error) {
        pending.reject(new Error(`${pending.method}: ${message.error.message}`));
      } else {
        pending.resolve(message.result ?? {});
      }
      return;
    }
    for (const listener of this.#listeners.get(message.method) ?? []) {
      listener(message.params ?? {}, message.sessionId);
    }
  }

  /** Sends one command (to a page when `sessionId` is given) and resolves with its result. */
  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> {
    const id = this.#next++;
    const { promise, resolve, reject } = Promise.withResolvers<Record<string, unknown>>();
    this.#pending.set(id, { resolve, reject, method });
    this.#socket.send(JSON.stringify({ id, method, params, sessionId }));
    return promise;
  }

  /** Calls `listener` for every `method` event. */
  on(method: string, listener: Listener): void {
    const set = this.#listeners.get(method) ?? new Set();
    set.add(listener);
    this.#listeners.set(method, set);
  }

  /** Opens a new tab. */
  async newPage(): Promise<Page> {
    const { targetId } = await this.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true });
    const page = new Page(this, String(sessionId));
    await page.init();
    return page;
  }

  /** Closes the browser and removes its profile. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.send("Browser.close").catch(() => {});
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    try {
      await this.#child.status;
    } finally {
      clearTimeout(timer);
    }
    if (this.#socket.readyState !== WebSocket.CLOSED) this.#socket.close();
    await this.#closed;
    await this.#stderr;
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }
}

/** A problem the page reported: a console error, an exception or a CSP violation. */
export interface PageProblem {
  /** `console`, `exception`, or the log entry's source (`network`, `security`, …). */
  source: string;
  /** What it said. */
  text: string;
}

/** One tab. */
export class Page {
  /** Console errors, uncaught exceptions and CSP violations, in order. */
  readonly problems: PageProblem[] = [];
  #loads: (() => void)[] = [];

  constructor(readonly browser: Browser, readonly sessionId: string) {
    browser.on("Runtime.consoleAPICalled", (params, session) => {
      if (session !== sessionId || params.type !== "error") return;
      const args = params.args as { value?: unknown; description?: string }[];
      this.problems.push({
        source: "console",
        text: args.map((a) => String(a.value ?? a.description ?? "")).join(" "),
      });
    });
    browser.on("Runtime.exceptionThrown", (params, session) => {
      if (session !== sessionId) return;
      const details = params.exceptionDetails as {
        text: string;
        exception?: { description?: string };
      };
      this.problems.push({
        source: "exception",
        text: details.exception?.description ?? details.text,
      });
    });
    browser.on("Log.entryAdded", (params, session) => {
      const entry = params.entry as { source: string; level: string; text: string };
      if (session === sessionId && entry.level === "error") {
        this.problems.push({ source: entry.source, text: entry.text });
      }
    });
    browser.on("Page.loadEventFired", (_params, session) => {
      if (session !== sessionId) return;
      const waiting = this.#loads;
      this.#loads = [];
      waiting.forEach((resolve) => resolve());
    });
  }

  /** Enables the domains the tests read and reports CSP violations as console errors. */
  async init(): Promise<void> {
    for (const domain of ["Page", "Runtime", "Log"]) await this.send(`${domain}.enable`);
    await this.send("Page.addScriptToEvaluateOnNewDocument", {
      source: "document.addEventListener('securitypolicyviolation', (e) => " +
        "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));",
    });
  }

  /** Sends a command to this tab. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.browser.send(method, params, this.sessionId);
  }

  /** Navigates to `url` (or reloads) and waits for its load event. */
  async goto(url?: string): Promise<void> {
    const loaded = new Promise<void>((resolve) => this.#loads.push(resolve));
    if (url) {
      const result = await this.send("Page.navigate", { url });
      if (result.errorText) throw new Error(`Cannot load ${url}: ${result.errorText}`);
    } else {
      await this.send("Page.reload");
    }
    await loaded;
  }

  /** Evaluates `expression` in the page (awaiting a promise) and returns its value. */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const result = await this.send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    });
    const details = result.exceptionDetails as
      | { text: string; exception?: { description?: string } }
      | undefined;
    if (details) {
      throw new Error(`Page threw: ${details.exception?.description ?? details.text}`);
    }
    return (result.result as { value: T }).value;
  }

  /** Saves a PNG of the viewport to `path`. */
  async screenshot(path: string): Promise<void> {
    const { data } = await this.send("Page.captureScreenshot", { format: "png" });
    await Deno.writeFile(path, Uint8Array.from(atob(String(data)), (c) => c.charCodeAt(0)));
  }

  /** Sets the viewport (a phone: `mobile`) and the `prefers-color-scheme`. */
  async emulate(options: { width: number; height: number; mobile: boolean; dark: boolean }) {
    await this.send("Emulation.setDeviceMetricsOverride", {
      width: options.width,
      height: options.height,
      deviceScaleFactor: 1,
      mobile: options.mobile,
    });
    await this.send("Emulation.setEmulatedMedia", {
      features: [{ name: "prefers-color-scheme", value: options.dark ? "dark" : "light" }],
    });
  }
}
