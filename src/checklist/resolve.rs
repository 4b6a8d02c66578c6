//! Resolving a config reference (an item id or an item's exact text) to an item, with a
//! "did you mean" suggestion when nothing matches.

use strsim::normalized_levenshtein;

use super::{Checklist, Item, slug};

/// Minimum similarity for a fuzzy suggestion.
const SUGGEST_THRESHOLD: f64 = 0.5;

/// Minimum length of a reference for it to be suggested by prefix.
const MIN_PREFIX_LEN: usize = 3;

impl Checklist {
    /// Resolve a config reference: an item id, or the item's exact text. Err carries the nearest
    /// id (by strsim on ids and texts) if any is reasonably close.
    ///
    /// Order: exact id, then exact text (the reference as given, then trimmed). A text shared by
    /// several items is ambiguous and is not resolved: the Err then suggests the first such
    /// item's id, which is unique.
    pub fn resolve(&self, reference: &str) -> Result<&Item, Option<String>> {
        let trimmed = reference.trim();
        if let Some(item) = self.get(reference).or_else(|| self.get(trimmed)) {
            return Ok(item);
        }
        for wanted in [reference, trimmed] {
            if let Some((first, shared)) = self.by_text(wanted) {
                return if shared { Err(Some(first.id.clone())) } else { Ok(first) };
            }
        }
        Err(self.nearest(trimmed))
    }

    /// The id most similar to `reference`, if any is close enough or starts with it.
    fn nearest(&self, reference: &str) -> Option<String> {
        let reference_slug = slug(reference);
        let mut best: Option<(f64, &str)> = None;
        for item in &self.items {
            let mut score =
                normalized_levenshtein(reference, &item.id).max(normalized_levenshtein(reference, &item.text));
            if !reference_slug.is_empty() {
                score = score.max(normalized_levenshtein(&reference_slug, &item.id));
            }
            if let Some(prefix_score) = prefix_score(&reference_slug, &item.id) {
                score = score.max(prefix_score);
            }
            if score >= SUGGEST_THRESHOLD && best.is_none_or(|(s, _)| score > s) {
                best = Some((score, item.id.as_str()));
            }
        }
        best.map(|(_, id)| id.to_string())
    }
}

/// A score in `[0.5, 1.0]` when `reference` starts `id` or its last `/` segment, growing with
/// how much of the segment it covers; None otherwise.
fn prefix_score(reference: &str, id: &str) -> Option<f64> {
    if reference.chars().count() < MIN_PREFIX_LEN {
        return None;
    }
    let last = id.rsplit('/').next().unwrap_or(id);
    let target = if id.starts_with(reference) {
        id
    } else if last.starts_with(reference) {
        last
    } else {
        return None;
    };
    let covered = reference.len() as f64 / target.len().max(1) as f64;
    Some(SUGGEST_THRESHOLD + (1.0 - SUGGEST_THRESHOLD) * covered.min(1.0))
}

#[cfg(test)]
mod tests {
    use super::super::parse;

    const SRC: &str = "\
# Deploy
## Staging
- [ ] Run smoke tests in staging environment
- [ ] Notify team
## Production
- [ ] Run post-deploy smoke tests on production
- [ ] Notify team
- [ ] Check `/healthz` returns 200
";

    #[test]
    fn resolve_cases() {
        let list = parse(SRC);
        let cases: &[(&str, Result<&str, Option<&str>>)] = &[
            ("run-smoke-tests-in-staging-environment", Ok("run-smoke-tests-in-staging-environment")),
            ("Run post-deploy smoke tests on production", Ok("run-post-deploy-smoke-tests-on-production")),
            ("  Check /healthz returns 200 ", Ok("check-healthz-returns-200")),
            ("staging/notify-team", Ok("staging/notify-team")),
            ("production/notify-team", Ok("production/notify-team")),
            // Ambiguous text: not resolved, the first item's unique id is suggested.
            ("Notify team", Err(Some("staging/notify-team"))),
            // Prefix of an id.
            ("run-smoke-tests", Err(Some("run-smoke-tests-in-staging-environment"))),
            // Typos, against ids and against texts.
            ("run-post-deploy-smoke-test-on-prod", Err(Some("run-post-deploy-smoke-tests-on-production"))),
            ("Run smoke test in staging env", Err(Some("run-smoke-tests-in-staging-environment"))),
            ("check-healthz-return-200", Err(Some("check-healthz-returns-200"))),
            // Case differs: not an exact text match, but close.
            ("notify Team", Err(Some("staging/notify-team"))),
            // Nothing close.
            ("rotate-database-credentials", Err(None)),
            ("xy", Err(None)),
            ("", Err(None)),
        ];
        for (reference, want) in cases {
            let got = list.resolve(reference).map(|i| i.id.as_str());
            let got = got.as_ref().map_err(|e| e.as_deref()).copied();
            assert_eq!(got, *want, "resolve({reference:?})");
        }
    }

    #[test]
    fn resolve_empty_checklist() {
        assert_eq!(parse("just prose\n").resolve("anything").err(), Some(None));
    }
}
