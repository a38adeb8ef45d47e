//! `siteward report --out DIR` end to end: a fleet served by the real nginx (one site applied
//! by `reconcile`, one only observed, one proposed with hostile values in its YAML and its live
//! headers, one that refuses connections), two real reconcile runs on the audit branch, and the
//! report opened in a real headless Chromium: every site listed, sorting and filtering by
//! clicking and typing, no console errors, no request leaving the report's folder, screenshots,
//! and a basic accessibility pass.

use std::collections::BTreeSet;
use std::path::Path;

use super::reconcile::Fleet;
use super::support::{browser, refused_port};

/// What the browser checks on every page: the language, charts with a text alternative,
/// real table headers with a scope, images with alt text.
const ACCESSIBILITY: &str = r#"
  const a11y = () => page.evaluate(() => {
    const problems = [];
    if (!document.documentElement.lang) { problems.push('html has no lang'); }
    document.querySelectorAll('svg').forEach((s, i) => {
      const title = s.querySelector(':scope > title');
      const text = (title && title.textContent.trim()) || s.getAttribute('aria-label');
      if (s.getAttribute('role') !== 'img') { problems.push('svg ' + i + ' has no role=img'); }
      if (!text) { problems.push('svg ' + i + ' has no text alternative'); }
      const desc = s.querySelector(':scope > desc');
      if (!desc || !desc.textContent.trim()) { problems.push('svg ' + i + ' has no desc'); }
    });
    document.querySelectorAll('img').forEach((img, i) => {
      if (!img.hasAttribute('alt')) { problems.push('img ' + i + ' has no alt'); }
    });
    document.querySelectorAll('table').forEach((t, i) => {
      if (t.querySelectorAll('th').length === 0) { problems.push('table ' + i + ' has no th'); }
      if (t.tHead && t.tHead.querySelectorAll('td').length > 0) {
        problems.push('table ' + i + ' has td in its head');
      }
      t.querySelectorAll('th').forEach((th) => {
        if (!['col', 'row'].includes(th.getAttribute('scope'))) {
          problems.push('table ' + i + ': th without scope: ' + th.textContent);
        }
      });
    });
    return { problems, charts: document.querySelectorAll('svg[role=img]').length,
             th: document.querySelectorAll('th').length };
  });
"#;

/// The browser session: the overview, sorted and filtered, then one site page.
const SESSION: &str = r#"
  const [index, sitePage] = args;
  const names = () => page.$$eval('#fleet tbody tr:not([hidden]) th[scope=row]',
    (cells) => cells.map((c) => c.textContent.trim()));
  const out = {};
  await page.goto(index);
  out.title = await page.title();
  out.initial = await names();
  out.a11y = await a11y();
  await page.screenshot({ path: artifacts + '/report-overview.png', fullPage: true });
  const owner = page.getByRole('button', { name: 'Owner' });
  await owner.click();
  out.ownerAscending = await names();
  out.ownerSort = await page.$eval('#fleet thead th:nth-child(2)', (th) => th.getAttribute('aria-sort'));
  await owner.click();
  out.ownerDescending = await names();
  await page.getByRole('button', { name: 'Days left' }).click();
  out.daysAscending = await names();
  const filter = page.getByLabel('Filter by label');
  await filter.fill('env=prod');
  out.prod = await names();
  out.shown = await page.textContent('#shown');
  await filter.fill('team=shop');
  out.shop = await names();
  await filter.fill('env=staging team=content');
  out.stagingContent = await names();
  await filter.fill('');
  out.all = await names();
  await page.goto(sitePage);
  out.siteTitle = await page.title();
  out.siteA11y = await a11y();
  out.siteText = await page.textContent('main');
  await page.screenshot({ path: artifacts + '/report-site.png', fullPage: true });
  return out;
"#;

const HOSTILE_OWNER: &str = "<script>alert('owner')</script>";

#[test]
fn report_shows_the_fleet_and_works_in_a_real_browser() {
    let f = Fleet::start(&["shop.test", "blog.test", "hostile.test"]);
    f.site(
        "shop.test",
        "auto",
        "owner: Shop team\nlabels: {env: prod, team: shop}\nheaders:\n  X-Frame-Options: DENY\n",
    );
    f.site(
        "blog.test",
        "observe",
        "owner: Blog team\nlabels: {env: staging, team: content}\n\
         certificate: {min_days_left: 90}\nheaders:\n  X-Frame-Options: DENY\n",
    );
    f.site(
        "hostile.test",
        "propose",
        &format!(
            "owner: \"{HOSTILE_OWNER}\"\nlabels: {{env: prod, note: \"<img src=x onerror=alert(1)>\"}}\n\
             headers:\n  X-Note: \"<script>alert('header')</script>\"\n"
        ),
    );
    let refused = refused_port();
    f.repo.write(
        "sites/down.test.yaml",
        &format!(
            "name: down.test\nurl: https://down.test/\nconnect: 127.0.0.1:{}\nlabels: {{env: prod}}\n",
            refused.port
        ),
    );
    f.repo.commit_all("four sites");
    // Two scheduled runs: the first applies shop.test's header and proposes hostile.test's,
    // the second finds shop.test in sync. down.test is unknown, so both exit 1.
    for _ in 0..2 {
        f.repo.run(&["reconcile", "--timeout", "5"]).expect_code(1);
    }
    let log = f
        .repo
        .run(&["log", "--format", "json"])
        .expect_code(0)
        .json();
    let applied = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| {
            e["site"] == "shop.test"
                && e["actions"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|a| a["result"] == "applied"))
        })
        .expect("shop.test's header was applied");

    let out = tempfile::tempdir().expect("temp dir");
    let dir = out.path().join("report");
    let run = f.repo.run(&[
        "report",
        "--out",
        dir.to_str().expect("utf-8"),
        "--timeout",
        "5",
    ]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("report of 4 sites written to"),
        "{}",
        run.stdout
    );

    // Files: the overview and one page per site, nothing else.
    let pages: BTreeSet<String> = std::fs::read_dir(dir.join("sites"))
        .expect("sites dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        pages,
        ["blog.test", "down.test", "hostile.test", "shop.test"]
            .map(|s| format!("{s}.html"))
            .into()
    );
    let index = read(&dir.join("index.html"));
    let shop = read(&dir.join("sites/shop.test.html"));
    let hostile = read(&dir.join("sites/hostile.test.html"));

    // Hostile values from YAML and from the server are shown as text, never as markup.
    for page in [&index, &hostile] {
        assert!(!page.contains("<script>alert"), "unescaped script");
        assert!(!page.contains("<img src=x"), "unescaped img");
    }
    assert!(index.contains("&lt;script&gt;alert(&#39;owner&#39;)&lt;/script&gt;"));
    assert!(index.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(
        hostile.contains("x-note"),
        "the hostile header is in the current diff"
    );
    assert!(hostile.contains("&lt;script&gt;alert(&#39;header&#39;)&lt;/script&gt;"));
    assert!(
        hostile.contains("siteward-proposals/hostile.test"),
        "its proposal is listed"
    );

    // The site page shows the applied change with its run and commit.
    let run_id = applied["run"].as_str().expect("run id");
    let commit = applied["commit"].as_str().expect("commit");
    assert!(shop.contains(run_id), "run id of the applied change");
    assert!(shop.contains(&commit[..12]), "commit of the applied change");
    assert!(shop.contains("header x-frame-options"));
    // Drift periods: shop.test's was fixed by the run that found it; blog.test's goes on.
    assert!(
        !shop.contains("No drift recorded."),
        "shop.test's fixed drift is a period"
    );
    let blog = read(&dir.join("sites/blog.test.html"));
    assert!(blog.contains("ongoing</span>"), "blog.test still drifts");

    // The overview says which certificate is under its minimum (blog.test wants 90 days).
    assert!(
        index.contains(" (below 90)</span>"),
        "blog.test's days left, marked"
    );

    // In a real browser.
    let url = |p: &Path| format!("file://{}", p.display());
    let s = browser::run(
        &format!("{ACCESSIBILITY}{SESSION}"),
        &[
            &url(&dir.join("index.html")),
            &url(&dir.join("sites/shop.test.html")),
        ],
    );
    assert_eq!(s.errors, Vec::<String>::new(), "console errors");
    let outside: Vec<&String> = s
        .requests
        .iter()
        .filter(|r| !r.starts_with("file://") && !r.starts_with("data:"))
        .collect();
    assert!(
        outside.is_empty(),
        "requests outside the report: {outside:?}"
    );
    let r = &s.result;
    let list = |k: &str| -> Vec<String> {
        r[k].as_array()
            .unwrap_or_else(|| panic!("{k}: {r:#}"))
            .iter()
            .map(|v| v.as_str().expect("name").to_owned())
            .collect()
    };
    let all = ["blog.test", "down.test", "hostile.test", "shop.test"];
    assert_eq!(list("initial"), all, "every site, by name");
    // Owners: none (down.test) < "<script>…" < "Blog team" < "Shop team".
    assert_eq!(
        list("ownerAscending"),
        ["down.test", "hostile.test", "blog.test", "shop.test"]
    );
    assert_eq!(r["ownerSort"], "ascending");
    assert_eq!(
        list("ownerDescending"),
        ["shop.test", "blog.test", "hostile.test", "down.test"]
    );
    // Days left: the three nginx sites have 60 (ties by name); down.test has none, so last.
    assert_eq!(
        list("daysAscending"),
        ["blog.test", "hostile.test", "shop.test", "down.test"]
    );
    assert_eq!(list("prod"), ["hostile.test", "shop.test", "down.test"]);
    assert_eq!(r["shown"], "3 of 4 sites shown");
    assert_eq!(list("shop"), ["shop.test"]);
    assert_eq!(list("stagingContent"), ["blog.test"]);
    assert_eq!(
        list("all"),
        list("daysAscending"),
        "an empty filter shows every site again, in the sorted order"
    );
    for key in ["a11y", "siteA11y"] {
        assert_eq!(r[key]["problems"], serde_json::json!([]), "{key}");
    }
    assert_eq!(r["a11y"]["charts"], 2, "timeline and grade chart");
    assert!(
        r["title"]
            .as_str()
            .expect("title")
            .starts_with("Fleet overview")
    );
    assert!(
        r["siteTitle"]
            .as_str()
            .expect("title")
            .starts_with("shop.test")
    );
    let text = r["siteText"].as_str().expect("site text");
    assert!(
        text.contains(run_id),
        "the site page as rendered names the run"
    );
    let artifacts = browser::artifacts();
    for shot in ["report-overview.png", "report-site.png"] {
        let png = std::fs::read(artifacts.join(shot)).expect("screenshot saved");
        assert!(png.starts_with(b"\x89PNG"), "{shot} is a PNG");
    }
}

#[track_caller]
fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A report written again to the same folder drops the pages of sites that left the fleet —
/// only pages the report itself wrote: a file of the user's in `sites/` stays.
#[test]
fn a_report_removes_only_its_own_pages_of_sites_that_left() {
    let f = Fleet::start(&["a.test", "b.test"]);
    f.site("a.test", "observe", "");
    f.site("b.test", "observe", "");
    f.repo.commit_all("two sites");
    let out = tempfile::tempdir().expect("out");
    let dir = out.path().to_str().expect("utf-8");
    f.repo.run(&["report", "--out", dir]).expect_code(0);
    let page = |name: &str| out.path().join("sites").join(name);
    assert!(page("a.test.html").is_file() && page("b.test.html").is_file());
    std::fs::write(page("notes.html"), "mine").expect("a file of the user's");

    std::fs::remove_file(f.repo.path().join("sites/b.test.yaml")).expect("remove b");
    f.repo.commit_all("b.test leaves");
    f.repo.run(&["report", "--out", dir]).expect_code(0);
    assert!(page("a.test.html").is_file(), "the remaining site's page");
    assert!(
        !page("b.test.html").exists(),
        "the page of the site that left"
    );
    assert_eq!(read(&page("notes.html")), "mine", "the user's file is kept");
    assert!(
        !read(&out.path().join("index.html")).contains("b.test"),
        "the overview no longer lists b.test"
    );
}
