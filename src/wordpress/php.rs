//! `via: php` (the default): small PHP scripts shipped inside siteward, run with the site's own
//! `php` CLI through the site's transport (locally or over SSH), as `user` when one is set
//! (`sudo -n -u USER --`). They bootstrap WordPress from `wp-load.php` without running plugin
//! or theme code and answer one JSON document between markers, so whatever WordPress or PHP
//! prints around it does not matter. Arguments travel as argv words (quoted by the SSH
//! transport), never through a shell of ours.

use std::path::PathBuf;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::WordpressError;
use super::inventory::Inventory;
use super::steps::Step;
use crate::transport::Transport;

const BOOT: &str = include_str!("php/boot.php");
const INVENTORY: &str = include_str!("php/inventory.php");
const APPLY: &str = include_str!("php/apply.php");
const CORE_RESTORE: &str = include_str!("php/core_restore.php");
const FILES: &str = include_str!("php/files.php");

const BEGIN: &str = "--siteward-json-begin--\n";
const END: &str = "\n--siteward-json-end--";

/// The PHP way in to one WordPress installation.
#[derive(Debug, Clone)]
pub struct Php {
    pub transport: Transport,
    /// The WordPress root (where `wp-load.php` is) on the target.
    pub root: PathBuf,
    /// The PHP CLI binary (`php` by default).
    pub php: String,
    /// Run the scripts as this user (`sudo -n -u USER --`).
    pub user: Option<String>,
}

/// What the apply script says it did.
#[derive(Debug, Deserialize)]
struct Applied {
    /// How many steps succeeded, in order.
    done: usize,
    error: Option<String>,
}

impl Php {
    /// What WordPress says is installed.
    pub async fn inventory(&self) -> Result<Inventory, WordpressError> {
        let (answer, _) = self
            .call::<Inventory>("inventory", INVENTORY, &serde_json::json!({}))
            .await?;
        answer.ok_or_else(|| WordpressError::Script {
            script: "inventory",
            place: self.transport.place(),
            detail: "it answered nothing".to_owned(),
        })
    }

    /// Carries out `steps` in order; an error names the step that failed (earlier ones were
    /// done).
    pub async fn apply(&self, steps: &[Step]) -> Result<(), WordpressError> {
        if steps.is_empty() {
            return Ok(());
        }
        let args = serde_json::json!({ "steps": steps });
        let script = format!("{}\n{}", body(FILES), body(APPLY));
        let (answer, out) = self.call::<Applied>("apply", &script, &args).await?;
        match answer {
            Some(Applied { error: None, .. }) if out.success() => Ok(()),
            Some(Applied { done, error }) => Err(WordpressError::Step {
                step: steps.get(done).map_or_else(String::new, Step::describe),
                detail: error.unwrap_or_else(|| out.message()),
            }),
            // It died without answering (a fatal error in a plugin it activated, say).
            None => Err(WordpressError::Script {
                script: "apply",
                place: self.transport.place(),
                detail: bounded(&out.message()),
            }),
        }
    }

    /// Puts back the core files a `core` step moved aside into `backup`, without booting
    /// WordPress (the new core may not boot).
    pub async fn restore_core(&self, backup: &str) -> Result<(), WordpressError> {
        let code = format!("{}\n{}", body(FILES), body(CORE_RESTORE));
        let argv = self.argv_code(&code, &serde_json::json!({ "backup": backup }))?;
        let out = self.transport.run(&argv).await?;
        let said = answer(&String::from_utf8_lossy(&out.stdout))
            .and_then(|json| serde_json::from_str::<Applied>(json).ok());
        match said {
            Some(Applied { error: None, .. }) if out.success() => Ok(()),
            said => Err(WordpressError::Script {
                script: "core_restore",
                place: self.transport.place(),
                detail: said
                    .and_then(|a| a.error)
                    .unwrap_or_else(|| bounded(&out.message())),
            }),
        }
    }

    /// Runs `script` with `args`; its answer (if it gave one) and the raw output.
    async fn call<T: DeserializeOwned>(
        &self,
        name: &'static str,
        script: &str,
        args: &serde_json::Value,
    ) -> Result<(Option<T>, crate::transport::Output), WordpressError> {
        let out = self.transport.run(&self.argv(script, args)?).await?;
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(json) = answer(&text) else {
            if out.success() {
                return Ok((None, out));
            }
            return Err(WordpressError::Script {
                script: name,
                place: self.transport.place(),
                detail: bounded(&out.message()),
            });
        };
        let parsed = serde_json::from_str(json).map_err(|e| WordpressError::Script {
            script: name,
            place: self.transport.place(),
            detail: format!("its answer is not what siteward expects: {e}"),
        })?;
        Ok((Some(parsed), out))
    }

    /// `script` after the shared prelude that boots WordPress.
    fn argv(&self, script: &str, args: &serde_json::Value) -> Result<Vec<String>, WordpressError> {
        self.argv_code(&format!("{}\n{}", body(BOOT), body(script)), args)
    }

    /// `php -r CODE -- ROOT ARGS`, as `user` when one is set.
    fn argv_code(
        &self,
        code: &str,
        args: &serde_json::Value,
    ) -> Result<Vec<String>, WordpressError> {
        let root = self
            .root
            .to_str()
            .ok_or_else(|| WordpressError::Config("`path` is not valid UTF-8".to_owned()))?;
        let mut argv = Vec::new();
        if let Some(user) = &self.user {
            argv.extend(["sudo", "-n", "-u", user, "--"].map(str::to_owned));
        }
        argv.extend([
            self.php.clone(),
            "-r".to_owned(),
            code.to_owned(),
            "--".to_owned(),
            root.to_owned(),
            args.to_string(),
        ]);
        Ok(argv)
    }
}

/// A script without its `<?php` opening line (`php -r` takes bare code).
fn body(script: &str) -> &str {
    script.strip_prefix("<?php\n").unwrap_or(script)
}

/// The JSON between the last pair of markers in `stdout`.
fn answer(stdout: &str) -> Option<&str> {
    let start = stdout.rfind(BEGIN)? + BEGIN.len();
    let len = stdout[start..].find(END)?;
    Some(&stdout[start..start + len])
}

/// At most 2,000 characters of a script's own words (a PHP stack trace can be long).
fn bounded(text: &str) -> String {
    match text.char_indices().nth(2000) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_found_among_noise() {
        let out = "Deprecated: something\n\n--siteward-json-begin--\n{\"a\":1}\n--siteward-json-end--\nsendmail: not found\n";
        assert_eq!(answer(out), Some("{\"a\":1}"));
        assert_eq!(answer("Fatal error: boom"), None);
        assert!(!body(BOOT).starts_with("<?php"));
    }

    #[test]
    fn user_and_arguments_are_argv_words() {
        let php = Php {
            transport: Transport::Local(crate::transport::Local::new(Default::default())),
            root: PathBuf::from("/srv/wp; rm -rf /"),
            php: "php8.2".into(),
            user: Some("www-data".into()),
        };
        let argv = php.argv(INVENTORY, &serde_json::json!({})).unwrap();
        assert_eq!(&argv[..6], ["sudo", "-n", "-u", "www-data", "--", "php8.2"]);
        assert_eq!(argv[6], "-r");
        assert_eq!(argv[8..], ["--", "/srv/wp; rm -rf /", "{}"]);
    }
}
