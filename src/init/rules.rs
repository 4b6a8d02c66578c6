//! Which checklist items `shipwatch init` binds, as data: keyword rules from an item's text to
//! a built-in template with default parameters.
//!
//! Matching works on words: the text is lower-cased and split at every character that is not a
//! letter or digit (`CI/CD` → `ci cd`, `smoke-tests` → `smoke tests`). A phrase matches a run of
//! consecutive words, each exactly, except that a word ending in `*` matches any word starting
//! with it (`test*` matches `tests`, `testing`). A [`Rule`] matches when each of its groups has
//! a matching phrase. [`MANUAL`] phrases win over every rule: an item that asks for a document,
//! a message or a person's judgement stays manual even if it mentions error rates.

/// A value `with:` gets. `value: None` writes the `FILL_ME` placeholder.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    /// The value as JSON text (`"prom"`, `0.8`, `["2xx"]`), or `None`: a person fills it.
    pub value: Option<&'static str>,
    /// The comment beside it: what to write there.
    pub note: &'static str,
}

/// When an item bound by a rule ticks (`pass:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    Consecutive(u32),
    /// A humantime duration.
    Sustained(&'static str),
    /// No fail across the whole window.
    Window,
}

impl Pass {
    /// The stricter of two rules: `window` over `sustained` (the longer) over `consecutive`
    /// (the more).
    pub fn stricter(self, other: Pass) -> Pass {
        let secs = |d: &str| humantime::parse_duration(d).map(|d| d.as_secs()).unwrap_or(0);
        match (self, other) {
            (Pass::Window, _) | (_, Pass::Window) => Pass::Window,
            (Pass::Sustained(a), Pass::Sustained(b)) => Pass::Sustained(if secs(b) > secs(a) { b } else { a }),
            (Pass::Sustained(a), _) | (_, Pass::Sustained(a)) => Pass::Sustained(a),
            (Pass::Consecutive(a), Pass::Consecutive(b)) => Pass::Consecutive(a.max(b)),
        }
    }
}

/// One recognition: items whose text matches `all` get probe `probe` (template `template`).
#[derive(Debug)]
pub struct Rule {
    /// The rule's name (tests, comments).
    pub name: &'static str,
    /// Every group must have a phrase in the text.
    pub all: &'static [&'static [&'static str]],
    pub template: &'static str,
    /// The probe's name in the starter config; items matching rules with the same probe name
    /// share it. Staging items get a `staging-` copy.
    pub probe: &'static str,
    /// Parameters written under `with:`; the template's other required ones are added as
    /// `FILL_ME` with the template's own description.
    pub with: &'static [Param],
    /// `every:` of the probe (the default, 1m, when `None`).
    pub every: Option<&'static str>,
    pub pass: Pass,
}

const JOB: Param = Param {
    name: "job",
    value: None,
    note: "Prometheus job label of the service, e.g. api (see the up metric's job label in Prometheus)",
};

const ERROR_RATIO: &[Param] =
    &[JOB, Param { name: "max", value: Some("0.01"), note: "highest acceptable share of 5xx responses" }];
const NO_NEW_ALERTS: &[Param] = &[
    Param {
        name: "source",
        value: Some("\"prom\""),
        note: "alerts as Prometheus sees them (an alertmanager source also knows silences)",
    },
    Param {
        name: "matchers",
        value: None,
        note: "label matchers of the service's alerts, a list such as ['service=\"api\"'] ([] = every alert)",
    },
];
/// "Monitor the system for 24-48 hours": watch + what is watched.
const MONITOR: &[&[&str]] = &[
    &["monitor*", "watch"],
    &["system", "service", "services", "production", "hours", "post release", "after release", "after deploy*"],
];

/// The recognitions, in the order their probes are listed for an item.
pub const RULES: &[Rule] = &[
    Rule {
        name: "smoke",
        all: &[&["smoke test*", "smoketest*", "health check*", "healthcheck*", "health endpoint*"]],
        template: "http-smoke",
        probe: "smoke",
        with: &[Param {
            name: "url",
            value: None,
            note: "URL of the health or smoke-test endpoint to GET, e.g. https://api.example.com/healthz",
        }],
        every: Some("30s"),
        pass: Pass::Consecutive(3),
    },
    Rule {
        name: "critical-endpoint",
        all: &[&[
            "critical user flow*",
            "critical flow*",
            "critical functionality",
            "critical endpoint*",
            "critical path*",
            "api endpoint*",
            "key endpoint*",
            "user journey*",
            "critical journey*",
        ]],
        template: "http-smoke",
        probe: "critical-endpoint",
        with: &[Param {
            name: "url",
            value: None,
            note: "URL of a critical endpoint to GET, e.g. https://api.example.com/v1/orders?limit=1 (copy the probe for more)",
        }],
        every: Some("1m"),
        pass: Pass::Consecutive(3),
    },
    Rule {
        name: "version-live",
        all: &[&[
            "new version",
            "version is running",
            "version is live",
            "version is deployed",
            "version running",
            "version deployed",
            "expected version",
            "correct version",
            "right version",
            "deployed version",
            "version endpoint*",
        ]],
        template: "version-live",
        probe: "version-live",
        with: &[
            Param {
                name: "url",
                value: None,
                note: "URL of the service's version endpoint (JSON), e.g. https://api.example.com/version",
            },
            Param { name: "path", value: Some("\"$.version\""), note: "JSONPath of the version field in its answer" },
        ],
        every: Some("1m"),
        pass: Pass::Consecutive(1),
    },
    Rule {
        name: "error-rate",
        all: &[&["error rate*", "error ratio*", "errors rate*", "5xx", "failure rate*", "error percentage*"]],
        template: "error-ratio",
        probe: "error-ratio",
        with: ERROR_RATIO,
        every: None,
        pass: Pass::Sustained("15m"),
    },
    Rule {
        name: "slo",
        all: &[&["slo", "slos", "error budget*", "burn rate*"]],
        template: "slo-burn",
        probe: "slo-burn",
        with: &[JOB, Param { name: "objective", value: Some("\"99.9%\""), note: "the SLO: share of good requests" }],
        every: None,
        pass: Pass::Sustained("15m"),
    },
    Rule {
        name: "latency",
        all: &[&["latenc*", "response time*", "p99", "p95", "percentile*"]],
        template: "latency-p99",
        probe: "latency-p99",
        with: &[JOB, Param { name: "max", value: Some("0.5"), note: "highest acceptable p99 latency, in seconds" }],
        every: None,
        pass: Pass::Sustained("10m"),
    },
    Rule {
        name: "alerts-firing",
        all: &[&[
            "unexpected alert*",
            "no alert*",
            "no new alert*",
            "alerts firing",
            "alerts fire",
            "alerts are firing",
            "firing alert*",
            "active alert*",
            "alerts or incidents",
        ]],
        template: "no-new-alerts",
        probe: "no-new-alerts",
        with: NO_NEW_ALERTS,
        every: None,
        pass: Pass::Sustained("30m"),
    },
    Rule {
        name: "monitor-errors",
        all: MONITOR,
        template: "error-ratio",
        probe: "error-ratio",
        with: ERROR_RATIO,
        every: None,
        pass: Pass::Window,
    },
    Rule {
        name: "monitor-alerts",
        all: MONITOR,
        template: "no-new-alerts",
        probe: "no-new-alerts",
        with: NO_NEW_ALERTS,
        every: None,
        pass: Pass::Window,
    },
    Rule {
        name: "alert-rules",
        all: &[&[
            "alerting rule*",
            "alert rule*",
            "alerts are configured",
            "alerting is configured",
            "alert definition*",
        ]],
        template: "alert-rules-loaded",
        probe: "alert-rules-loaded",
        with: &[Param {
            name: "matchers",
            value: None,
            note: "label matchers selecting the service's alerting rules, a list such as ['service=\"api\"']",
        }],
        every: Some("15m"),
        pass: Pass::Consecutive(1),
    },
    Rule {
        name: "target-up",
        all: &[
            &["dependenc*", "services", "targets", "instances", "pods", "replicas", "nodes", "upstream*"],
            &["available", "up", "healthy", "running", "ready", "reachable"],
        ],
        template: "target-up",
        probe: "target-up",
        with: &[Param {
            name: "job",
            value: None,
            note: "Prometheus job label of a dependency or of the service (one target-up probe per job: copy this one)",
        }],
        every: None,
        pass: Pass::Consecutive(3),
    },
    Rule {
        name: "cpu",
        all: &[&["cpu", "cpus", "saturat*", "processor*"]],
        template: "saturation",
        probe: "cpu",
        with: &[
            JOB,
            Param {
                name: "cpu_max",
                value: Some("0.8"),
                note: "highest acceptable cores in use by the busiest instance (e.g. 80% of its CPU limit)",
            },
        ],
        every: None,
        pass: Pass::Sustained("15m"),
    },
    Rule {
        name: "memory",
        all: &[&["memory", "ram", "oom", "heap"]],
        template: "memory-headroom",
        probe: "memory",
        with: &[
            JOB,
            Param {
                name: "limit_bytes",
                value: None,
                note: "memory limit of one instance in bytes, a number such as 2147483648 (2 GiB)",
            },
        ],
        every: None,
        pass: Pass::Sustained("15m"),
    },
];

/// Phrases that keep an item manual whatever else it says, with why.
pub const MANUAL: &[(&str, &str)] = &[
    ("document", "a document someone writes"),
    ("documentation", "a document someone writes"),
    ("runbook*", "a document someone writes"),
    ("release notes", "a document someone writes"),
    ("notify", "telling people (bind it to an event with on: and notify: if shipwatch should send it)"),
    ("announce*", "telling people (bind it to an event with on: and notify: if shipwatch should send it)"),
    ("communicat*", "telling people (bind it to an event with on: and notify: if shipwatch should send it)"),
    ("share", "telling people"),
    ("inform", "telling people"),
    ("set up", "setting something up is a person's task"),
    ("user feedback", "user feedback needs a person"),
    ("dashboard*", "reading a dashboard is a person's judgement"),
    ("schedule*", "a meeting"),
    ("meeting*", "a meeting"),
    ("retrospective*", "a meeting"),
    ("approv*", "an approval"),
    ("sign off", "an approval"),
    ("signoff", "an approval"),
    ("manual*", "the checklist says it is done by hand"),
];

/// Words that put an item in staging (its probes get a `staging-` copy, phase pre-deploy).
pub const STAGING: &[&str] = &["staging", "preprod", "pre prod", "pre production", "uat"];
/// Words that put an item in production even when its section is about staging.
pub const PRODUCTION: &[&str] = &["production", "prod"];

/// Aspects no template measures: an automated item that names one gets a REVIEW comment.
pub const UNMEASURED: &[&str] = &[
    "storage",
    "disk*",
    "bandwidth",
    "network*",
    "tested",
    "log",
    "logs",
    "logging",
    "integration*",
    "database*",
    "queue*",
    "user feedback",
];

/// The words of `text`: lower-cased, split at every non-alphanumeric character.
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(String::from).collect()
}

/// Whether `phrase` (see the module doc) occurs in `words`.
pub fn has_phrase(words: &[String], phrase: &str) -> bool {
    let want: Vec<&str> = phrase.split(' ').collect();
    words.windows(want.len()).any(|run| {
        run.iter().zip(&want).all(|(w, p)| match p.strip_suffix('*') {
            Some(prefix) => w.starts_with(prefix),
            None => w == p,
        })
    })
}

/// The first phrase of `phrases` that occurs in `words`.
pub fn first_phrase<'a>(words: &[String], phrases: &[&'a str]) -> Option<&'a str> {
    phrases.iter().copied().find(|p| has_phrase(words, p))
}

impl Rule {
    /// Whether every group of the rule has a phrase in `words`.
    pub fn matches(&self, words: &[String]) -> bool {
        self.all.iter().all(|group| first_phrase(words, group).is_some())
    }
}

/// Where an item's probes point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Env {
    Production,
    Staging,
}

/// What `init` does with one item.
#[derive(Debug)]
pub enum Recognition {
    /// Bound to the probes of `rules` (at least one); `unmeasured` are the aspects it names
    /// that none of them measures.
    Automated { rules: Vec<&'static Rule>, env: Env, unmeasured: Vec<&'static str> },
    /// Left to a person, with why (`None`: no rule matched).
    Manual { needs_person: Option<(&'static str, &'static str)> },
}

/// Recognise an item from its text and the titles of its sections.
pub fn recognise(text: &str, sections: &[String]) -> Recognition {
    let w = words(text);
    if let Some((phrase, why)) = MANUAL.iter().find(|(p, _)| has_phrase(&w, p)) {
        return Recognition::Manual { needs_person: Some((phrase, why)) };
    }
    let rules: Vec<&'static Rule> = RULES.iter().filter(|r| r.matches(&w)).collect();
    if rules.is_empty() {
        return Recognition::Manual { needs_person: None };
    }
    let in_sections = |phrases: &[&str]| sections.iter().any(|s| first_phrase(&words(s), phrases).is_some());
    // The item's own words first ("... on production" under a staging heading), then its sections.
    let staging =
        first_phrase(&w, STAGING).is_some() || (first_phrase(&w, PRODUCTION).is_none() && in_sections(STAGING));
    let env = if staging { Env::Staging } else { Env::Production };
    let unmeasured = UNMEASURED.iter().copied().filter(|p| has_phrase(&w, p)).collect();
    Recognition::Automated { rules, env, unmeasured }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
