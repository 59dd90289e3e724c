// What both browser scripts do with a page's look: save it at desktop (1280 px) and phone
// (375 px) width, and note a page wider than the window.
import { join } from "node:path";

/** Saves `page` as NAME-desktop.png and NAME-phone.png under `dir`, noting it in `report`. */
export async function shoot(page, name, dir, report) {
  report.pages.push(name);
  await page.screenshot({ path: join(dir, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize({ width: 375, height: 740 });
  await page.screenshot({ path: join(dir, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  const wide = await page.locator("main, body").first().boundingBox();
  if (wide && wide.width > 1280) report.console.push(`${name} is wider than the window`);
}
