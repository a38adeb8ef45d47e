//! `index.html`: the fleet at a glance — counts, the certificate-expiry timeline, the grade
//! distribution, and one table row per site that sorts by any column (a button in each header)
//! and filters by label (`env=prod`), with a small inline script of siteward's own.

use std::fmt::Write as _;

use super::page::{self, or_dash, state, when};
use super::{Fleet, SiteReport};
use crate::plan::{Health, SyncStatus};
use crate::policy::Grade;
use crate::report::escape::html;
use crate::report::svg::{self, ExpiryBar, GradeSeries};

/// Sorting and filtering of the fleet table. Sort keys are in each cell's `data-sort`; a
/// column whose header has `data-type="num"` sorts numerically; ties keep name order.
const SCRIPT: &str = r#"
(function () {
  var table = document.getElementById('fleet');
  var body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, i) {
    var button = th.querySelector('button');
    if (!button) { return; }
    button.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var num = th.getAttribute('data-type') === 'num';
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[i].getAttribute('data-sort'), y = b.cells[i].getAttribute('data-sort');
        var c = num ? parseFloat(x) - parseFloat(y) : (x < y ? -1 : x > y ? 1 : 0);
        if (!asc) { c = -c; }
        if (c === 0) {
          var p = a.cells[0].getAttribute('data-sort'), q = b.cells[0].getAttribute('data-sort');
          c = p < q ? -1 : p > q ? 1 : 0;
        }
        return c;
      });
      var fragment = document.createDocumentFragment();
      rows.forEach(function (r) { fragment.appendChild(r); });
      body.appendChild(fragment);
    });
  });
  var input = document.getElementById('label-filter');
  var shown = document.getElementById('shown');
  function filter() {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var n = 0;
    Array.prototype.forEach.call(body.rows, function (r) {
      var labels = Array.prototype.map.call(r.querySelectorAll('[data-label]'), function (l) {
        return l.getAttribute('data-label').toLowerCase();
      });
      var ok = words.every(function (w) {
        return labels.some(function (l) { return l.indexOf(w) !== -1; });
      });
      r.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n + ' of ' + body.rows.length + ' sites shown';
  }
  input.addEventListener('input', filter);
  filter();
})();
"#;

/// The overview page.
pub fn render(fleet: &Fleet) -> String {
    let mut body = String::new();
    summary(&mut body, fleet);
    charts(&mut body, fleet);
    table(&mut body, fleet);
    page::page("Fleet overview", &fleet.generated, "", &body, Some(SCRIPT))
}

fn summary(out: &mut String, fleet: &Fleet) {
    let count = |s: SyncStatus| fleet.sites.iter().filter(|x| x.plan.sync == s).count();
    let down = fleet
        .sites
        .iter()
        .filter(|x| x.plan.health == Health::Down)
        .count();
    let below = fleet.sites.iter().filter(|s| below_minimum(s)).count();
    let _ = writeln!(
        out,
        "<section aria-labelledby=\"summary-h\"><h2 id=\"summary-h\">Summary</h2>\
<p>{} sites: {} in sync, {} drifted, {} unknown; {down} down; {below} certificate{} below \
{} minimum days left. Desired state at commit {}.</p></section>",
        fleet.sites.len(),
        count(SyncStatus::InSync),
        count(SyncStatus::Drift),
        count(SyncStatus::Unknown),
        if below == 1 { "" } else { "s" },
        if below == 1 { "its" } else { "their" },
        or_dash(fleet.desired_commit.as_deref().map(short))
    );
}

fn charts(out: &mut String, fleet: &Fleet) {
    let bars: Vec<ExpiryBar> = fleet
        .sites
        .iter()
        .filter_map(|s| {
            Some(ExpiryBar {
                site: s.name.clone(),
                days_left: s.days_left?,
                min_days_left: s.min_days_left,
            })
        })
        .collect();
    let web = grade_counts(fleet, |s| s.check.grade);
    let tls = grade_counts(fleet, |s| s.check.tls_grade);
    let _ = writeln!(
        out,
        "<section aria-labelledby=\"charts-h\"><h2 id=\"charts-h\">Certificates and grades</h2>\
<div class=\"charts\"><figure>{}<figcaption>Days left on each site's certificate, soonest \
first (at most {}). Hatched bars, marked \u{201c}below minimum\u{201d}, are under the site's \
<code>min_days_left</code>; the dashed line marks that minimum.</figcaption></figure>\
<figure>{}<figcaption>Sites per grade: the web grade (solid) and the TLS grade (hatched); \
each bar carries its count. \u{201c}none\u{201d}: not graded (not observed).</figcaption>\
</figure></div></section>",
        svg::expiry_timeline("expiry", &bars),
        svg::MAX_EXPIRY_BARS,
        svg::grade_distribution(
            "grades",
            &[
                GradeSeries {
                    label: "web".into(),
                    counts: web
                },
                GradeSeries {
                    label: "TLS".into(),
                    counts: tls
                },
            ]
        )
    );
}

/// Sites per grade, best first, then the TLS-only grades T and M (so that both series line
/// up), then `none`.
fn grade_counts(fleet: &Fleet, of: impl Fn(&SiteReport) -> Option<Grade>) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Grade::ALL
        .iter()
        .chain(&[Grade::T, Grade::M])
        .map(|g| {
            let n = fleet.sites.iter().filter(|s| of(s) == Some(*g)).count();
            (g.as_str().to_owned(), n)
        })
        .collect();
    let none = fleet.sites.iter().filter(|s| of(s).is_none()).count();
    counts.push(("none".to_owned(), none));
    counts
}

/// Columns: header text and whether the column sorts numerically.
const COLUMNS: [(&str, bool); 11] = [
    ("Site", false),
    ("Owner", false),
    ("Sync", false),
    ("Health", false),
    ("Drift (changes)", true),
    ("Web grade", true),
    ("TLS grade", true),
    ("Days left", true),
    ("Last change", false),
    ("Last run", false),
    ("Labels", false),
];

fn table(out: &mut String, fleet: &Fleet) {
    out.push_str(
        "<section aria-labelledby=\"sites-h\"><h2 id=\"sites-h\">Sites</h2>\
<div class=\"filters\"><label for=\"label-filter\">Filter by label</label>\
<input id=\"label-filter\" type=\"search\" placeholder=\"env=prod team=shop\" \
aria-describedby=\"filter-help\"><span id=\"filter-help\" class=\"muted\">space-separated; \
every word must match part of a label</span><output id=\"shown\" aria-live=\"polite\"></output>\
</div>\n<table id=\"fleet\"><caption class=\"muted\">Select a column header to sort; select \
it again to reverse.</caption>\n<thead><tr>",
    );
    for (name, numeric) in COLUMNS {
        let _ = write!(
            out,
            "<th scope=\"col\"{}><button type=\"button\">{name}</button></th>",
            if numeric {
                " data-type=\"num\" class=\"num\""
            } else {
                ""
            }
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for s in &fleet.sites {
        row(out, s);
    }
    out.push_str("</tbody></table></section>\n");
}

fn row(out: &mut String, s: &SiteReport) {
    let name = html(&s.name);
    let sync = s.plan.sync.as_str();
    let health = s.plan.health.as_str();
    let (days_sort, days_text) = match s.days_left {
        Some(d) if below_minimum(s) => (
            d.to_string(),
            format!(
                "<span class=\"below\">{d} (below {})</span>",
                s.min_days_left
            ),
        ),
        Some(d) => (d.to_string(), d.to_string()),
        None => (NONE.to_string(), "\u{2014}".to_owned()),
    };
    let labels: String = s
        .labels
        .iter()
        .map(|(k, v)| {
            let l = html(&format!("{k}={v}"));
            format!("<span class=\"label\" data-label=\"{l}\">{l}</span>")
        })
        .collect();
    let labels_sort: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let last_change = s.history.last_change.as_deref();
    let last_run = s.history.last_run();
    let _ = writeln!(
        out,
        "<tr><th scope=\"row\" data-sort=\"{name}\"><a href=\"sites/{}\">{name}</a></th>\
<td data-sort=\"{}\">{}</td><td data-sort=\"{sync}\">{}</td><td data-sort=\"{health}\">{}</td>\
<td class=\"num\" data-sort=\"{}\">{}</td><td class=\"num\" data-sort=\"{}\">{}</td>\
<td class=\"num\" data-sort=\"{}\">{}</td><td class=\"num\" data-sort=\"{days_sort}\">{days_text}</td>\
<td data-sort=\"{}\">{}</td><td data-sort=\"{}\">{}</td><td data-sort=\"{}\">{labels}</td></tr>",
        html(&page::site_file(&s.name)),
        html(s.owner.as_deref().unwrap_or_default()),
        or_dash(s.owner.as_deref()),
        state(sync),
        state(health),
        s.plan.changes.len(),
        s.plan.changes.len(),
        grade_rank(s.check.grade),
        grade_text(s.check.grade, s.check.score),
        grade_rank(s.check.tls_grade),
        or_dash(s.check.tls_grade.map(Grade::as_str)),
        html(last_change.unwrap_or_default()),
        when(last_change),
        html(last_run.unwrap_or_default()),
        when(last_run),
        html(&labels_sort.join(" ")),
    );
}

/// The sort key of "no value" in a numeric column: after every real value.
const NONE: i64 = 999_999;

/// Best grade first: A+ is 0, F is 12, T and M after it, none last.
fn grade_rank(g: Option<Grade>) -> i64 {
    match g {
        Some(Grade::T) => 13,
        Some(Grade::M) => 14,
        Some(g) => Grade::ALL
            .iter()
            .position(|x| *x == g)
            .map_or(NONE, |i| i as i64),
        None => NONE,
    }
}

fn grade_text(g: Option<Grade>, score: Option<u16>) -> String {
    match (g, score) {
        (Some(g), Some(s)) => format!("{} <span class=\"muted\">({s})</span>", g.as_str()),
        (Some(g), None) => g.as_str().to_owned(),
        (None, _) => "\u{2014}".to_owned(),
    }
}

/// Whether the site's served certificate has fewer days left than it asks for.
fn below_minimum(s: &SiteReport) -> bool {
    s.days_left.is_some_and(|d| d < i64::from(s.min_days_left))
}

/// The first 12 characters of a commit id.
pub(super) fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}
