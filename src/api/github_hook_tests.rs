//! The GitHub webhook's pure parts on GitHub's documented payload examples
//! (`tests/fixtures/github/`): signatures, names, versions and what an event asks for.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use hmac::{KeyInit, Mac};
use serde_json::Value;

use super::*;

const SUCCESS: &str = include_str!("../../tests/fixtures/github/deployment_status.json");
const IN_PROGRESS: &str = include_str!("../../tests/fixtures/github/deployment_status-gh-pages.json");
const WITH_INSTALLATION: &str = include_str!("../../tests/fixtures/github/deployment_status-with-installation.json");
const BASE: &str = "http://shipwatch.example:9797";
const SHA: &str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";
const DAY: Duration = Duration::from_secs(86400);

fn hook() -> GithubHook {
    GithubHook { webhook_secret: "s3cret-hook".into(), repositories: BTreeMap::new(), environments: BTreeMap::new() }
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

/// The example `json` with `edit` applied, parsed as the handler does.
fn event(json: &str, edit: impl FnOnce(&mut Value)) -> DeploymentStatusEvent {
    let mut v: Value = serde_json::from_str(json).unwrap();
    edit(&mut v);
    serde_json::from_value(v).unwrap()
}

/// 2019-05-15T15:20:55Z (the example's created_at) plus a minute.
fn soon_after() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2019, 5, 15, 15, 21, 55).unwrap()
}

fn start(d: Decision) -> NewRelease {
    match d {
        Decision::Start(r) => *r,
        Decision::Ignore(why) => panic!("ignored: {why}"),
    }
}

fn ignored(d: Decision) -> String {
    match d {
        Decision::Ignore(why) => why,
        Decision::Start(r) => panic!("started {r:?}"),
    }
}

#[test]
fn signatures_are_checked_on_the_raw_body() {
    let body = SUCCESS.as_bytes();
    let good = sign("s3cret-hook", body);
    assert_eq!(check_signature("s3cret-hook", body, Some(&good)), Ok(()));
    let cases: &[(Option<&str>, &str)] = &[
        (None, "missing X-Hub-Signature-256"),
        (Some(""), "is not sha256=<hex>"),
        (Some("sha1=abc"), "is not sha256=<hex>"),
        (Some("sha256=zz"), "is not sha256=<hex>"),
        (Some("sha256=00"), "does not match"),
        (Some(&good[..good.len() - 2]), "does not match"),
    ];
    for (header, want) in cases {
        let got = check_signature("s3cret-hook", body, *header).unwrap_err();
        assert!(got.contains(want), "{header:?}: {got}");
    }
    let other = sign("another-secret", body);
    assert!(check_signature("s3cret-hook", body, Some(&other)).unwrap_err().contains("secret differs"));
    // One byte more (a re-serialized body) no longer matches.
    let mut changed = body.to_vec();
    changed.push(b'\n');
    assert!(check_signature("s3cret-hook", &changed, Some(&good)).is_err());
}

#[test]
fn names_are_folded_to_shipwatch_rules() {
    for (github, want) in [
        ("production", "production"),
        ("Production", "production"),
        ("prod/eu", "prod-eu"),
        ("Prod EU", "prod-eu"),
        ("github-pages", "github-pages"),
        ("staging_2", "staging-2"),
        ("Hello-World", "hello-world"),
        ("my.repo", "my-repo"),
        ("--a//b--", "a-b"),
        ("prod:eu", "prod:eu"),
    ] {
        assert_eq!(normalize(github), want, "{github}");
    }
}

#[test]
fn a_version_is_a_version_tag_else_the_short_sha() {
    for (git_ref, want) in [
        ("v1.4.2", "v1.4.2"),
        ("1.4.2", "1.4.2"),
        ("refs/tags/v2.0.0-rc.1", "v2.0.0-rc.1"),
        ("V3", "V3"),
        ("master", "f95f852bd8fc"),
        ("main", "f95f852bd8fc"),
        ("release/1.4", "f95f852bd8fc"),
        ("refs/heads/main", "f95f852bd8fc"),
        (SHA, "f95f852bd8fc"),
        ("f95f852", "f95f852bd8fc"),
        ("1.0 beta", "f95f852bd8fc"),
        ("", "f95f852bd8fc"),
    ] {
        assert_eq!(version_of(git_ref, SHA), want, "{git_ref:?}");
    }
    assert_eq!(version_of("main", &SHA.to_uppercase()), "f95f852bd8fc", "the sha is folded to lowercase");
}

#[test]
fn a_successful_deployment_starts_a_release_with_commit_and_origin() {
    for json in [SUCCESS, WITH_INSTALLATION] {
        let r = start(decide(&hook(), &event(json, |_| {}), BASE, soon_after(), DAY));
        assert_eq!(r.service, "hello-world");
        assert_eq!(r.version, "f95f852bd8fc", "ref master is a branch, not a version");
        assert_eq!(r.environment.as_deref(), Some("production"));
        assert_eq!(r.commit.as_deref(), Some(SHA));
        assert_eq!(r.deployed_at, Some(Utc.with_ymd_and_hms(2019, 5, 15, 15, 20, 55).unwrap()));
        assert_eq!(
            r.origin,
            Some(Origin::GithubDeployment { repository: "Codertocat/Hello-World".into(), deployment_id: 145988746 })
        );
        assert_eq!(r.idempotency_key.as_deref(), Some("github-deployment-145988746"));
        assert!(!r.planned && !r.new);
    }
}

#[test]
fn configured_names_win() {
    let mut h = hook();
    h.repositories.insert("codertocat/hello-world".into(), "greeter".into());
    h.environments.insert("Production".into(), "prod-eu".into());
    let ev = event(SUCCESS, |v| {
        v["deployment"]["environment"] = "Production".into();
        v["deployment"]["ref"] = "refs/tags/v1.4.2".into();
    });
    let r = start(decide(&h, &ev, BASE, soon_after(), DAY));
    assert_eq!((r.service.as_str(), r.version.as_str()), ("greeter", "v1.4.2"), "repository matched ignoring case");
    assert_eq!(r.environment.as_deref(), Some("prod-eu"));
}

#[test]
fn other_states_bad_names_old_deploys_and_our_own_statuses_are_ignored_with_the_reason() {
    type Edit = fn(&mut Value);
    let cases: Vec<(&str, Edit, &str)> = vec![
        (IN_PROGRESS, |_| {}, "state \"in_progress\" is not success"),
        (SUCCESS, |v| v["deployment_status"]["state"] = "failure".into(), "state \"failure\""),
        (SUCCESS, |v| v["deployment_status"]["state"] = "error".into(), "state \"error\""),
        (SUCCESS, |v| v["deployment_status"]["state"] = "inactive".into(), "state \"inactive\""),
        (SUCCESS, |v| v["deployment_status"]["state"] = "queued".into(), "state \"queued\""),
        (SUCCESS, |v| v["deployment_status"]["state"] = "pending".into(), "state \"pending\""),
        (
            SUCCESS,
            |v| v["deployment"]["environment"] = "Prödüction".into(),
            "GitHub environment \"Prödüction\" gives the environment \"prödüction\", which is not valid",
        ),
        (
            SUCCESS,
            |v| v["deployment"]["environment"] = "x".repeat(80).into(),
            "map it under integrations.github.environments",
        ),
        (SUCCESS, |v| v["repository"]["name"] = "Ünïcode".into(), "map it under integrations.github.repositories"),
        (SUCCESS, |v| v["deployment"]["sha"] = "not-a-sha".into(), "is not a commit"),
        (
            SUCCESS,
            |v| v["deployment_status"]["created_at"] = "2019-05-13T15:20:55Z".into(),
            "longer ago than the window (max 1day)",
        ),
        (
            SUCCESS,
            |v| v["deployment_status"]["target_url"] = format!("{BASE}/releases/hello-world-f95f852bd8fc").into(),
            "posted by shipwatch itself",
        ),
        (
            SUCCESS,
            |v| v["deployment_status"]["log_url"] = format!("{BASE}/releases/x").into(),
            "posted by shipwatch itself",
        ),
    ];
    for (json, edit, want) in cases {
        let why = ignored(decide(&hook(), &event(json, edit), BASE, soon_after(), DAY));
        assert!(why.contains(want), "{want}: {why}");
        assert!(!why.contains('\n'), "{why}");
    }
    // A target_url elsewhere (the deploy tool's log) is not ours.
    let ev = event(SUCCESS, |v| v["deployment_status"]["target_url"] = "https://ci.example/run/1".into());
    start(decide(&hook(), &ev, BASE, soon_after(), DAY));
}

#[test]
fn untrusted_names_are_quoted_and_cut_in_reasons() {
    let ev = event(SUCCESS, |v| v["deployment_status"]["state"] = format!("x\n{}", "y".repeat(500)).into());
    let why = ignored(decide(&hook(), &ev, BASE, soon_after(), DAY));
    assert!(why.contains("\"x\\nyyy") && why.len() < 300, "{why}");
}
