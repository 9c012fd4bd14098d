// Signs in to the dashboard at KARTA_URL with KARTA_KEY and writes a PNG of each main page to OUT.
const { chromium } = require("playwright-core");

(async () => {
  const base = process.env.KARTA_URL;
  const out = process.env.OUT;
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(base + "/sign-in");
  await page.fill("#key", process.env.KARTA_KEY);
  await page.click("form button[type=submit]");
  await page.waitForURL(base + "/");

  const shot = async (path, file, options = {}) => {
    await page.goto(base + path);
    await page.waitForTimeout(options.settle || 800);
    await page.screenshot({ path: out + "/" + file, fullPage: options.fullPage !== false });
  };
  await shot("/", "projects.png");
  await shot("/projects/shop", "project.png", { settle: 1500 });
  await page.click("#timeline tr[data-version='v1'] a[data-dialog]");
  await page.waitForSelector("dialog[open]");
  await page.screenshot({ path: out + "/rollback-dialog.png" });
  await page.goto(base + "/projects/shop");
  await page.click("#current-deploy a");
  await page.waitForTimeout(1000);
  await page.screenshot({ path: out + "/deploy.png", fullPage: true });
  await shot("/keys", "keys.png");
  await shot("/audit", "audit.png");
  await page.setViewportSize({ width: 360, height: 780 });
  await shot("/projects/shop", "project-360px.png", { settle: 1500, fullPage: false });
  await browser.close();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
