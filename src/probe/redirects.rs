//! Redirects: request a source URL and follow `Location` by hand, recording every hop.
//!
//! Only hops to the hosts the redirect is about are followed: the source's host, the desired
//! target's host and the site's own host. A hop to any other host is recorded (its status and
//! `Location`) but not requested, so a site cannot make siteward connect elsewhere (an
//! internal address, another customer's server).

use url::Url;

use super::http::Http;
use crate::observe::live::{Hop, RedirectObservation};

/// Most hops followed.
pub const MAX_HOPS: usize = 10;

/// Follows redirects from `from` until a non-redirect response, an error, a hop to a host not
/// in `hosts` (compared case-insensitively), or [`MAX_HOPS`].
pub async fn follow(http: &Http, from: &Url, hosts: &[&str]) -> RedirectObservation {
    let mut obs = RedirectObservation {
        from: from.to_string(),
        ..RedirectObservation::default()
    };
    let mut next = Some(from.clone());
    while let Some(url) = next.take() {
        if obs.hops.len() == MAX_HOPS {
            obs.error = Some(format!("more than {MAX_HOPS} redirects"));
            break;
        }
        let allowed = url
            .host_str()
            .is_some_and(|h| hosts.iter().any(|a| a.eq_ignore_ascii_case(h)));
        if !allowed {
            obs.error = Some(format!(
                "not followed: `{url}` is on another host than the site and the redirect's target"
            ));
            break;
        }
        match http.get(&url, false).await {
            Ok(f) => {
                let is_redirect = (300..400).contains(&f.page.status);
                next = f
                    .location
                    .as_deref()
                    .filter(|_| is_redirect)
                    .and_then(|l| Url::parse(l).ok());
                obs.hops.push(Hop {
                    url: url.to_string(),
                    status: f.page.status,
                    location: f.location,
                });
            }
            Err(e) => obs.error = Some(e.to_string()),
        }
    }
    obs
}
