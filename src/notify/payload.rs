//! One payload per target, in its format. Every value that comes from a server or from YAML (site
//! names, error texts, action messages) is escaped for the format it lands in
//! ([`crate::report::escape`]): Slack's `mrkdwn` (`&<>`), Markdown for Teams and Mattermost.
//!
//! - `json`: `{"version": 1, "run": {"id", "command"}, "events": [{"site", "event", "from",
//!   "to", "details"}]}` (plain JSON values; the receiver escapes for its own output);
//! - `slack`: `text` (the fallback line) and `blocks` (a header, then a `mrkdwn` section per
//!   event, at most [`SLACK_EVENT_BLOCKS`], then a line saying how many more);
//! - `teams`: an Adaptive Card in the incoming-webhook envelope (`{"type": "message",
//!   "attachments": [...]}`) with a `FactSet`, one fact per event;
//! - `mattermost`: `text`, a Markdown heading and table.

use serde_json::{Value, json};

use super::Event;
use crate::audit::RunMeta;
use crate::report::escape;
use crate::spec::values::NotifyFormat;

/// Version of the `json` payload.
pub const PAYLOAD_VERSION: u32 = 1;

/// Most event sections in a Slack message (Slack takes at most 50 blocks).
pub const SLACK_EVENT_BLOCKS: usize = 45;

/// The body POSTed to a target of `format` about `events` of run `run`.
pub fn render(format: NotifyFormat, run: &RunMeta, events: &[&Event]) -> Vec<u8> {
    let value = match format {
        NotifyFormat::Json => json_payload(run, events),
        NotifyFormat::Slack => slack(run, events),
        NotifyFormat::Teams => teams(run, events),
        NotifyFormat::Mattermost => mattermost(run, events),
    };
    serde_json::to_vec(&value).expect("a JSON value always serialises")
}

fn json_payload(run: &RunMeta, events: &[&Event]) -> Value {
    json!({
        "version": PAYLOAD_VERSION,
        "run": {"id": run.id, "command": run.command.as_str()},
        "events": events,
    })
}

/// The title line: what ran, and how many events.
fn title(run: &RunMeta, events: &[&Event]) -> String {
    format!(
        "siteward {} run {}: {} event(s)",
        run.command.as_str(),
        run.id,
        events.len()
    )
}

/// `from → to`, or just `to`, or nothing.
fn states(e: &Event) -> String {
    match (&e.from, &e.to) {
        (Some(f), Some(t)) => format!("{f} → {t}"),
        (None, Some(t)) => t.clone(),
        (Some(f), None) => format!("{f} →"),
        (None, None) => String::new(),
    }
}

fn slack(run: &RunMeta, events: &[&Event]) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": escape::text(&title(run, events))},
    })];
    for e in events.iter().take(SLACK_EVENT_BLOCKS) {
        let text = format!(
            "*{}* `{}` {}\n{}",
            e.event.as_str(),
            escape::slack(&e.site),
            escape::slack(&states(e)),
            escape::slack(&e.details)
        );
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    if events.len() > SLACK_EVENT_BLOCKS {
        let more = format!(
            "… and {} more event(s): see the run record",
            events.len() - SLACK_EVENT_BLOCKS
        );
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]}));
    }
    json!({"text": escape::slack(&title(run, events)), "blocks": blocks})
}

fn teams(run: &RunMeta, events: &[&Event]) -> Value {
    let facts: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "title": escape::markdown(&format!("{} {}", e.site, e.event.as_str())),
                "value": escape::markdown(&match states(e).as_str() {
                    "" => e.details.clone(),
                    states => format!("{states}: {}", e.details),
                }),
            })
        })
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": true,
                     "text": escape::markdown(&title(run, events))},
                    {"type": "FactSet", "facts": facts},
                ],
            },
        }],
    })
}

fn mattermost(run: &RunMeta, events: &[&Event]) -> Value {
    let mut text = format!(
        "#### {}\n\n| site | event | state | details |\n| --- | --- | --- | --- |\n",
        escape::markdown(&title(run, events))
    );
    for e in events {
        text.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            escape::markdown(&e.site),
            escape::markdown(e.event.as_str()),
            escape::markdown(&states(e)),
            escape::markdown(&e.details)
        ));
    }
    json!({"text": text})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{RunCommand, Trigger};
    use crate::notify::events::{Facts, detect};
    use crate::plan::{Health, SyncStatus};

    fn run() -> RunMeta {
        RunMeta {
            id: "20261130T200000Z-0000abcd".into(),
            command: RunCommand::Reconcile,
            trigger: Trigger::default(),
            started: "2026-11-30T20:00:00Z".into(),
            finished: "2026-11-30T20:00:05Z".into(),
            siteward_version: "0".into(),
            desired_commit: None,
            windows_overridden: None,
        }
    }

    /// An apply failure whose message carries markup a server could send.
    fn hostile() -> Vec<Event> {
        let base = Facts {
            sync: Some(SyncStatus::InSync),
            health: Some(Health::Healthy),
            ..Facts::default()
        };
        let now = Facts {
            failed: Some("<!channel> *boom* [x](http://evil) & | `tick`".into()),
            ..base.clone()
        };
        detect("a.example", Some(&base), &now)
    }

    fn parsed(format: NotifyFormat, events: &[Event]) -> Value {
        let refs: Vec<&Event> = events.iter().collect();
        serde_json::from_slice(&render(format, &run(), &refs)).unwrap()
    }

    #[test]
    fn json_payload_shape() {
        let v = parsed(NotifyFormat::Json, &hostile());
        assert_eq!(v["version"], 1);
        assert_eq!(v["run"]["id"], "20261130T200000Z-0000abcd");
        assert_eq!(v["run"]["command"], "reconcile");
        let e = &v["events"][0];
        assert_eq!(e["site"], "a.example");
        assert_eq!(e["event"], "apply_failed");
        assert_eq!(e["from"], Value::Null);
        assert_eq!(e["to"], "failed");
        assert_eq!(
            e["details"],
            "<!channel> *boom* [x](http://evil) & | `tick`"
        );
    }

    #[test]
    fn slack_escapes_mentions_and_links() {
        let v = parsed(NotifyFormat::Slack, &hostile());
        assert!(v["text"].as_str().unwrap().contains("1 event(s)"));
        let section = v["blocks"][1]["text"]["text"].as_str().unwrap();
        assert_eq!(v["blocks"][1]["text"]["type"], "mrkdwn");
        assert!(
            section.contains("&lt;!channel&gt;") && section.contains("&amp;"),
            "{section}"
        );
        assert!(!section.contains("<!channel>"), "{section}");
    }

    #[test]
    fn slack_stays_within_fifty_blocks() {
        let many: Vec<Event> = (0..60).flat_map(|_| hostile()).collect();
        let v = parsed(NotifyFormat::Slack, &many);
        let blocks = v["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 1 + SLACK_EVENT_BLOCKS + 1);
        assert!(blocks.last().unwrap().to_string().contains("15 more"));
    }

    #[test]
    fn teams_is_an_adaptive_card_with_escaped_markdown() {
        let v = parsed(NotifyFormat::Teams, &hostile());
        assert_eq!(v["type"], "message");
        let a = &v["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(a["content"]["type"], "AdaptiveCard");
        let fact = &a["content"]["body"][1]["facts"][0];
        assert_eq!(fact["title"], "a.example apply\\_failed");
        let value = fact["value"].as_str().unwrap();
        assert!(
            value.contains("\\*boom\\*") && value.contains("\\[x\\]"),
            "{value}"
        );
        assert!(value.contains("&lt;\\!channel&gt;"), "{value}");
    }

    #[test]
    fn mattermost_is_a_markdown_table_whose_cells_cannot_break_out() {
        let v = parsed(NotifyFormat::Mattermost, &hostile());
        let text = v["text"].as_str().unwrap();
        assert!(text.starts_with("#### siteward reconcile run"), "{text}");
        let row = text.lines().last().unwrap();
        assert!(
            row.starts_with("| a.example | apply\\_failed | failed |"),
            "{row}"
        );
        assert_eq!(
            row.matches(" | ").count(),
            3,
            "the `|` in the message is escaped: {row}"
        );
        assert!(row.contains("\\`tick\\`"), "{row}");
    }
}
