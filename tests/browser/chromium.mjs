// Every browser script's Chromium: Debian's (or $CHROMIUM), headless, with nothing that
// reaches the network on its own.
import { chromium } from "playwright-core";

/** Launches Chromium for a test. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
