//! The on-call status page in a real headless browser (Debian `chromium`): the daemon watches
//! releases in several states (failing, regressed, verified, planned with people's ticks), and
//! the DOM chromium builds from `/` and `/releases/{id}` must show the red items, their
//! evidence, the window progress and the state *words*; screenshots at phone and desktop width
//! must render. A `warn` item whose probe's target refuses every connection goes `unknown`: the
//! overview says it can't be seen and the release page says since when and why, in amber.
//! Without chromium the test is skipped, except under `CI=true` where it fails.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use serde_json::json;

/// Like `tests/fixtures/daemon.yaml`, but a 1h–2h window (releases stay active), a secret in
/// the health probe's URL that must never reach the page, and a `warn` item whose probe asks a
/// port nobody listens on (`__DEAD__`): unknown after 1 s, never blocking a verdict.
const YAML: &str = r#"
server: { listen: 127.0.0.1:0 }
storage: { sqlite: ./shipwatch.db }
checklist: checklist.md
window: { min: 1h, max: 2h }
probes:
  health:
    http: { url: "http://127.0.0.1:__PORT__/healthz?key=${PAGE_SECRET}", expect: { status: [200], body_contains: ok, max_latency: 5s } }
    every: 200ms
    jitter: 0s
  version:
    http: { url: "http://127.0.0.1:__PORT__/version", expect: { json: { "$.version": "{{ release.version }}" } } }
    every: 200ms
    jitter: 0s
  dead:
    http: { url: "http://127.0.0.1:__DEAD__/healthz" }
    every: 200ms
    jitter: 0s
items:
  run-post-deploy-smoke-tests-on-production: { probes: [health], pass: { consecutive: 2 }, fail: { consecutive: 2 } }
  "Confirm new version is running in production": { probes: [version] }
  validate-critical-functionality-is-working: { probes: [dead], mode: warn, stale_after: 1s }
"#;
const BLIND: &str = "validate-critical-functionality-is-working";
const SECRET: &str = "s3cret-page-key-42";
const SMOKE_TEXT: &str = "Run post-deploy smoke tests on production";

/// The browser binary, if installed.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// Run headless chromium with `args` then `url`; its stdout. Panics (with stderr) on failure.
async fn browse(bin: &Path, profile: &Path, args: &[String], url: &str) -> String {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-proxy-server",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(args)
    .arg(url)
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("chromium did not finish within 90s for {url}"))
        .expect("run chromium");
    assert!(out.status.success(), "chromium {args:?} {url}: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn dump_dom(bin: &Path, profile: &Path, url: &str) -> String {
    let dom = browse(bin, profile, &["--dump-dom".into()], url).await;
    assert!(dom.contains("</html>"), "no DOM from {url}: {dom}");
    dom
}

/// Screenshot `url` at `w`×`h` into `file`; asserts a non-trivial PNG.
async fn screenshot(bin: &Path, profile: &Path, url: &str, (w, h): (u32, u32), file: &Path) {
    let args = [format!("--screenshot={}", file.display()), format!("--window-size={w},{h}")];
    browse(bin, profile, &args, url).await;
    let png = std::fs::read(file).unwrap_or_else(|e| panic!("no screenshot {}: {e}", file.display()));
    assert!(png.starts_with(b"\x89PNG"), "{} is not a PNG", file.display());
    assert!(png.len() > 10_000, "screenshot {} is only {} bytes", file.display(), png.len());
}

/// The `<li>` of item `id` in a release page's DOM (up to where the next item starts).
fn item_li<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom.find(&format!("id=\"item-{id}\"")).unwrap_or_else(|| panic!("no item {id} in DOM"));
    let start = dom[..start].rfind("<li").unwrap();
    // Up to the next item or the end of the list (result cells are `<li>`s too).
    let rest = &dom[start + 3..];
    let end = [rest.find("<li class=\"item "), rest.find("</ul>")].into_iter().flatten().min().unwrap_or(rest.len());
    &dom[start..start + 3 + end]
}

/// The value of the first `name="…"` attribute in `html`.
fn attr<'a>(html: &'a str, name: &str) -> &'a str {
    let start = html.find(&format!("{name}=\"")).unwrap_or_else(|| panic!("no {name} in {html}")) + name.len() + 2;
    &html[start..start + html[start..].find('"').unwrap()]
}

#[tokio::test]
async fn status_page_in_headless_chromium() {
    let Some(bin) = chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but chromium is not installed (apt-get install -y chromium)"
        );
        eprintln!("SKIPPED status_page_in_headless_chromium: chromium is not installed");
        return;
    };
    let target = FakeTarget::start();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let fx = Fixture::new(&YAML.replace("__DEAD__", &dead.to_string()), target.port);
    let d = Daemon::start_with_env(&fx, &[("PAGE_SECRET", SECRET)]);
    let short = json!({"min": "1s", "max": "30s"});

    // Healthy target: `payments` verifies after its 1s minimum; `web` completes its items.
    let verified =
        d.create(json!({"service": "payments", "version": "1.4.2", "environment": "prod-us", "window": short})).await;
    let web = d.create(json!({"service": "web", "version": "1.4.2", "environment": "prod-eu"})).await;
    let (verified, web) = (verified["id"].as_str().unwrap().to_string(), web["id"].as_str().unwrap().to_string());
    d.wait_release(&verified, "verified", SOON).await;
    d.wait_item(&web, SMOKE, "complete", SOON).await;

    // The target breaks: `web` regresses, a new `checkout` release fails its smoke item.
    target.set_health(500, "upstream down");
    let checkout = d.create(json!({"service": "checkout", "version": "1.4.2", "environment": "prod-eu"})).await;
    let checkout = checkout["id"].as_str().unwrap().to_string();
    let failing = d.wait_item(&checkout, SMOKE, "failing", SOON).await;
    assert_eq!(failing["evidence"]["evidence"]["status_code"], 500, "{failing}");
    d.wait_item(&web, SMOKE, "regressed", SOON).await;

    // A planned release whose manual items people ticked and waived.
    let billing = d.create(json!({"service": "billing", "version": "2.0.0", "planned": true})).await;
    let billing = billing["id"].as_str().unwrap().to_string();
    let tick = |item: &str| format!("/api/v1/releases/{billing}/items/{item}/tick");
    let (s, v) = d.post(&tick(ROLLBACK_DOC), &json!({"by": "alice", "note": "runbook PR #812 merged"})).await;
    assert_eq!(s, 200, "{v}");
    let waive = format!("/api/v1/releases/{billing}/items/verify-monitoring-dashboards-are-up-to-date/waive");
    let (s, v) = d.post(&waive, &json!({"by": "bob", "reason": "dashboards moved to Grafana 11 next week"})).await;
    assert_eq!(s, 200, "{v}");

    d.wait_item(&checkout, BLIND, "unknown", SOON).await;

    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("profile");

    // --- the overview
    let dom = dump_dom(&bin, &profile, &format!("{}/", d.url)).await;
    assert!(dom.contains(r#"<html lang="en""#), "lang attribute");
    assert!(dom.contains(r#"http-equiv="refresh" content="15""#), "auto refresh");
    assert!(dom.contains("name=\"viewport\""), "viewport meta");
    assert!(dom.contains("<main>"), "semantic main");
    assert!(dom.contains("2 of 3 watched releases need attention"), "summary line: {dom}");
    for svc in ["checkout", "web", "billing", "payments"] {
        assert!(dom.contains(svc), "{svc} on the overview");
    }
    let pos = |s: &str| dom.find(s).unwrap_or_else(|| panic!("{s:?} not in overview"));
    assert!(pos(">checkout ") < pos(">billing ") && pos(">web ") < pos(">billing "), "red releases first");
    assert!(pos(">billing ") < pos("Recently closed"), "closed releases below the watched ones");
    assert_eq!(dom.matches("<progress").count(), 3, "a window progress bar per watched release");
    assert!(dom.contains("left · min in"), "time left in words");
    for word in ["failing", "regressed", "needs attention", "deployed", "planned", "verified", "complete", "manual"] {
        assert!(dom.contains(word), "state word {word:?} on the overview");
    }
    assert!(dom.contains(SMOKE_TEXT) && dom.contains("HTTP 500"), "red items named with why");
    assert!(dom.contains("can't be seen: ") && !dom.contains("Nothing red"), "{dom}");
    assert!(dom.contains("could not measure since"), "unknown items named with why: {dom}");
    assert!(!dom.contains(SECRET), "secret leaked into the overview");
    // A sparkline per watched release that has results (not the closed one): the red ones
    // show their failing item's latency with the failed results marked, and a text
    // alternative naming the item; the planned release has none yet and says so.
    let sparks = dom.matches(r#"<svg class="spark""#).count();
    assert_eq!(sparks, 2, "sparklines: {dom}");
    assert!(dom.contains("checkout 1.4.2: worst item '") && dom.contains("web 1.4.2: worst item '"), "{dom}");
    assert!(dom.contains(r#"data-kind="values""#) && dom.contains(r#"class="spark-fail""#), "failed results: {dom}");
    assert!(dom.contains("billing 2.0.0: worst item '") && dom.contains("no results yet"), "{dom}");
    // Browsers get the page gzipped (Chromium above asked for it); other clients plain.
    let get = |gzip: bool| {
        let req = d.client.get(format!("{}/", d.url));
        if gzip { req.header("accept-encoding", "gzip, deflate, br") } else { req }
    };
    let zipped = get(true).send().await.unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["vary"], "accept-encoding");
    let mut html = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&zipped.bytes().await.unwrap()[..]), &mut html)
        .expect("valid gzip");
    let plain = get(false).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none(), "no gzip unless asked for");
    let plain = plain.text().await.unwrap();
    for page in [&html, &plain] {
        assert!(page.starts_with("<!DOCTYPE html>") && page.contains("2 of 3 watched releases need attention"));
    }

    // --- a failing release
    let url = format!("{}/releases/{checkout}", d.url);
    let dom = dump_dom(&bin, &profile, &url).await;
    let li = item_li(&dom, SMOKE);
    assert!(li.contains(r#"data-state="failing""#) && li.contains("✗") && li.contains(" failing"), "{li}");
    assert!(li.contains("HTTP 500"), "HTTP status in the evidence: {li}");
    assert!(li.contains("status in [200]"), "expected condition: {li}");
    assert!(li.contains("/healthz?key=&lt;redacted&gt;"), "resolved URL, secret masked: {li}");
    assert!(li.contains(r#"class="cell fail""#) && li.contains(">F</li>"), "result strip: {li}");
    assert!(li.contains("fails after 2 fails in a row"), "the rule in words: {li}");
    assert!(li.contains("of the window"), "coverage: {li}");
    // The probe's latency charted over the watch: points, the max_latency line, the deploy.
    let svg = &li[li.find("<figure class=\"chart\"").expect("a chart")..];
    let svg = &svg[..svg.find("</svg>").expect("an inline SVG")];
    let points: usize = attr(svg, "data-points").parse().unwrap();
    assert!(points >= 2 && svg.contains("<polyline"), "points drawn: {svg}");
    assert!(svg.contains(r#"class="threshold""#) && attr(svg, "data-value") == "5000", "threshold line: {svg}");
    assert!(svg.contains(r#"class="deploy""#), "deploy marked: {svg}");
    assert!(svg.contains(&format!("{points} points")) && svg.contains("threshold &lt;= 5000"), "text alternative");
    // The timeline: the deploy, the item failing, the window's min and max on one axis.
    assert!(dom.contains("Timeline") && dom.contains(r#"class="mark window-min""#), "timeline");
    assert!(dom.contains("release started (deployed)") && dom.contains("pending → failing"), "timeline words");
    let blind = item_li(&dom, BLIND);
    assert!(blind.contains(r#"data-state="unknown""#) && blind.contains("could not measure since"), "{blind}");
    assert!(blind.contains("warn: does not block the release"), "{blind}");
    assert!(dom.contains("Can't be seen"), "can't-be-seen section");
    let version = item_li(&dom, VERSION);
    assert!(version.contains("✓") && version.contains(" complete") && version.contains(">P</li>"), "{version}");
    assert!(dom.contains("Needs attention"), "attention section");
    assert!(dom.contains("<progress"), "window progress");
    assert!(!dom.contains(SECRET), "secret leaked into the release page");
    // The team's headings, in their order and with their levels (`#` → h2, `##` → h3, ...).
    let heads = [
        "<h2 class=\"sec\">Release Operations Checklist</h2>",
        "<h3 class=\"sec\">Pre-Release Preparation</h3>",
        "<h4 class=\"sec\">Environment Provisioning</h4>",
        "<h3 class=\"sec\">Deployment Execution</h3>",
        "<h4 class=\"sec\">Post-Deploy Verification</h4>",
        "<h3 class=\"sec\">Emergency Rollback (if needed)</h3>",
    ];
    let at: Vec<usize> = heads.iter().map(|h| dom.find(h).unwrap_or_else(|| panic!("no heading {h}"))).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "headings out of order: {at:?}");
    assert!(!dom.contains(">Purpose<"), "a heading without items is prose, not a section");
    assert!(dom.find(&format!("id=\"item-{SMOKE}\"")).unwrap() > at[4], "smoke item under its heading");

    // --- people's ticks and waivers
    let dom = dump_dom(&bin, &profile, &format!("{}/releases/{billing}", d.url)).await;
    let li = item_li(&dom, ROLLBACK_DOC);
    assert!(li.contains("✓") && li.contains("alice") && li.contains("runbook PR #812 merged"), "{li}");
    let li = item_li(&dom, "verify-monitoring-dashboards-are-up-to-date");
    assert!(li.contains("⊘") && li.contains(" waived") && li.contains("bob"), "{li}");
    assert!(dom.contains("Ticked by people") && dom.contains("dashboards moved to Grafana 11 next week"));
    assert!(dom.contains("☐") && dom.contains("manual items never block the verdict"));

    // --- unknown release: an HTML 404
    let (status, body) = d.get("/releases/no-such-release").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("Release not found") && body.contains("All releases"), "{body}");

    // --- screenshots at phone and desktop width
    let phone = tmp.path().join("phone.png");
    screenshot(&bin, &profile, &format!("{}/", d.url), (390, 844), &phone).await;
    let desk = tmp.path().join("release.png");
    screenshot(&bin, &profile, &url, (1280, 900), &desk).await;
    let phone_item = tmp.path().join("item.png");
    screenshot(&bin, &profile, &url, (390, 844), &phone_item).await;
    // For people to look at (the README's screenshot command).
    for (file, name) in [(&phone, "status"), (&desk, "release"), (&phone_item, "item")] {
        let _ = std::fs::copy(file, std::env::temp_dir().join(format!("shipwatch-{name}.png")));
    }
}
