//! The Prometheus metrics wharf keeps: request counts and latency by route
//! pattern, login checks, notifications, and the credential gauges. No
//! label value is ever a secret's name or a credential. (`GET /metrics` is
//! `api::metrics`; the timing middleware is in `startup`.)

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route's pattern (`/admin/secrets/{name}`), never the raw path.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

/// How a cluster's request for credentials ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialResult {
    /// Credentials were given.
    Served,
    /// Nothing delivered matched.
    NoMatch,
    /// Refused: a route a cluster token may not use, or a secret that is
    /// not delivered.
    Denied,
}

/// Every metric wharf keeps.
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
    checks: Family<ResultLabels, Counter>,
    notifications: Family<ResultLabels, Counter>,
    credential_requests: Family<ResultLabels, Counter>,
    token_mints: Family<ResultLabels, Counter>,
    sso_sign_ins: Family<ResultLabels, Counter>,
    sso_provider_up: Gauge,
    reads_from_memory: Counter,
    reads_from_database: Counter,
    ecr_tokens: Family<Vec<(String, String)>, Gauge>,
    secrets: Family<Vec<(String, String)>, Gauge>,
    expiring: Gauge,
    expired: Gauge,
    failing: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// The metrics, registered.
    pub fn new() -> Self {
        let mut r = <Registry>::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ])
        });
        let checks = Family::<ResultLabels, Counter>::default();
        let notifications = Family::<ResultLabels, Counter>::default();
        let credential_requests = Family::<ResultLabels, Counter>::default();
        let token_mints = Family::<ResultLabels, Counter>::default();
        let sso_sign_ins = Family::<ResultLabels, Counter>::default();
        let sso_provider_up = Gauge::default();
        let reads = Family::<Vec<(String, String)>, Counter>::default();
        let read_from = |from: &str| {
            reads
                .get_or_create(&vec![("from".to_owned(), from.to_owned())])
                .clone()
        };
        let (reads_from_memory, reads_from_database) = (read_from("memory"), read_from("database"));
        let ecr_tokens = Family::<Vec<(String, String)>, Gauge>::default();
        let secrets = Family::<Vec<(String, String)>, Gauge>::default();
        let (expiring, expired, failing) = (Gauge::default(), Gauge::default(), Gauge::default());
        r.register(
            "wharf_http_requests",
            "HTTP requests answered",
            requests.clone(),
        );
        r.register(
            "wharf_http_request_duration_seconds",
            "Time to answer HTTP requests",
            durations.clone(),
        );
        r.register(
            "wharf_login_checks",
            "Registry login checks made",
            checks.clone(),
        );
        r.register(
            "wharf_notifications",
            "Notification deliveries attempted",
            notifications.clone(),
        );
        r.register(
            "wharf_credential_requests",
            "Credential requests of clusters: served, no_match or denied",
            credential_requests.clone(),
        );
        r.register(
            "wharf_token_mints",
            "Amazon ECR registry tokens minted: ok or failed",
            token_mints.clone(),
        );
        r.register(
            "wharf_sso_sign_ins",
            "Single sign-on callbacks: ok (signed in) or refused",
            sso_sign_ins.clone(),
        );
        r.register(
            "wharf_sso_provider_up",
            "1 while the OpenID provider is discovered and single sign-on works; 0 while it cannot be reached (or without single sign-on)",
            sso_provider_up.clone(),
        );
        r.register(
            "wharf_list_reads",
            "Pages of the lists and the catalogue given (HTML and API): from memory (nothing committed since what they need was read) or read from the database",
            reads,
        );
        r.register(
            "wharf_ecr_tokens",
            "Amazon ECR secrets by the state of their registry token: fresh (more than half its life left), aging, expired or none",
            ecr_tokens.clone(),
        );
        r.register("wharf_secrets", "Secrets stored, by type", secrets.clone());
        r.register(
            "wharf_secrets_expiring",
            "Secrets expiring within 30 days",
            expiring.clone(),
        );
        r.register(
            "wharf_secrets_expired",
            "Secrets past their expiry date",
            expired.clone(),
        );
        r.register(
            "wharf_secrets_login_failing",
            "Registry secrets whose last login check failed",
            failing.clone(),
        );
        // Both results from the start, so a scrape shows them at 0.
        for result in ["ok", "failed"] {
            let _ = checks.get_or_create(&ResultLabels {
                result: result.into(),
            });
        }
        for result in ["ok", "failed"] {
            let _ = token_mints.get_or_create(&ResultLabels {
                result: result.into(),
            });
        }
        for result in ["ok", "refused"] {
            let _ = sso_sign_ins.get_or_create(&ResultLabels {
                result: result.into(),
            });
        }
        for result in ["delivered", "failed"] {
            let _ = notifications.get_or_create(&ResultLabels {
                result: result.into(),
            });
        }
        Self {
            registry: Mutex::new(r),
            requests,
            durations,
            checks,
            notifications,
            credential_requests,
            token_mints,
            sso_sign_ins,
            sso_provider_up,
            reads_from_memory,
            reads_from_database,
            ecr_tokens,
            secrets,
            expiring,
            expired,
            failing,
        }
    }

    /// Counts a list read from memory or from the database.
    pub fn list_read(&self, from_memory: bool) {
        match from_memory {
            true => self.reads_from_memory.inc(),
            false => self.reads_from_database.inc(),
        };
    }

    /// Counts a login check (`ok` or `failed`).
    pub fn login_check(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.checks
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
    }

    /// Counts an ECR token mint (`ok` or `failed`).
    pub fn token_mint(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.token_mints
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
    }

    /// Counts a single sign-on callback (signed in, or refused).
    pub fn sso_sign_in(&self, ok: bool) {
        let result = if ok { "ok" } else { "refused" };
        self.sso_sign_ins
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
    }

    /// Whether the OpenID provider is discovered.
    pub fn sso_provider_up(&self, up: bool) {
        self.sso_provider_up.set(i64::from(up));
    }

    /// Counts a cluster's request for credentials.
    pub fn credential_request(&self, result: CredentialResult) {
        let result = match result {
            CredentialResult::Served => "served",
            CredentialResult::NoMatch => "no_match",
            CredentialResult::Denied => "denied",
        };
        self.credential_requests
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
    }

    /// Counts a notification delivery (`delivered` or `failed`).
    pub fn notification(&self, delivered: bool) {
        let result = if delivered { "delivered" } else { "failed" };
        self.notifications
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
    }

    /// Counts and times one answered request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.into(),
                route: route.into(),
                status,
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels {
                route: route.into(),
            })
            .observe(seconds);
    }
}

/// The credential gauges as they are now.
pub struct Gauges<'a> {
    /// Secrets by `type`: every kind there is, with its count.
    pub by_type: &'a [(&'static str, i64)],
    /// Expiring within 30 days.
    pub expiring: i64,
    /// Past their date.
    pub expired: i64,
    /// The last login check failed.
    pub failing: i64,
    /// ECR secrets by their token's state (`fresh`, `aging`, `expired`,
    /// `none`).
    pub ecr_tokens: &'a [(&'static str, i64)],
}

impl Metrics {
    /// Sets the gauges and writes every metric in the Prometheus text
    /// format.
    pub fn encode(&self, g: &Gauges<'_>) -> Result<String, String> {
        for (kind, n) in g.by_type {
            self.secrets
                .get_or_create(&vec![("type".to_owned(), (*kind).to_owned())])
                .set(*n);
        }
        for (state, n) in g.ecr_tokens {
            self.ecr_tokens
                .get_or_create(&vec![("state".to_owned(), (*state).to_owned())])
                .set(*n);
        }
        self.expiring.set(g.expiring);
        self.expired.set(g.expired);
        self.failing.set(g.failing);
        let mut body = String::new();
        let registry = self.registry.lock().map_err(|_| "metrics lock")?;
        prometheus_client::encoding::text::encode(&mut body, &registry)
            .map_err(|e| e.to_string())?;
        Ok(prometheus_text(&body))
    }
}

/// The classic Prometheus text format from the OpenMetrics one the crate
/// writes: a counter's HELP and TYPE name its samples (`x_total`), and
/// there is no `# EOF` (what `promtool check metrics` and every scraper
/// read without content negotiation).
fn prometheus_text(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|p| {
            let rest = line.strip_prefix(p)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{p}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn counters_are_named_by_their_samples() {
        let om = "# HELP a_b Things.\n# TYPE a_b counter\na_b_total 1\n# HELP g A gauge.\n# TYPE g gauge\ng 2\n# EOF\n";
        assert_eq!(
            super::prometheus_text(om),
            "# HELP a_b_total Things.\n# TYPE a_b_total counter\na_b_total 1\n# HELP g A gauge.\n# TYPE g gauge\ng 2\n"
        );
    }
}
