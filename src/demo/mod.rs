//! `siteward demo`: the whole loop on an embedded sandbox, with no network and no setup.
//!
//! 1. make a state repo (git) with three sites and a baseline policy, and a web root per site
//!    whose `_headers` file has drifted from the desired state;
//! 2. serve the web roots over HTTPS on 127.0.0.1 with a certificate from an in-memory CA;
//! 3. run the same commands a user would type — `plan`, `reconcile`, `plan`, `check`, `log` —
//!    and print what each shows;
//! 4. remove everything, unless `--keep DIR`.

pub mod server;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Parser;

use crate::cli::Cli;
use crate::exit::Exit;
use crate::git::{Identity, Repo};
use crate::pki::{Ca, Validity};

/// The demo's sites: name, `sync` mode, and the headers their `_headers` block has at the start
/// (as if someone had edited siteward's block by hand since the last run).
const SITES: [(&str, &str, &str); 3] = [
    (
        "blog.demo.test",
        "auto",
        "  X-Frame-Options: SAMEORIGIN\n  X-Powered-By: PHP/7.4.3\n",
    ),
    (
        "docs.demo.test",
        "auto",
        "  X-Content-Type-Options: nosniff\n",
    ),
    (
        "shop.demo.test",
        "propose",
        "  Referrer-Policy: unsafe-url\n",
    ),
];

const POLICY: &str = "name: baseline
description: Security headers every demo site must send.
defaults:
  headers:
    Strict-Transport-Security: \"max-age=31536000; includeSubDomains\"
    X-Content-Type-Options: nosniff
    X-Frame-Options: DENY
    Referrer-Policy: strict-origin-when-cross-origin
    Content-Security-Policy: \"default-src 'self'; frame-ancestors 'none'\"
    Permissions-Policy: \"camera=(), microphone=(), geolocation=()\"
    X-Powered-By: absent
rules:
  - id: hsts-one-year
    severity: high
    hsts_min_max_age: 31536000
";

/// Runs the demo; `keep` keeps the sandbox in that directory.
pub fn run(keep: Option<&Path>) -> anyhow::Result<Exit> {
    let started = std::time::Instant::now();
    let temp;
    let root: PathBuf = match keep {
        Some(dir) => {
            if dir.exists()
                && std::fs::read_dir(dir)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(true)
            {
                bail!(
                    "`--keep {}`: the directory must be empty or not exist yet",
                    dir.display()
                );
            }
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create `{}`", dir.display()))?;
            dir.canonicalize()?
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("siteward-demo-")
                .tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let ca = Ca::new("siteward demo CA")?;
    let hosts: Vec<&str> = SITES.iter().map(|(h, _, _)| *h).collect();
    let cert = ca.leaf(&hosts, Validity::days(90))?;
    let mut roots = BTreeMap::new();
    for (host, _, live) in SITES {
        let web = root.join("live").join(host);
        std::fs::create_dir_all(&web)?;
        std::fs::write(web.join("index.html"), format!("<h1>{host}</h1>\n"))?;
        let assets = "/assets/*\n  Cache-Control: public, max-age=31536000, immutable\n\n";
        std::fs::write(
            web.join("_headers"),
            format!("{assets}# siteward:begin\n/*\n{live}# siteward:end\n"),
        )?;
        roots.insert(host.to_owned(), web);
    }
    // The server runs on its own thread and runtime; the commands below make their own.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let s = server::start(&cert, roots).await?;
            let _ = addr_tx.send(s.addr);
            let _ = stop_rx.await;
            Ok(())
        })
    });
    let addr = addr_rx
        .recv()
        .context("the demo web server did not start")?;
    let state = root.join("state");
    write_state(&state, &root, &ca.cert_pem, addr.port())?;
    let author: Identity = "siteward demo <demo@siteward.invalid>"
        .parse()
        .map_err(anyhow::Error::msg)?;
    Repo::init_with_commit(&state, &author, "demo: three sites and a baseline policy")?;

    println!(
        "siteward demo: three sites served over HTTPS on {addr} (certificate from an in-memory CA)"
    );
    println!("state repo: {}\n", state.display());
    let outcome = (|| -> anyhow::Result<bool> {
        step(
            "1. what differs between the live sites and the desired state",
            &state,
            &["plan"],
        )?;
        step(
            "2. the scheduled run: apply `sync: auto` sites, propose for `sync: propose`, record",
            &state,
            &["reconcile", "--trigger", "demo"],
        )?;
        let last = step(
            "3. plan again: the auto sites are in sync; the shop waits for its owner",
            &state,
            &["plan"],
        )?;
        step(
            "4. compliance: the baseline's rules and the built-in grader",
            &state,
            &["check"],
        )?;
        step(
            "5. the audit log: `siteward log`, or plain `git log siteward-audit`",
            &state,
            &["log", "--diff"],
        )?;
        let repo = Repo::open(&state)?;
        if let Some(tip) = repo.read_ref("refs/heads/siteward-audit")? {
            println!(
                "$ git log -1 siteward-audit\n\ncommit {tip}\n\n{}",
                repo.commit_info(tip)?.message
            );
        }
        // Exactly one change request: the shop's (the auto sites were applied).
        let mut proposed = Vec::new();
        for (host, _, _) in SITES {
            if repo
                .read_ref(&format!("refs/heads/siteward-proposals/{host}"))?
                .is_some()
            {
                proposed.push(host);
            }
        }
        println!(
            "== 6. the change request for the shop ==\n$ git show siteward-proposals/shop.demo.test:PROPOSAL.md\n"
        );
        if let Some(tip) = repo.read_ref("refs/heads/siteward-proposals/shop.demo.test")? {
            let md = repo.read_file_at(tip, "PROPOSAL.md")?.unwrap_or_default();
            println!("{}", String::from_utf8_lossy(&md));
        }
        Ok(last == Exit::Drift && proposed == ["shop.demo.test"])
    })();
    let _ = stop_tx.send(());
    let _ = server.join();
    let ok = outcome?;
    println!("demo finished in {:.1} s", started.elapsed().as_secs_f64());
    match keep {
        Some(dir) => println!(
            "kept the sandbox in {}; its HTTPS servers stopped with the demo, so `plan` there \
             now reports every site unknown — what still works offline: \
             `siteward --repo {state} validate`, `siteward --repo {state} log`, \
             `git -C {state} log siteward-audit` and \
             `git -C {state} show siteward-proposals/shop.demo.test:PROPOSAL.md`",
            dir.display(),
            state = state.display()
        ),
        None => println!("sandbox removed (keep it with `siteward demo --keep DIR`)"),
    }
    if !ok {
        bail!(
            "the demo did not end as expected: the auto sites should be in sync and the shop proposed"
        );
    }
    Ok(Exit::Ok)
}

/// Runs `siteward --repo STATE ARGS` through the same code path as the command line.
fn step(title: &str, state: &Path, args: &[&str]) -> anyhow::Result<Exit> {
    println!("== {title} ==\n$ siteward {}\n", args.join(" "));
    let repo = state.display().to_string();
    let argv = ["siteward", "--repo", repo.as_str()]
        .into_iter()
        .chain(args.iter().copied());
    let cli = Cli::try_parse_from(argv)?;
    let exit = crate::cmd::run(cli)?;
    println!("(exit {})\n", exit.code());
    Ok(exit)
}

/// The demo state repo: a baseline policy and one file per site, managed through its
/// `_headers` file and observed through the embedded server.
fn write_state(state: &Path, root: &Path, ca_pem: &str, port: u16) -> anyhow::Result<()> {
    std::fs::create_dir_all(state.join("sites"))?;
    std::fs::create_dir_all(state.join("policies"))?;
    std::fs::write(state.join("policies/baseline.yaml"), POLICY)?;
    std::fs::write(state.join("demo-ca.pem"), ca_pem)?;
    for (host, sync, _) in SITES {
        let owner = if sync == "propose" {
            "owner: shop-team@demo.test\n"
        } else {
            ""
        };
        let yaml = format!(
            "name: {host}\nurl: https://{host}/\n{owner}policies: [baseline]\nsync: {sync}\nconnect: 127.0.0.1:{port}\nca: demo-ca.pem\n\
             manage:\n  server:\n    provider: headers-file\n    config: {}\n",
            root.join("live").join(host).join("_headers").display()
        );
        std::fs::write(state.join("sites").join(format!("{host}.yaml")), yaml)?;
    }
    Ok(())
}
