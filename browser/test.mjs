// Runs the seed's jQuery calls (browser/page.html) in headless Chromium against a
// live orgbase, from a page on another origin of the same site (another port of
// 127.0.0.1) that the app lists, and from one that no app lists. Started by
// scripts/browser-test, which sets the environment below. Exits 1 on any failed
// check.
import puppeteer from "puppeteer-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run scripts/browser-test)`);
  return value;
};
const API = env("API");
const KEY = env("CLIENT_KEY");
const NO_CSRF_KEY = env("NO_CSRF_CLIENT_KEY");
const ORG_ID = env("ORG_ID");
const PAGE_ORIGIN = env("PAGE_ORIGIN");
const OTHER_ORIGIN = env("OTHER_ORIGIN");
const CHROMIUM = env("CHROMIUM");
const ADMIN_EMAIL = env("ADMIN_EMAIL");
const ADMIN_PASSWORD = env("ADMIN_PASSWORD");
const BYPASS = "john@medable.com";

let failures = 0;
function check(name, ok, detail) {
  console.log(`${ok ? "ok  " : "FAIL"} ${name}`);
  if (!ok) {
    failures += 1;
    console.log(`     ${JSON.stringify(detail)}`);
  }
}

const pageUrl = (origin, key = KEY) =>
  `${origin}/page.html?` + new URLSearchParams({ api: API, key, org: ORG_ID });

const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
});
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => check("the page runs without a script error", false, String(e)));
  await page.goto(pageUrl(PAGE_ORIGIN), { waitUntil: "load" });
  check("jQuery is loaded", await page.evaluate(() => typeof window.$?.ajax === "function"), null);

  const pub = await page.evaluate(() => window.seed.publicRead());
  check(
    "the public read (trailing slash) answers the public org",
    pub.ok && pub.data.object === "org" && pub.data.code === "example" && pub.data.access === 1 &&
      pub.data.configuration === undefined,
    pub,
  );

  const login = await page.evaluate((e, p) => window.seed.login(e, p), ADMIN_EMAIL, ADMIN_PASSWORD);
  check(
    "the login (a form body) answers the account and the CSRF token, not the session token",
    login.ok && login.data.object === "account" && typeof login.csrf === "string" && login.csrf.length > 0 &&
      login.data.token === undefined,
    login,
  );

  const full = await page.evaluate(() => window.seed.fullRead());
  check(
    "the full read by id goes with the session cookie (an administrator's access)",
    full.ok && full.data._id === ORG_ID && full.data.access === 7 && full.data.configuration !== undefined,
    full,
  );

  const verbatim = await page.evaluate(() => window.seed.patchPushVerbatim());
  check(
    "the PATCH without the CSRF token is refused for an app with CSRF on",
    !verbatim.ok && verbatim.status === 403 && verbatim.data?.code === "kCSRFTokenMismatch",
    verbatim,
  );

  // The seed's PATCH as written (no CSRF token) through an app made by
  // `orgbase app create --no-csrf`, from the origin it lists, with the cookie of
  // the login above: accepted. It runs before the token PATCH below, so the
  // address it pushes is new.
  const seedPage = await browser.newPage();
  seedPage.on("pageerror", (e) => check("the seed page runs without a script error", false, String(e)));
  await seedPage.goto(pageUrl(PAGE_ORIGIN, NO_CSRF_KEY), { waitUntil: "load" });
  const seedPatch = await seedPage.evaluate(() => window.seed.patchPushVerbatim());
  check(
    "the seed's PATCH verbatim (no CSRF token) updates the org through a --no-csrf app",
    seedPatch.ok && seedPatch.data.configuration?.email?.locationBypass?.includes(BYPASS),
    seedPatch,
  );

  const patch = await page.evaluate((csrf) => window.seed.patchPush(csrf), login.csrf);
  check(
    "the seed's PATCH push (a form body) with the CSRF token updates the org",
    patch.ok && patch.data.configuration?.email?.locationBypass?.includes(BYPASS),
    patch,
  );

  const after = await page.evaluate(() => window.seed.fullRead());
  check(
    "a full read after the PATCH shows the pushed address",
    after.ok && after.data.configuration?.email?.locationBypass?.includes(BYPASS),
    after,
  );

  // A page whose origin no app lists: the server gives it no CORS headers, so the
  // browser refuses the answer (jQuery sees status 0).
  const other = await browser.newPage();
  await other.goto(pageUrl(OTHER_ORIGIN), { waitUntil: "load" });
  const refused = await other.evaluate(() => window.seed.publicRead());
  check("a page from an origin that no app lists is refused by the browser", !refused.ok && refused.status === 0, refused);
  const refusedLogin = await other.evaluate((e, p) => window.seed.login(e, p), ADMIN_EMAIL, ADMIN_PASSWORD);
  check("... and so is its login", !refusedLogin.ok && refusedLogin.status === 0, refusedLogin);
} finally {
  await browser.close();
}

if (failures > 0) {
  console.log(`${failures} browser check(s) failed`);
  process.exit(1);
}
console.log("every browser check passed");
