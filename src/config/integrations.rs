//! `integrations:` (inbound: the GitHub webhook that starts releases) and the checks of the
//! `github` notifier's settings (outbound: commit and deployment statuses).
//!
//! ```yaml
//! integrations:
//!   github:
//!     webhook_secret: "${GITHUB_WEBHOOK_SECRET}"   # the secret entered in GitHub's webhook settings
//!     repositories: { "acme/checkout": checkout-api }  # repository → service (default: its name)
//!     environments: { "Production": production }       # GitHub environment → shipwatch environment
//! ```
//!
//! Repository names are `owner/name` as GitHub spells them (matched ignoring case); services and
//! environments on the right follow the release rules (`crate::validate`). The webhook secret
//! and the notifier's token are secrets: registered with the redactor even when written in the
//! file rather than taken from `${VAR}`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Notifier;
use super::ctx::{Ctx, p};
use crate::redact::Redactor;

/// `integrations:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Integrations {
    /// `POST /api/v1/hooks/github` answers 503 without it.
    #[serde(default)]
    pub github: Option<GithubHook>,
}

/// `integrations.github`: the webhook that starts (or deploys) releases from `deployment_status`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubHook {
    /// The HMAC key of `X-Hub-Signature-256`.
    pub webhook_secret: String,
    /// `owner/name` → service; a repository not listed is its own name, lowercased.
    #[serde(default)]
    pub repositories: BTreeMap<String, String>,
    /// GitHub environment name → shipwatch environment; one not listed is lowercased, with
    /// `/`, `_`, `.` and spaces turned into `-`.
    #[serde(default)]
    pub environments: BTreeMap<String, String>,
}

impl GithubHook {
    /// The service configured for repository `full_name` (ignoring case), if any.
    pub fn service_of(&self, full_name: &str) -> Option<&str> {
        self.repositories.iter().find(|(k, _)| k.eq_ignore_ascii_case(full_name)).map(|(_, v)| v.as_str())
    }

    /// The environment configured for GitHub environment `name` (exactly as GitHub sends it).
    pub fn environment_of(&self, name: &str) -> Option<&str> {
        self.environments.get(name).map(String::as_str)
    }
}

/// Whether `s` is a GitHub `owner/name`: an owner of letters, digits and `-` (1-39), a name
/// of letters, digits, `.`, `-` and `_` (1-100, not `.` or `..`). The reason when not.
pub fn repo_problem(s: &str) -> Option<String> {
    let Some((owner, name)) = s.split_once('/') else {
        return Some(format!("'{s}' is not owner/name"));
    };
    let owner_ok = (1..=39).contains(&owner.len()) && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !owner_ok {
        return Some(format!("owner '{owner}' is not 1-39 letters, digits and '-'"));
    }
    let name_ok = (1..=100).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && name != "."
        && name != "..";
    (!name_ok).then(|| format!("name '{name}' is not 1-100 letters, digits, '.', '-' and '_'"))
}

/// Read and check `integrations:`; registers the webhook secret.
pub(super) fn load(cx: &mut Ctx, v: Option<serde_json::Value>, redactor: &Redactor) -> Integrations {
    let Some(v) = v else { return Integrations::default() };
    let Some(i) = cx.de::<Integrations>(&v, &p(&["integrations"])) else { return Integrations::default() };
    if let Some(g) = &i.github {
        redactor.add(&g.webhook_secret);
        let at = |k: &[&str]| [p(&["integrations", "github"]), p(k)].concat();
        if g.webhook_secret.trim().is_empty() {
            cx.at_value(
                &at(&["webhook_secret"]),
                "integrations.github.webhook_secret is empty".into(),
                Some("write webhook_secret: \"${GITHUB_WEBHOOK_SECRET}\", the secret set in GitHub's webhook".into()),
            );
        }
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for (repo, service) in &g.repositories {
            if let Some(why) = repo_problem(repo) {
                let hint = Some("write the repository as GitHub shows it, e.g. \"acme/checkout\": checkout-api".into());
                cx.at_key(&at(&["repositories", repo]), format!("integrations.github.repositories: {why}"), hint);
            }
            if let Some(other) = seen.insert(repo.to_ascii_lowercase(), repo) {
                cx.at_key(
                    &at(&["repositories", repo]),
                    format!("integrations.github.repositories names '{repo}' and '{other}', one repository"),
                    Some("GitHub ignores the case of repository names: keep one entry".into()),
                );
            }
            if let Err(e) = crate::validate::service(service) {
                cx.at_value(
                    &at(&["repositories", repo]),
                    format!("integrations.github.repositories.{repo}: {e}"),
                    None,
                );
            }
        }
        for (gh, env) in &g.environments {
            if let Err(e) = crate::validate::environment(env) {
                cx.at_value(&at(&["environments", gh]), format!("integrations.github.environments.{gh}: {e}"), None);
            }
        }
    }
    i
}

/// Check a `github` notifier's settings (repository, token, API URL); registers the token.
pub(super) fn check_notifier(cx: &mut Ctx, name: &str, kind: &Notifier, redactor: &Redactor) {
    let Notifier::Github { repo, token, api_url } = kind else { return };
    redactor.add(token);
    let at = |k: &str| p(&["notify", name, "github", k]);
    if let Some(why) = repo_problem(repo) {
        cx.at_value(
            &at("repo"),
            format!("notifier '{name}': github.repo {why}"),
            Some("write repo: owner/name, e.g. repo: acme/checkout".into()),
        );
    }
    if token.trim().is_empty() {
        cx.at_value(
            &at("token"),
            format!("notifier '{name}': github.token is empty"),
            Some("write token: \"${GITHUB_TOKEN}\" (a token that may write commit and deployment statuses)".into()),
        );
    }
    if let Some(u) = api_url {
        let why = match url::Url::parse(u) {
            Ok(url) if !matches!(url.scheme(), "http" | "https") => Some(format!("has scheme {}", url.scheme())),
            Ok(url) if url.cannot_be_a_base() || url.host().is_none() => Some("has no host".to_string()),
            Ok(url) if url.query().is_some() || url.fragment().is_some() => Some("has a query or fragment".into()),
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = why {
            cx.at_value(
                &at("api_url"),
                redactor.redact(&format!("notifier '{name}': github.api_url {why}")),
                Some("leave it out for https://api.github.com, or write e.g. https://github.example.com/api/v3".into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        for ok in ["acme/checkout", "Codertocat/Hello-World", "a/b", "a-1/x.y_z", "o/.github"] {
            assert_eq!(repo_problem(ok), None, "{ok}");
        }
        for (bad, piece) in [
            ("checkout", "not owner/name"),
            ("/x", "owner ''"),
            ("a_b/x", "owner 'a_b'"),
            ("acme/", "name ''"),
            ("acme/..", "name '..'"),
            ("acme/.", "name '.'"),
            ("acme/a/b", "name 'a/b'"),
            ("acme/a b", "name 'a b'"),
            ("acme/a%2F", "name 'a%2F'"),
        ] {
            let got = repo_problem(bad).unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(got.contains(piece), "{bad}: {got}");
        }
    }
}
