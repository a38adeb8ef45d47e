//! The charts of the HTML fleet report as inline SVG, drawn by siteward: no script, no font and
//! nothing from the network. Every chart is an image with a text alternative (`role="img"`, a
//! `<title>` and a `<desc>` that says what the chart shows in words), and it reads without
//! colour: a highlighted bar also has a hatch pattern and a text label, and every bar carries
//! its number. Every label is HTML-escaped here.

use std::fmt::Write as _;

use super::escape::html;

/// One bar of the certificate-expiry timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryBar {
    pub site: String,
    /// Whole days until the served certificate expires (negative once expired).
    pub days_left: i64,
    /// The site's renewal threshold (`certificate.min_days_left`).
    pub min_days_left: u32,
}

impl ExpiryBar {
    /// Whether the certificate has fewer days left than the site asks for.
    pub fn below_minimum(&self) -> bool {
        self.days_left < i64::from(self.min_days_left)
    }
}

/// Bars shown at most; the rest are counted in the text alternative and the table.
pub const MAX_EXPIRY_BARS: usize = 40;

const ROW: usize = 22;
const LABEL_W: usize = 260;
const PLOT_W: usize = 420;
const TAIL_W: usize = 170;

/// The hatch patterns the charts refer to, defined once per chart (ids are per chart, so two
/// charts on one page never clash).
fn patterns(id: &str) -> String {
    format!(
        "<defs><pattern id=\"{id}-hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" \
patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" class=\"hatch-bg\"/>\
<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" class=\"hatch-line\"/></pattern>\
<pattern id=\"{id}-dots\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\">\
<rect width=\"5\" height=\"5\" class=\"dots-bg\"/><circle cx=\"2.5\" cy=\"2.5\" r=\"1.2\" class=\"dots-dot\"/>\
</pattern></defs>"
    )
}

/// The opening tag and text alternative of a chart of `width` × `height`.
fn open(out: &mut String, id: &str, width: usize, height: usize, title: &str, desc: &str) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" role=\"img\" id=\"{id}\" \
viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" \
aria-labelledby=\"{id}-title {id}-desc\"><title id=\"{id}-title\">{}</title>\
<desc id=\"{id}-desc\">{}</desc>{}",
        html(title),
        html(desc),
        patterns(id)
    );
}

/// Days left per site as horizontal bars, soonest first, at most [`MAX_EXPIRY_BARS`]; a site
/// under its `min_days_left` is drawn hatched, with `below minimum` written beside it, and its
/// minimum is marked on its bar. `bars` may be in any order.
pub fn expiry_timeline(id: &str, bars: &[ExpiryBar]) -> String {
    let mut sorted: Vec<&ExpiryBar> = bars.iter().collect();
    sorted.sort_by(|a, b| {
        (!a.below_minimum(), a.days_left, &a.site).cmp(&(!b.below_minimum(), b.days_left, &b.site))
    });
    let below = sorted.iter().filter(|b| b.below_minimum()).count();
    let shown = &sorted[..sorted.len().min(MAX_EXPIRY_BARS)];
    let scale_days = shown
        .iter()
        .map(|b| b.days_left.max(i64::from(b.min_days_left)))
        .max()
        .unwrap_or(1)
        .max(1);
    let mut desc = format!(
        "{} certificate{} observed; {below} below {} minimum days left.",
        bars.len(),
        plural(bars.len()),
        if below == 1 { "its" } else { "their" }
    );
    for b in shown {
        let _ = write!(
            desc,
            " {}: {} days left{}.",
            b.site,
            b.days_left,
            if b.below_minimum() {
                format!(", below the minimum of {}", b.min_days_left)
            } else {
                String::new()
            }
        );
    }
    if sorted.len() > shown.len() {
        let _ = write!(
            desc,
            " {} more sites with more days left are in the table.",
            sorted.len() - shown.len()
        );
    }
    let height = 30 + ROW * shown.len().max(1) + 10;
    let width = LABEL_W + PLOT_W + TAIL_W;
    let mut out = String::new();
    open(
        &mut out,
        id,
        width,
        height,
        "Certificate expiry: days left per site",
        &desc,
    );
    let _ = write!(
        out,
        "<text x=\"{LABEL_W}\" y=\"16\" class=\"axis\">0 days</text>\
<text x=\"{}\" y=\"16\" class=\"axis\" text-anchor=\"end\">{scale_days} days</text>",
        LABEL_W + PLOT_W
    );
    if shown.is_empty() {
        let _ = write!(
            out,
            "<text x=\"{LABEL_W}\" y=\"46\">no certificate observed</text>"
        );
    }
    for (i, b) in shown.iter().enumerate() {
        let y = 30 + ROW * i;
        let len = scaled(b.days_left.max(0), scale_days, PLOT_W);
        let (class, fill) = if b.below_minimum() {
            ("bar below", format!("url(#{id}-hatch)"))
        } else {
            ("bar", String::from("currentColor"))
        };
        let min_x = LABEL_W + scaled(i64::from(b.min_days_left), scale_days, PLOT_W);
        let note = if b.below_minimum() {
            " \u{2014} below minimum"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<g class=\"{class}\"><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
<rect x=\"{LABEL_W}\" y=\"{}\" width=\"{len}\" height=\"{}\" fill=\"{fill}\"/>\
<line x1=\"{min_x}\" y1=\"{}\" x2=\"{min_x}\" y2=\"{}\" class=\"minimum\"/>\
<text x=\"{}\" y=\"{}\">{} d{note}</text></g>",
            LABEL_W - 6,
            y + 14,
            html(&b.site),
            y + 3,
            ROW - 6,
            y,
            y + ROW,
            LABEL_W + len + 6,
            y + 14,
            b.days_left,
        );
    }
    out.push_str("</svg>");
    out
}

/// One group of grade counts: a label (`web`, `TLS`) and `(grade, sites)` in display order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradeSeries {
    pub label: String,
    pub counts: Vec<(String, usize)>,
}

/// Grade counts as vertical bars, one cluster per grade and one bar per series (the first solid,
/// the second hatched, the third dotted), each bar with its count above it and a legend that
/// names the series by pattern as well as colour.
pub fn grade_distribution(id: &str, series: &[GradeSeries]) -> String {
    const BAR: usize = 16;
    const PLOT_H: usize = 160;
    const TOP: usize = 40;
    let grades: Vec<&str> = series
        .first()
        .map(|s| s.counts.iter().map(|(g, _)| g.as_str()).collect())
        .unwrap_or_default();
    let most = series
        .iter()
        .flat_map(|s| s.counts.iter().map(|(_, n)| *n))
        .max()
        .unwrap_or(0)
        .max(1);
    let group_w = BAR * series.len().max(1) + 14;
    let width = (40 + group_w * grades.len()).max(320);
    let height = TOP + PLOT_H + 40;
    let mut desc = String::new();
    for s in series {
        let listed: Vec<String> = s
            .counts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(g, n)| format!("{g}: {n}"))
            .collect();
        let _ = write!(
            desc,
            "{} grade: {}. ",
            s.label,
            if listed.is_empty() {
                "no site graded".to_owned()
            } else {
                listed.join(", ")
            }
        );
    }
    let mut out = String::new();
    open(
        &mut out,
        id,
        width,
        height,
        "Grade distribution: sites per grade",
        desc.trim_end(),
    );
    let fills = [
        String::from("currentColor"),
        format!("url(#{id}-hatch)"),
        format!("url(#{id}-dots)"),
    ];
    // Legend: a swatch in the series' pattern and its name.
    let mut x = 40;
    for (k, s) in series.iter().enumerate() {
        let _ = write!(
            out,
            "<g class=\"series s{k}\"><rect x=\"{x}\" y=\"8\" width=\"14\" height=\"14\" fill=\"{}\"/>\
<text x=\"{}\" y=\"20\">{} grade</text></g>",
            fills[k % fills.len()],
            x + 18,
            html(&s.label)
        );
        x += 120;
    }
    let base = TOP + PLOT_H;
    for (i, grade) in grades.iter().enumerate() {
        let gx = 40 + group_w * i;
        for (k, s) in series.iter().enumerate() {
            let n = s.counts.get(i).map_or(0, |(_, n)| *n);
            let h = scaled(n as i64, most as i64, PLOT_H);
            let bx = gx + BAR * k;
            let _ = write!(
                out,
                "<g class=\"series s{k}\"><rect x=\"{bx}\" y=\"{}\" width=\"{}\" height=\"{h}\" fill=\"{}\"/>\
<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" class=\"count\">{n}</text></g>",
                base - h,
                BAR - 2,
                fills[k % fills.len()],
                bx + BAR / 2 - 1,
                base - h - 3,
            );
        }
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" class=\"axis\">{}</text>",
            gx + BAR * series.len() / 2,
            base + 16,
            html(grade)
        );
    }
    let _ = write!(
        out,
        "<line x1=\"36\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" class=\"baseline\"/></svg>",
        width - 4
    );
    out
}

/// `value` of `max` as a length of at most `len` (at least 1 for a positive value).
fn scaled(value: i64, max: i64, len: usize) -> usize {
    if value <= 0 || max <= 0 {
        return 0;
    }
    let v = (value.min(max) as f64 / max as f64 * len as f64).round() as usize;
    v.max(1)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(site: &str, days_left: i64, min_days_left: u32) -> ExpiryBar {
        ExpiryBar {
            site: site.into(),
            days_left,
            min_days_left,
        }
    }

    #[test]
    fn timeline_puts_sites_below_their_minimum_first_and_says_so_in_words() {
        let svg = expiry_timeline(
            "t",
            &[bar("late.example", 80, 21), bar("soon.example", 10, 30)],
        );
        assert!(svg.contains("role=\"img\""));
        let soon = svg.find(">soon.example<").expect("soon drawn");
        let late = svg.find(">late.example<").expect("late drawn");
        assert!(soon < late, "below-minimum first");
        assert!(svg.contains("10 d \u{2014} below minimum"), "{svg}");
        assert!(svg.contains("<desc id=\"t-desc\">2 certificates observed; 1 below"));
        assert!(svg.contains("soon.example: 10 days left, below the minimum of 30."));
        assert!(svg.contains("fill=\"url(#t-hatch)\""));
    }

    #[test]
    fn timeline_caps_the_bars_and_counts_the_rest() {
        let bars: Vec<ExpiryBar> = (0..50).map(|i| bar(&format!("s{i}"), 30 + i, 7)).collect();
        let svg = expiry_timeline("t", &bars);
        assert_eq!(svg.matches("<g class=\"bar\">").count(), MAX_EXPIRY_BARS);
        assert!(svg.contains("10 more sites with more days left are in the table."));
    }

    #[test]
    fn labels_are_escaped() {
        let svg = expiry_timeline("t", &[bar("<script>x</script>", 5, 1)]);
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
        let g = grade_distribution(
            "g",
            &[GradeSeries {
                label: "<b>".into(),
                counts: vec![("A".into(), 1)],
            }],
        );
        assert!(!g.contains("<b>"), "{g}");
    }

    #[test]
    fn grade_bars_carry_their_counts_and_the_text_alternative_lists_them() {
        let svg = grade_distribution(
            "g",
            &[
                GradeSeries {
                    label: "web".into(),
                    counts: vec![("A".into(), 3), ("F".into(), 0)],
                },
                GradeSeries {
                    label: "TLS".into(),
                    counts: vec![("A".into(), 1), ("F".into(), 2)],
                },
            ],
        );
        assert!(
            svg.contains("web grade: A: 3. TLS grade: A: 1, F: 2."),
            "{svg}"
        );
        assert!(svg.contains("class=\"count\">3</text>"));
        assert!(
            svg.contains("fill=\"url(#g-hatch)\""),
            "second series hatched"
        );
    }

    #[test]
    fn scale() {
        assert_eq!(scaled(0, 10, 100), 0);
        assert_eq!(scaled(5, 10, 100), 50);
        assert_eq!(scaled(20, 10, 100), 100);
        assert_eq!(scaled(1, 1000, 100), 1);
    }
}
