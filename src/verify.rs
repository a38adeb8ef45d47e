//! One meaning of "served": after an apply the site is observed and diffed again exactly as
//! `plan` does it — the same clients, trust roots, `connect` addresses, `--timeout` and value
//! normalisation — and the changes that were applied must be gone. Rounds are repeated on
//! fresh connections until they pass several times in a row or a budget is spent, because a
//! reloaded server keeps answering from old workers for a moment.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::observe::ObserveOpts;
use crate::plan::{Change, Resource, Step};
use crate::secret::RunSecrets;
use crate::spec::Site;
use crate::stage::Command;

/// Consecutive passing rounds that count as "served".
const STABLE_ROUNDS: u32 = 3;

/// The least time a change gets to be served after a reload.
const MIN_BUDGET: Duration = Duration::from_secs(10);
/// With `checks` (code that runs inside the site changed), passing rounds must also span this
/// long: PHP's opcache notices changed files only every `opcache.revalidate_freq` (2 s by
/// default), so a broken plugin can keep serving its old code for that long.
const CODE_SETTLE: Duration = Duration::from_secs(3);

/// How to check that applied changes are served.
#[derive(Debug, Clone)]
pub struct Verify<'a> {
    repo: &'a Path,
    opts: ObserveOpts,
    secrets: &'a RunSecrets,
    /// The applied changes (`None`: every change the plan stage would apply now).
    applied: Option<Vec<(Resource, String)>>,
    /// The serial the served certificate must have (a new certificate was deployed).
    serial: Option<String>,
    /// The site must also answer (no 5xx) and pass its `checks:` (software was changed).
    checks: bool,
}

impl<'a> Verify<'a> {
    /// Checks that `applied` is served, observing with `opts` (one site at a time).
    pub fn new(
        repo: &'a Path,
        opts: ObserveOpts,
        secrets: &'a RunSecrets,
        applied: &[Change],
    ) -> Verify<'a> {
        Verify {
            repo,
            secrets,
            // A change being verified is never cut short by the run's `--deadline`: that
            // would roll back a good apply.
            opts: ObserveOpts {
                progress: false,
                deadline: None,
                ..opts
            },
            applied: Some(
                applied
                    .iter()
                    .map(|c| (c.resource, c.key.clone()))
                    .collect(),
            ),
            serial: None,
            checks: false,
        }
    }

    /// Also requires the site to answer without a server error and every one of its `checks:`
    /// to pass: what changed runs inside the site (plugins, themes), so "served" means "works".
    pub fn with_checks(self) -> Verify<'a> {
        Verify {
            checks: true,
            ..self
        }
    }

    /// Also requires the served leaf certificate to have `serial` (as [`crate::probe::cert`]
    /// writes it): the deployed certificate, not an older one that happens to pass the diff.
    pub fn with_serial(self, serial: String) -> Verify<'a> {
        Verify {
            serial: Some(serial),
            ..self
        }
    }

    /// Checks that nothing the provider could apply is left (for a provider used on its own).
    pub fn everything(repo: &'a Path, opts: ObserveOpts, secrets: &'a RunSecrets) -> Verify<'a> {
        Verify {
            repo,
            secrets,
            opts: ObserveOpts {
                deadline: None,
                ..opts
            },
            applied: None,
            serial: None,
            checks: false,
        }
    }

    /// One round: observe and diff `site`; the error names what is still not served.
    pub async fn once(&self, site: &Site) -> Result<(), String> {
        let found = crate::survey::survey(
            self.repo,
            &[site],
            self.opts,
            Some(Command::Apply),
            self.secrets,
        )
        .await;
        let Some(plan) = found.sites.first() else {
            return Err("the site was not observed".to_owned());
        };
        if let Some(e) = &plan.error {
            return Err(format!("not observed: {e}"));
        }
        let mut left: Vec<String> = plan
            .changes
            .iter()
            .filter(|c| match &self.applied {
                Some(keys) => keys.iter().any(|(r, k)| *r == c.resource && *k == c.key),
                None => c.step == Step::Apply,
            })
            .map(still)
            .collect();
        // An applied resource that cannot be observed now (a redirect source that stopped
        // answering) has no change in the plan, but it is not verified either.
        if let Some(keys) = &self.applied {
            left.extend(
                plan.unobserved
                    .iter()
                    .filter(|u| {
                        keys.iter()
                            .any(|(r, k)| **u == format!("{} {k}", r.as_str()))
                    })
                    .map(|u| format!("{u} could not be observed")),
            );
        }
        if let Some(want) = &self.serial {
            let served = found
                .live
                .first()
                .and_then(|l| l.tls.as_ref())
                .map(|t| t.leaf.serial.as_str());
            if served != Some(want.as_str()) {
                left.push(format!(
                    "the served certificate has serial {}, expected the new one {want}",
                    served.unwrap_or("(none)")
                ));
            }
        }
        if self.checks {
            let status = found
                .live
                .first()
                .and_then(|l| l.page.as_ref())
                .map(|p| p.status);
            if status.is_none_or(|s| s >= 500) {
                left.push(format!(
                    "the site does not answer (status {})",
                    status.map_or_else(|| "none".to_owned(), |s| s.to_string())
                ));
            }
            left.extend(plan.checks.iter().filter(|c| !c.ok).map(|c| {
                let why = c.message.as_deref().unwrap_or("failed");
                format!("check `{}` failed: {why}", c.name)
            }));
        }
        if left.is_empty() {
            Ok(())
        } else {
            Err(left.join("; "))
        }
    }

    /// Rounds until [`STABLE_ROUNDS`] pass in a row (spanning [`CODE_SETTLE`] with `checks`)
    /// or the budget (three request timeouts, at least 10 s, plus the settle time) is spent;
    /// the error says what was served last.
    pub async fn until_served(&self, site: &Site) -> Result<(), String> {
        let settle = if self.checks {
            CODE_SETTLE
        } else {
            Duration::ZERO
        };
        let budget = self.opts.timeout.saturating_mul(3).max(MIN_BUDGET) + settle;
        let deadline = Instant::now() + budget;
        let mut pause = Duration::from_millis(100);
        let mut streak = 0;
        let mut since = Instant::now();
        loop {
            match self.once(site).await {
                Ok(()) => {
                    if streak == 0 {
                        since = Instant::now();
                    }
                    streak += 1;
                    if streak >= STABLE_ROUNDS && since.elapsed() >= settle {
                        return Ok(());
                    }
                    let gap = if settle.is_zero() { 100 } else { 500 };
                    tokio::time::sleep(Duration::from_millis(gap)).await;
                }
                Err(e) if Instant::now() + pause >= deadline => {
                    return Err(format!("not served within {} s: {e}", budget.as_secs()));
                }
                Err(_) => {
                    streak = 0;
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
}

/// What is served instead of an applied change, in the user's terms.
fn still(c: &Change) -> String {
    let what = format!("{} `{}`", c.resource.as_str(), c.key);
    match (&c.live, &c.desired) {
        (None, Some(want)) => format!("{what} is not sent, expected `{want}`"),
        (Some(got), Some(want)) => format!("{what} is `{got}`, expected `{want}`"),
        (Some(got), None) => format!("{what} is still sent (`{got}`)"),
        (None, None) => format!("{what} is still not as desired"),
    }
}
