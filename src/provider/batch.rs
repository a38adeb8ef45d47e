//! Many sites on one server, applied as one batch: every site's file is written, the server's
//! config is tested once and reloaded once, and the sites are verified in parallel. A failing
//! config test is bisected to the sites whose files break it; those are restored and reported
//! with the tool's own words, and the others go on. A site that fails verification is restored
//! and the server tested and reloaded again.
//!
//! # Guarantees
//! - The per-site rule of [`super::sequence`] holds: a file that failed any step is never left
//!   in place; every failure names its site and stage.
//! - The members share one target server: the same transport target and the same test and
//!   reload commands (the caller groups them so), and own files ([`Provider::batchable`]).

use futures_util::future::join_all;

use super::sequence::command;
use super::{ApplyOutcome, Provider, ProviderError, Stage};
use crate::secret::{Secret, SiteSecrets};
use crate::spec::Site;
use crate::transport::Transport;
use crate::verify::Verify;

/// One site of a batch.
pub struct Member<'a> {
    pub provider: &'a Provider,
    pub site: &'a Site,
    pub transport: &'a Transport,
    pub secrets: &'a SiteSecrets,
    pub verify: Verify<'a>,
}

/// A member whose new file is known.
struct Prepared {
    /// The file before (`None`: there was none).
    backup: Option<Vec<u8>>,
    new: Vec<u8>,
    before: Option<String>,
    after: String,
    /// The new file differs from the one there.
    changed: bool,
}

/// Where a member stands.
enum State {
    Ready(Prepared),
    Written(Prepared),
    Done(Result<ApplyOutcome, ProviderError>),
}

/// Applies `members` (sites on one server) as one batch; one result per member, in order.
pub async fn apply(members: &[Member<'_>]) -> Vec<Result<ApplyOutcome, ProviderError>> {
    let Some(first) = members.first() else {
        return Vec::new();
    };
    let scrub: Vec<&str> = members
        .iter()
        .flat_map(|m| m.secrets.values().map(Secret::expose))
        .collect();
    let (test, reload) = (&first.provider.target.test, &first.provider.target.reload);
    // 1. Render and back up every site; a site already right and served needs nothing. A panic
    //    while preparing one site fails that site only.
    let mut states: Vec<State> = join_all(members.iter().map(|m| async move {
        let work = prepare(m);
        #[cfg(feature = "fault-injection")]
        let work = crate::fault::apply(m.site.name.as_str(), work);
        match crate::isolate::catch(work).await {
            Ok(state) => state,
            Err(msg) => State::Done(Err(m
                .provider
                .fail(Stage::Render, crate::isolate::panic_text(&msg)))),
        }
    }))
    .await;
    for (m, s) in members.iter().zip(states.iter_mut()) {
        if let State::Ready(p) = s
            && !p.changed
            && (!m.provider.verifiable() || m.verify.once(m.site).await.is_ok())
        {
            *s = State::Done(Ok(outcome(p, false, false)));
        }
    }
    // 2. Write every changed file.
    for (m, s) in members.iter().zip(states.iter_mut()) {
        let Some(p) = take(s, |st| matches!(st, State::Ready(_))) else {
            continue;
        };
        *s = if p.changed {
            match m.provider.write(m.site, m.transport, &p.new).await {
                Ok(()) => State::Written(p),
                Err(e) => State::Done(Err(m.provider.fail(Stage::Write, e))),
            }
        } else {
            State::Written(p)
        };
    }
    if !states.iter().any(|s| matches!(s, State::Written(_))) {
        return finish(states);
    }
    // 3. Test once; on failure find the sites that break it.
    if let Some(test) = test
        && let Err(detail) = command(first.transport, test, &scrub).await
    {
        bisect(members, &mut states, test, &scrub, detail).await;
        if !states.iter().any(|s| matches!(s, State::Written(_))) {
            return finish(states);
        }
    }
    // 4. Reload once.
    if let Some(reload) = reload
        && let Err(detail) = command(first.transport, reload, &scrub).await
    {
        for (m, s) in members.iter().zip(states.iter_mut()) {
            if let Some(p) = take(s, written) {
                *s = State::Done(Err(restore(m, &p, Stage::Reload, detail.clone()).await));
            }
        }
        let again = command(first.transport, reload, &scrub).await;
        return finish(with_reload_note(states, again));
    }
    // 5. Verify in parallel; restore the sites that are not served and reload again.
    let checks = join_all(members.iter().zip(&states).map(|(m, s)| async move {
        match s {
            State::Written(_) if m.provider.verifiable() => m.verify.until_served(m.site).await,
            _ => Ok(()),
        }
    }))
    .await;
    let mut restored_any = false;
    for ((m, s), check) in members.iter().zip(states.iter_mut()).zip(checks) {
        let Some(p) = take(s, written) else {
            continue;
        };
        *s = match check {
            Ok(()) => State::Done(Ok(outcome(&p, p.changed, m.provider.verifiable()))),
            Err(detail) => {
                restored_any = true;
                State::Done(Err(restore(m, &p, Stage::Verify, detail).await))
            }
        };
    }
    if restored_any {
        let mut again = Ok(());
        if let Some(test) = test {
            again = command(first.transport, test, &scrub).await;
        }
        if again.is_ok()
            && let Some(reload) = reload
        {
            again = command(first.transport, reload, &scrub).await;
        }
        return finish(with_reload_note(states, again));
    }
    finish(states)
}

/// Renders and backs up one member.
async fn prepare(m: &Member<'_>) -> State {
    let p = m.provider;
    let rendered = match p.render(m.site, m.secrets) {
        Ok(r) => r,
        Err(e) => return State::Done(Err(e)),
    };
    let backup = match p.read(m.site, m.transport).await {
        Ok(b) => b,
        Err(e) => return State::Done(Err(p.fail(Stage::Write, e))),
    };
    let built = p.view(m.site, backup.as_deref()).and_then(|view| {
        let current = backup.as_deref().map(|b| p.utf8(b)).transpose()?;
        let new = p.kind.splice(current, &rendered.full)?.into_bytes();
        Ok((view.text, new))
    });
    match built {
        Ok((before, new)) => State::Ready(Prepared {
            changed: backup.as_deref() != Some(new.as_slice()),
            backup,
            new,
            before,
            after: rendered.text,
        }),
        Err(e) => State::Done(Err(p.fail(Stage::Render, e))),
    }
}

/// Finds the written members whose files make the config test fail: all files are put back,
/// then halves are tested on their own until single sites remain. The good ones are written
/// again; the bad ones end failed with the test's own words about them.
async fn bisect(
    members: &[Member<'_>],
    states: &mut [State],
    test: &[String],
    scrub: &[&str],
    detail: String,
) {
    let transport = members[0].transport;
    let written: Vec<usize> = (0..states.len())
        .filter(|i| matches!(states[*i], State::Written(_)))
        .collect();
    for i in &written {
        put_back(&members[*i], &states[*i]).await;
    }
    // The server's config fails without these files too: the cause is elsewhere.
    if let Err(without) = command(transport, test, scrub).await {
        for i in written {
            let note = format!(
                "{detail} (the config test fails without this batch's files too: {without})"
            );
            if let Some(p) = take(&mut states[i], self::written) {
                states[i] = State::Done(Err(restored(&members[i], &p, Stage::Test, note)));
            }
        }
        return;
    }
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut queue = vec![written];
    while let Some(set) = queue.pop() {
        for i in &set {
            write_new(&members[*i], &states[*i]).await;
        }
        let result = command(transport, test, scrub).await;
        for i in &set {
            put_back(&members[*i], &states[*i]).await;
        }
        match result {
            Ok(()) => good.extend(set),
            Err(why) if set.len() == 1 => bad.push((set[0], why)),
            Err(_) => {
                let (a, b) = set.split_at(set.len() / 2);
                queue.push(a.to_vec());
                queue.push(b.to_vec());
            }
        }
    }
    for (i, why) in bad {
        if let Some(p) = take(&mut states[i], self::written) {
            states[i] = State::Done(Err(restored(&members[i], &p, Stage::Test, why)));
        }
    }
    for i in &good {
        write_new(&members[*i], &states[*i]).await;
    }
    // Sites that pass alone may still clash together (two files setting one directive).
    if let Err(why) = command(transport, test, scrub).await {
        for i in good {
            put_back(&members[i], &states[i]).await;
            let note = format!(
                "{why} (this site's file passes alone but not with the others of its server)"
            );
            if let Some(p) = take(&mut states[i], self::written) {
                states[i] = State::Done(Err(restored(&members[i], &p, Stage::Test, note)));
            }
        }
    }
}

/// Writes a member's new file again (bisection); errors surface when the test runs.
async fn write_new(m: &Member<'_>, s: &State) {
    if let State::Written(p) = s
        && p.changed
    {
        let _ = m.provider.write(m.site, m.transport, &p.new).await;
    }
}

/// Puts a member's previous file back (or removes the new one) during bisection.
async fn put_back(m: &Member<'_>, s: &State) {
    if let State::Written(p) = s
        && p.changed
    {
        let _ = match &p.backup {
            Some(old) => m.provider.write(m.site, m.transport, old).await,
            None => m.provider.remove(m.site, m.transport).await,
        };
    }
}

/// Restores a member's previous file after `stage` failed and builds its error.
async fn restore(m: &Member<'_>, p: &Prepared, stage: Stage, detail: String) -> ProviderError {
    if !p.changed {
        return m.provider.fail(stage, detail);
    }
    let path = m.provider.config_path();
    let done = match &p.backup {
        Some(old) => m.provider.write(m.site, m.transport, old).await,
        None => m.provider.remove(m.site, m.transport).await,
    };
    match done {
        Ok(()) => restored(m, p, stage, detail),
        Err(e) => ProviderError::RollbackFailed {
            site: m.provider.target.site.clone(),
            provider: m.provider.name(),
            stage,
            detail,
            path: path.to_path_buf(),
            rollback: e,
        },
    }
}

/// The error of a member whose file is the previous one again.
fn restored(m: &Member<'_>, p: &Prepared, stage: Stage, detail: String) -> ProviderError {
    ProviderError::Failed {
        site: m.provider.target.site.clone(),
        provider: m.provider.name(),
        stage,
        detail,
        restored: p.changed,
    }
}

fn outcome(p: &Prepared, changed: bool, verified: bool) -> ApplyOutcome {
    ApplyOutcome {
        changed,
        before: p.before.clone(),
        after: p.after.clone(),
        verified,
    }
}

/// Takes the prepared file out of a member in a state `which` accepts (the caller sets the
/// next state); `None` leaves the member as it is.
fn take(s: &mut State, which: fn(&State) -> bool) -> Option<Prepared> {
    if !which(s) {
        return None;
    }
    match std::mem::replace(s, State::Done(Ok(placeholder()))) {
        State::Ready(p) | State::Written(p) => Some(p),
        done => {
            *s = done;
            None
        }
    }
}

/// Members whose new file is in place.
fn written(s: &State) -> bool {
    matches!(s, State::Written(_))
}

fn placeholder() -> ApplyOutcome {
    ApplyOutcome {
        changed: false,
        before: None,
        after: String::new(),
        verified: false,
    }
}

/// After restoring files, the reload that puts the old config back failed too: every restored
/// member's error says a person must look.
fn with_reload_note(states: Vec<State>, again: Result<(), String>) -> Vec<State> {
    let Err(e) = again else {
        return states;
    };
    states
        .into_iter()
        .map(|s| match s {
            State::Done(Err(ProviderError::Failed {
                site,
                provider,
                stage,
                detail,
                restored: true,
            })) => State::Done(Err(ProviderError::RollbackFailed {
                site,
                provider,
                stage,
                detail,
                path: std::path::PathBuf::new(),
                rollback: format!("reload after restoring failed: {e}"),
            })),
            other => other,
        })
        .collect()
}

fn finish(states: Vec<State>) -> Vec<Result<ApplyOutcome, ProviderError>> {
    states
        .into_iter()
        .map(|s| match s {
            State::Done(r) => r,
            State::Ready(p) | State::Written(p) => Ok(outcome(&p, p.changed, false)),
        })
        .collect()
}
