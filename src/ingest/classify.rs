//! Source, medium and GA4 default channel of a pageview, from its URL and referrer.
//!
//! Source and medium come from the first of these that applies:
//! 1. UTM parameters (`utm_source`, `utm_medium`, `utm_campaign`, `utm_content`,
//!    `utm_term`); a missing `utm_source` falls back to the external referrer's
//!    source, else `(not set)`; a missing `utm_medium` is `(not set)`.
//! 2. An ad click id: `gclid`, `gbraid`, `wbraid`, `dclid` → `google / cpc`,
//!    `msclkid` → `bing / cpc`. `fbclid` is deliberately ignored: Facebook appends
//!    it to organic links too, so it says nothing about payment.
//! 3. An external referrer: a known site's source name (`www.google.de` →
//!    `google`, see [`referrers::lookup_referrer`]) with medium `organic` (search
//!    engines), `social` (social networks) or `referral` (video, shopping and AI
//!    sites, whose channel comes from the source); an unknown site's host without
//!    `www.` with medium `referral`. Webmail is an unknown site, as in GA4: a link
//!    clicked in Gmail arrives as `mail.google.com / referral` unless the email's
//!    links carry UTM parameters.
//! 4. Otherwise `(direct) / (none)`.
//!
//! The channel is then GA4's default channel group, computed by [`channel_for`].

use url::Url;

use crate::domain::Channel;
use crate::ingest::referrers::{self, SiteKind};

/// Where a pageview came from, and why we think so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// URL path without query or fragment, e.g. `/en/landing-pages/meet-blinkist`;
    /// `/` for the root.
    pub landing_page: String,
    /// The referrer's host as sent (`www.facebook.com`), internal or not.
    pub referrer_host: Option<String>,
    /// Lower-case source: a UTM source, a canonical site name, a host or `(direct)`.
    pub source: String,
    /// Lower-case medium: `cpc`, `organic`, `social`, `referral`, `(none)`, …
    pub medium: String,
    /// `utm_campaign`, as sent.
    pub campaign: Option<String>,
    /// `utm_content`, as sent.
    pub content: Option<String>,
    /// `utm_term`, as sent.
    pub term: Option<String>,
    /// Name of the ad click-id parameter found (`gclid`, `msclkid`, …), if any.
    pub click_id: Option<String>,
    /// GA4 default channel group.
    pub channel: Channel,
    /// Human-readable reason naming the input that decided the source and channel,
    /// e.g. `utm_medium 'paid' on social source 'facebook'`.
    pub rule: String,
}

impl Classification {
    /// True when the pageview carries a marketing signal (campaign parameters, an ad
    /// click id or an external referrer), i.e. its source is not `(direct)`.
    pub fn is_marketing(&self) -> bool {
        self.source != DIRECT_SOURCE
    }
}

const DIRECT_SOURCE: &str = "(direct)";
const NONE_MEDIUM: &str = "(none)";
const NOT_SET: &str = "(not set)";

/// Google Ads click ids, in the order they are preferred when several are present.
const GOOGLE_CLICK_IDS: [&str; 4] = ["gclid", "gbraid", "wbraid", "dclid"];
/// Microsoft Advertising's click id.
const BING_CLICK_ID: &str = "msclkid";

/// Classifies one pageview.
///
/// `site_hosts` are extra lower-case hosts that count as the site itself when
/// deciding whether the referrer is internal; like the page's own host they match
/// ignoring a leading `www.`.
///
/// UTM parameter names are matched ASCII-case-insensitively; values are trimmed, and
/// an empty value counts as absent. When a parameter is repeated, its first
/// non-empty value wins.
pub fn classify(url: &Url, referrer: Option<&Url>, site_hosts: &[String]) -> Classification {
    let params = Params::read(url);
    let referrer_host = referrer.and_then(Url::host_str).filter(|h| !h.is_empty());
    let external = referrer.and_then(|r| External::of(r, url, site_hosts));

    let (source, medium, origin) = if params.has_utm() {
        let (source, from_referrer) = match (&params.source, &external) {
            (Some(s), _) => (s.to_lowercase(), None),
            (None, Some(e)) => (e.source.clone(), Some(e.host)),
            (None, None) => (NOT_SET.to_owned(), None),
        };
        let medium = params
            .medium
            .as_deref()
            .map_or_else(|| NOT_SET.to_owned(), str::to_lowercase);
        (
            source,
            medium,
            Origin::Utm {
                source_referrer: from_referrer,
            },
        )
    } else if let Some(id) = params.click_id {
        let source = if id == BING_CLICK_ID {
            "bing"
        } else {
            "google"
        };
        (source.to_owned(), "cpc".to_owned(), Origin::ClickId)
    } else if let Some(e) = &external {
        (
            e.source.clone(),
            e.medium.to_owned(),
            Origin::Referrer(e.host),
        )
    } else {
        (
            DIRECT_SOURCE.to_owned(),
            NONE_MEDIUM.to_owned(),
            Origin::Direct {
                internal_referrer: referrer_host,
            },
        )
    };

    let (channel, mut rule) = decide(
        &source,
        &medium,
        params.campaign.as_deref(),
        params.click_id,
        origin,
    );
    // The channel text may not say where a UTM-less source came from.
    if let Origin::Utm {
        source_referrer: Some(host),
    } = origin
    {
        if !rule.starts_with("referrer ") {
            rule.push_str(&format!(" (source from referrer {host})"));
        }
    }

    let landing_page = match url.path() {
        "" => "/".to_owned(),
        path => path.to_owned(),
    };
    Classification {
        landing_page,
        referrer_host: referrer_host.map(str::to_owned),
        source,
        medium,
        campaign: params.campaign,
        content: params.content,
        term: params.term,
        click_id: params.click_id.map(str::to_owned),
        channel,
        rule,
    }
}

/// GA4 default channel group for already-known fields, with a readable reason.
///
/// Matching is case-insensitive; site categories come from
/// [`referrers::lookup_source`] applied to `source`, so `utm_source=facebook` is a
/// social site. `click_id` is the click-id parameter's name (`gclid`, `msclkid`, …).
///
/// Rules are Google's published GA4 default channel group, first match wins, with
/// two documented deviations (README, "Channel classification"):
/// - AI_ASSISTANTS is an extension, checked right after ORGANIC_SEARCH and before
///   REFERRAL, so that a `chatgpt.com` referrer (medium `referral`) is an AI
///   assistant rather than a referral: source is an AI assistant, or medium is
///   `ai` or `ai-assistant`. GA4 reports that traffic as REFERRAL.
/// - AUDIO also takes medium `podcast`, the common tag of podcast sponsorships;
///   Google's rule is medium exactly `audio`, and GA4 reports `podcast` as
///   UNASSIGNED, the only channel this can move traffic out of.
pub fn channel_for(
    source: &str,
    medium: &str,
    campaign: Option<&str>,
    click_id: Option<&str>,
) -> (Channel, String) {
    decide(source, medium, campaign, click_id, Origin::Fields)
}

/// Where source and medium came from; only changes how the rule text reads.
#[derive(Clone, Copy)]
enum Origin<'a> {
    /// [`channel_for`] called directly with plain fields.
    Fields,
    /// UTM parameters; `source_referrer` is the referrer host when `utm_source` was
    /// missing and the source was taken from the referrer.
    Utm { source_referrer: Option<&'a str> },
    /// An ad click id with no UTM parameters.
    ClickId,
    /// An external referrer, by host.
    Referrer(&'a str),
    /// No external referrer; the internal one, if any.
    Direct { internal_referrer: Option<&'a str> },
}

impl Origin<'_> {
    fn medium_text(self, medium: &str) -> String {
        match self {
            Origin::Utm { .. } => format!("utm_medium '{medium}'"),
            Origin::Referrer(host) => format!("referrer {host} with medium '{medium}'"),
            _ => format!("medium '{medium}'"),
        }
    }

    fn source_text(self, source: &str) -> String {
        match self {
            Origin::Utm {
                source_referrer: None,
            } => format!("utm_source '{source}'"),
            Origin::Referrer(host)
            | Origin::Utm {
                source_referrer: Some(host),
            } => format!("referrer {host} ('{source}')"),
            _ => format!("source '{source}'"),
        }
    }

    fn campaign_text(self, campaign: &str) -> String {
        match self {
            Origin::Utm { .. } => format!("utm_campaign '{campaign}'"),
            _ => format!("campaign '{campaign}'"),
        }
    }

    /// "referrer www.google.de is search engine 'google'" / "utm_source 'youtube'
    /// is a video site".
    fn site_text(self, source: &str, noun: &str) -> String {
        match self {
            Origin::Referrer(host)
            | Origin::Utm {
                source_referrer: Some(host),
            } => format!("referrer {host} is {noun} '{source}'"),
            _ => {
                let article = if noun.starts_with(['a', 'e', 'A', 'E']) {
                    "an"
                } else {
                    "a"
                };
                format!("{} is {article} {noun}", self.source_text(source))
            }
        }
    }
}

fn decide(
    source: &str,
    medium: &str,
    campaign: Option<&str>,
    click_id: Option<&str>,
    origin: Origin<'_>,
) -> (Channel, String) {
    let kind = referrers::lookup_source(source);
    let site = |k: SiteKind| kind == Some(k);
    let paid = is_paid_medium(medium);
    let shopping_campaign = campaign.filter(|c| is_shopping_campaign(c));
    let ad_click = click_id.filter(|id| is_ad_click_id(id));
    let med = || origin.medium_text(medium);
    let paid_on = |what: &str| format!("{} on {what} source '{source}'", med());

    if source.eq_ignore_ascii_case(DIRECT_SOURCE)
        && (medium.eq_ignore_ascii_case(NONE_MEDIUM) || medium.eq_ignore_ascii_case(NOT_SET))
    {
        let text = match origin {
            Origin::Direct {
                internal_referrer: Some(host),
            } => format!("internal referrer {host}: direct"),
            Origin::Direct {
                internal_referrer: None,
            } => "no external referrer: direct".to_owned(),
            _ => format!("{} with {}: direct", origin.source_text(source), med()),
        };
        return (Channel::Direct, text);
    }
    if let Some(c) = campaign.filter(|c| contains_ci(c, "cross-network")) {
        let text = format!("{} contains 'cross-network'", origin.campaign_text(c));
        return (Channel::CrossNetwork, text);
    }
    if paid {
        if site(SiteKind::Shopping) {
            return (Channel::PaidShopping, paid_on("shopping"));
        }
        if let Some(c) = shopping_campaign {
            let text = format!("{} with shopping {}", med(), origin.campaign_text(c));
            return (Channel::PaidShopping, text);
        }
        if let Some(id) = ad_click {
            return (Channel::PaidSearch, format!("{id} click id with {}", med()));
        }
        if site(SiteKind::Search) {
            return (Channel::PaidSearch, paid_on("search"));
        }
        if site(SiteKind::Social) {
            return (Channel::PaidSocial, paid_on("social"));
        }
        if site(SiteKind::Video) {
            return (Channel::PaidVideo, paid_on("video"));
        }
    }
    if eq_any(
        medium,
        &["display", "banner", "expandable", "interstitial", "cpm"],
    ) {
        return (Channel::Display, med());
    }
    if paid {
        return (Channel::PaidOther, format!("{} is paid", med()));
    }
    if site(SiteKind::Shopping) {
        return (
            Channel::OrganicShopping,
            origin.site_text(source, "shopping site"),
        );
    }
    if let Some(c) = shopping_campaign {
        let text = format!("shopping {}", origin.campaign_text(c));
        return (Channel::OrganicShopping, text);
    }
    if site(SiteKind::Social) {
        return (
            Channel::OrganicSocial,
            origin.site_text(source, "social network"),
        );
    }
    if eq_any(
        medium,
        &[
            "social",
            "social-network",
            "social-media",
            "sm",
            "social network",
            "social media",
        ],
    ) {
        return (Channel::OrganicSocial, med());
    }
    if site(SiteKind::Video) {
        return (
            Channel::OrganicVideo,
            origin.site_text(source, "video site"),
        );
    }
    if contains_ci(medium, "video") {
        return (Channel::OrganicVideo, format!("{} contains 'video'", med()));
    }
    if site(SiteKind::Search) {
        return (
            Channel::OrganicSearch,
            origin.site_text(source, "search engine"),
        );
    }
    if medium.eq_ignore_ascii_case("organic") {
        return (Channel::OrganicSearch, med());
    }
    // An extension of GA4's rules, see `channel_for`.
    if site(SiteKind::AiAssistant) {
        return (
            Channel::AiAssistants,
            origin.site_text(source, "AI assistant"),
        );
    }
    if eq_any(medium, &["ai", "ai-assistant"]) {
        return (Channel::AiAssistants, med());
    }
    if eq_any(medium, &["referral", "app", "link"]) {
        let text = match origin {
            Origin::Referrer(host) => format!("external referrer {host}"),
            _ => med(),
        };
        return (Channel::Referral, text);
    }
    const EMAIL: [&str; 4] = ["email", "e-mail", "e_mail", "e mail"];
    if eq_any(source, &EMAIL) {
        return (Channel::Email, origin.source_text(source));
    }
    if eq_any(medium, &EMAIL) {
        return (Channel::Email, med());
    }
    if medium.eq_ignore_ascii_case("affiliate") {
        return (Channel::Affiliates, med());
    }
    if medium.eq_ignore_ascii_case("audio") {
        return (Channel::Audio, med());
    }
    // Deviation from GA4, see `channel_for`.
    if medium.eq_ignore_ascii_case("podcast") {
        return (Channel::Audio, format!("{} counts as audio", med()));
    }
    if source.eq_ignore_ascii_case("sms") {
        return (Channel::Sms, origin.source_text(source));
    }
    if medium.eq_ignore_ascii_case("sms") {
        return (Channel::Sms, med());
    }
    if ends_with_ci(medium, "push")
        || contains_ci(medium, "mobile")
        || contains_ci(medium, "notification")
    {
        return (Channel::MobilePush, format!("{} is mobile push", med()));
    }
    if source.eq_ignore_ascii_case("firebase") {
        return (
            Channel::MobilePush,
            format!("{} is mobile push", origin.source_text(source)),
        );
    }
    let text = format!(
        "no channel rule matches {} with {}",
        origin.source_text(source),
        med()
    );
    (Channel::Unassigned, text)
}

/// GA4's paid medium: `^(.*cp.*|ppc|retargeting|paid.*)$`, case-insensitive.
fn is_paid_medium(medium: &str) -> bool {
    contains_ci(medium, "cp")
        || medium.eq_ignore_ascii_case("ppc")
        || medium.eq_ignore_ascii_case("retargeting")
        || medium
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("paid"))
}

/// GA4's shopping campaign: `^(.*(([^a-df-z]|^)shop|shopping).*)$`, case-insensitive.
/// "shop" must start the campaign or follow a non-letter or an `e` (`eshop`), so
/// `workshop` is not shopping but `summer-shop` and `eshop` are.
fn is_shopping_campaign(campaign: &str) -> bool {
    if contains_ci(campaign, "shopping") {
        return true;
    }
    let bytes = campaign.as_bytes();
    bytes.windows(4).enumerate().any(|(i, w)| {
        w.eq_ignore_ascii_case(b"shop")
            && (i == 0 || {
                let prev = bytes[i - 1];
                !prev.is_ascii_alphabetic() || prev.eq_ignore_ascii_case(&b'e')
            })
    })
}

/// Click ids of ad and social platforms that `STRIP_QUERY_PARAMS` keeps
/// besides those classification reads: they identify a click, not a person,
/// and a later export may need them.
const OTHER_CLICK_IDS: [&str; 7] = [
    "fbclid",
    "ttclid",
    "twclid",
    "li_fat_id",
    "yclid",
    "epik",
    "sccid",
];

/// Whether a query parameter is a campaign parameter (`utm_*`) or an ads
/// click id: what `STRIP_QUERY_PARAMS` keeps.
pub fn is_campaign_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || is_ad_click_id(&lower) || OTHER_CLICK_IDS.contains(&lower.as_str())
}

fn is_ad_click_id(name: &str) -> bool {
    GOOGLE_CLICK_IDS
        .iter()
        .chain(std::iter::once(&BING_CLICK_ID))
        .any(|id| name.eq_ignore_ascii_case(id))
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn ends_with_ci(haystack: &str, suffix: &str) -> bool {
    haystack.len() >= suffix.len()
        && haystack.as_bytes()[haystack.len() - suffix.len()..]
            .eq_ignore_ascii_case(suffix.as_bytes())
}

fn eq_any(value: &str, options: &[&str]) -> bool {
    options.iter().any(|o| value.eq_ignore_ascii_case(o))
}

/// The campaign parameters and click id of a landing URL.
#[derive(Default)]
struct Params {
    source: Option<String>,
    medium: Option<String>,
    campaign: Option<String>,
    content: Option<String>,
    term: Option<String>,
    click_id: Option<&'static str>,
}

impl Params {
    fn read(url: &Url) -> Params {
        let mut params = Params::default();
        if url.query().is_none() {
            return params;
        }
        // Index into GOOGLE_CLICK_IDS + msclkid, so a preferred id seen later still wins.
        let mut best_click: Option<usize> = None;
        for (key, value) in url.query_pairs() {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let slot = if key.eq_ignore_ascii_case("utm_source") {
                &mut params.source
            } else if key.eq_ignore_ascii_case("utm_medium") {
                &mut params.medium
            } else if key.eq_ignore_ascii_case("utm_campaign") {
                &mut params.campaign
            } else if key.eq_ignore_ascii_case("utm_content") {
                &mut params.content
            } else if key.eq_ignore_ascii_case("utm_term") {
                &mut params.term
            } else {
                let rank = GOOGLE_CLICK_IDS
                    .iter()
                    .chain(std::iter::once(&BING_CLICK_ID))
                    .position(|id| key.eq_ignore_ascii_case(id));
                if let Some(rank) = rank {
                    if best_click.is_none_or(|best| rank < best) {
                        best_click = Some(rank);
                    }
                }
                continue;
            };
            if slot.is_none() {
                *slot = Some(value.to_owned());
            }
        }
        params.click_id =
            best_click.map(|i| GOOGLE_CLICK_IDS.get(i).copied().unwrap_or(BING_CLICK_ID));
        params
    }

    fn has_utm(&self) -> bool {
        self.source.is_some()
            || self.medium.is_some()
            || self.campaign.is_some()
            || self.content.is_some()
            || self.term.is_some()
    }
}

/// A referrer from outside the site, with the source and medium it implies.
struct External<'a> {
    host: &'a str,
    source: String,
    medium: &'static str,
}

impl<'a> External<'a> {
    /// `None` for no usable referrer or one from the site itself.
    fn of(referrer: &'a Url, page: &Url, site_hosts: &[String]) -> Option<External<'a>> {
        let host = referrer.host_str().filter(|h| !h.is_empty())?;
        if !matches!(referrer.scheme(), "http" | "https") {
            // App referrers (android-app://com.google.android.gm/) are external but
            // not web sites: keep the app id as the source.
            return Some(External {
                host,
                source: host.to_ascii_lowercase(),
                medium: "referral",
            });
        }
        let bare = strip_www(host);
        let internal = page
            .host_str()
            .is_some_and(|p| strip_www(p).eq_ignore_ascii_case(bare))
            || site_hosts
                .iter()
                .any(|h| strip_www(h).eq_ignore_ascii_case(bare));
        if internal {
            return None;
        }
        let (source, medium) = match referrers::lookup_referrer(referrer) {
            Some(site) => {
                let medium = match site.kind {
                    SiteKind::Search => "organic",
                    SiteKind::Social => "social",
                    // Video, shopping and AI sites: the channel comes from the source.
                    SiteKind::Video | SiteKind::Shopping | SiteKind::AiAssistant => "referral",
                };
                (site.source, medium)
            }
            None => (bare.to_ascii_lowercase(), "referral"),
        };
        Some(External {
            host,
            source,
            medium,
        })
    }
}

fn strip_www(host: &str) -> &str {
    match host.get(..4) {
        Some(prefix) if prefix.eq_ignore_ascii_case("www.") => &host[4..],
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(url: &str, referrer: Option<&str>) -> Classification {
        run_with_hosts(url, referrer, &[])
    }

    fn run_with_hosts(url: &str, referrer: Option<&str>, hosts: &[&str]) -> Classification {
        let url = Url::parse(url).expect("test URL");
        let referrer = referrer.map(|r| Url::parse(r).expect("test referrer"));
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        classify(&url, referrer.as_ref(), &hosts)
    }

    fn page(query: &str) -> String {
        format!("https://www.blinkist.com/en/books/atomic-habits-en?{query}")
    }

    fn channel(query: &str, referrer: Option<&str>) -> Channel {
        run(&page(query), referrer).channel
    }

    // --- the brief's examples ---

    #[test]
    fn facebook_ad_from_the_brief_is_paid_social() {
        let c = run(
            "https://www.blinkist.com/en/landing-pages/meet-blinkist?utm_source=facebook&utm_campaign=202301_US_NY_Resolutions&utm_medium=paid&utm_content=19284192381935",
            Some("https://www.facebook.com/"),
        );
        assert_eq!(c.source, "facebook");
        assert_eq!(c.medium, "paid");
        assert_eq!(c.campaign.as_deref(), Some("202301_US_NY_Resolutions"));
        assert_eq!(c.content.as_deref(), Some("19284192381935"));
        assert_eq!(c.term, None);
        assert_eq!(c.click_id, None);
        assert_eq!(c.channel, Channel::PaidSocial);
        assert_eq!(c.landing_page, "/en/landing-pages/meet-blinkist");
        assert_eq!(c.referrer_host.as_deref(), Some("www.facebook.com"));
        assert_eq!(c.rule, "utm_medium 'paid' on social source 'facebook'");
        assert!(c.is_marketing());
    }

    #[test]
    fn google_de_referrer_is_organic_search() {
        let c = run(
            "https://www.blinkist.com/en/books/lives-of-the-stoics-en",
            Some("https://www.google.de/"),
        );
        assert_eq!(
            (c.source.as_str(), c.medium.as_str()),
            ("google", "organic")
        );
        assert_eq!(c.channel, Channel::OrganicSearch);
        assert_eq!(c.rule, "referrer www.google.de is search engine 'google'");
        assert_eq!(c.landing_page, "/en/books/lives-of-the-stoics-en");
    }

    #[test]
    fn no_referrer_is_direct() {
        let c = run("https://www.blinkist.com/en", None);
        assert_eq!(
            (c.source.as_str(), c.medium.as_str()),
            ("(direct)", "(none)")
        );
        assert_eq!(c.channel, Channel::Direct);
        assert_eq!(c.rule, "no external referrer: direct");
        assert_eq!(c.referrer_host, None);
        assert!(!c.is_marketing());
    }

    #[test]
    fn referrer_from_the_bare_domain_is_internal_and_direct() {
        let c = run(
            "https://www.blinkist.com/en",
            Some("https://blinkist.com/en/x"),
        );
        assert_eq!(
            (c.source.as_str(), c.medium.as_str()),
            ("(direct)", "(none)")
        );
        assert_eq!(c.channel, Channel::Direct);
        assert_eq!(c.referrer_host.as_deref(), Some("blinkist.com"));
        assert!(c.rule.contains("blinkist.com"));
    }

    #[test]
    fn youtube_video_utm_is_organic_video() {
        let c = run(&page("utm_source=youtube&utm_medium=video"), None);
        assert_eq!(c.channel, Channel::OrganicVideo);
        assert_eq!(c.rule, "utm_source 'youtube' is a video site");
    }

    #[test]
    fn gclid_without_referrer_is_google_cpc_paid_search() {
        let c = run(&page("gclid=abc"), None);
        assert_eq!((c.source.as_str(), c.medium.as_str()), ("google", "cpc"));
        assert_eq!(c.click_id.as_deref(), Some("gclid"));
        assert_eq!(c.channel, Channel::PaidSearch);
        assert_eq!(c.rule, "gclid click id with medium 'cpc'");
        assert!(c.is_marketing());
    }

    #[test]
    fn fbclid_is_ignored_so_a_facebook_link_is_organic_social() {
        let c = run(&page("fbclid=x"), Some("https://l.facebook.com/"));
        assert_eq!(
            (c.source.as_str(), c.medium.as_str()),
            ("facebook", "social")
        );
        assert_eq!(c.click_id, None);
        assert_eq!(c.channel, Channel::OrganicSocial);
    }

    #[test]
    fn fbclid_without_referrer_stays_direct() {
        assert_eq!(channel("fbclid=x", None), Channel::Direct);
    }

    #[test]
    fn msclkid_is_bing_cpc_paid_search() {
        let c = run(&page("msclkid=1"), None);
        assert_eq!((c.source.as_str(), c.medium.as_str()), ("bing", "cpc"));
        assert_eq!(c.click_id.as_deref(), Some("msclkid"));
        assert_eq!(c.channel, Channel::PaidSearch);
    }

    #[test]
    fn chatgpt_referrer_is_an_ai_assistant() {
        let c = run(&page(""), Some("https://chatgpt.com/"));
        assert_eq!(
            (c.source.as_str(), c.medium.as_str()),
            ("chatgpt", "referral")
        );
        assert_eq!(c.channel, Channel::AiAssistants);
        assert_eq!(c.rule, "referrer chatgpt.com is AI assistant 'chatgpt'");
    }

    #[test]
    fn cross_network_campaign_is_cross_network() {
        let c = run(&page("utm_campaign=summer_cross-network"), None);
        assert_eq!(
            (c.source.as_str(), c.medium.as_str()),
            ("(not set)", "(not set)")
        );
        assert_eq!(c.channel, Channel::CrossNetwork);
        assert_eq!(
            c.rule,
            "utm_campaign 'summer_cross-network' contains 'cross-network'"
        );
    }

    // --- one realistic pageview per channel ---

    #[test]
    fn amazon_cpc_is_paid_shopping() {
        assert_eq!(
            channel("utm_source=amazon&utm_medium=cpc", None),
            Channel::PaidShopping
        );
    }

    #[test]
    fn google_cpc_with_a_shopping_campaign_is_paid_shopping_not_search() {
        let c = run(
            &page("utm_source=google&utm_medium=cpc&utm_campaign=de_shopping_q4"),
            None,
        );
        assert_eq!(c.channel, Channel::PaidShopping);
        assert_eq!(
            c.rule,
            "utm_medium 'cpc' with shopping utm_campaign 'de_shopping_q4'"
        );
    }

    #[test]
    fn google_cpc_utm_is_paid_search() {
        let c = run(
            &page("utm_source=google&utm_medium=cpc&utm_term=book+summaries"),
            None,
        );
        assert_eq!(c.channel, Channel::PaidSearch);
        assert_eq!(c.term.as_deref(), Some("book summaries"));
        assert_eq!(c.rule, "utm_medium 'cpc' on search source 'google'");
    }

    #[test]
    fn gclid_with_an_unknown_utm_source_is_still_paid_search() {
        let c = run(&page("utm_source=adwords&utm_medium=cpc&gclid=abc"), None);
        assert_eq!(c.source, "adwords");
        assert_eq!(c.click_id.as_deref(), Some("gclid"));
        assert_eq!(c.channel, Channel::PaidSearch);
        assert_eq!(c.rule, "gclid click id with utm_medium 'cpc'");
    }

    #[test]
    fn youtube_cpv_is_paid_video() {
        assert_eq!(
            channel("utm_source=youtube&utm_medium=cpv", None),
            Channel::PaidVideo
        );
    }

    #[test]
    fn criteo_banner_is_display() {
        let c = run(&page("utm_source=criteo&utm_medium=banner"), None);
        assert_eq!(c.channel, Channel::Display);
        assert_eq!(c.rule, "utm_medium 'banner'");
    }

    #[test]
    fn cpm_on_an_unknown_source_is_display_before_paid_other() {
        assert_eq!(
            channel("utm_source=partner-network&utm_medium=cpm", None),
            Channel::Display
        );
    }

    #[test]
    fn ppc_on_an_unknown_source_is_paid_other() {
        let c = run(&page("utm_source=podcast-network&utm_medium=ppc"), None);
        assert_eq!(c.channel, Channel::PaidOther);
        assert_eq!(c.rule, "utm_medium 'ppc' is paid");
    }

    #[test]
    fn amazon_referrer_is_organic_shopping() {
        // Google lists the host amazon.com, Matomo has no shopping list.
        let c = run(&page(""), Some("https://www.amazon.com/dp/B07"));
        assert_eq!(
            (c.source.as_str(), c.medium.as_str()),
            ("amazon.com", "referral")
        );
        assert_eq!(c.channel, Channel::OrganicShopping);
    }

    #[test]
    fn shopping_campaign_without_paid_medium_is_organic_shopping() {
        assert_eq!(
            channel(
                "utm_source=partner&utm_medium=listing&utm_campaign=eshop-launch",
                None
            ),
            Channel::OrganicShopping
        );
    }

    #[test]
    fn workshop_campaign_is_not_shopping() {
        assert!(!is_shopping_campaign("team-workshop"));
        assert!(is_shopping_campaign("Summer-Shop"));
        assert!(is_shopping_campaign("shop_de"));
        assert!(is_shopping_campaign("eshop"));
        assert!(is_shopping_campaign("myshopping"));
    }

    #[test]
    fn linkedin_utm_without_medium_is_organic_social() {
        let c = run(&page("utm_source=linkedin"), None);
        assert_eq!(c.medium, "(not set)");
        assert_eq!(c.channel, Channel::OrganicSocial);
    }

    #[test]
    fn social_medium_on_an_unknown_source_is_organic_social() {
        assert_eq!(
            channel("utm_source=mastodon&utm_medium=social-media", None),
            Channel::OrganicSocial
        );
    }

    #[test]
    fn youtube_referrer_is_organic_video() {
        let c = run(&page(""), Some("https://www.youtube.com/watch?v=1"));
        assert_eq!(
            (c.source.as_str(), c.medium.as_str()),
            ("youtube", "referral")
        );
        assert_eq!(c.channel, Channel::OrganicVideo);
    }

    #[test]
    fn video_medium_on_an_unknown_source_is_organic_video() {
        assert_eq!(
            channel("utm_source=wistia&utm_medium=embedded-video", None),
            Channel::OrganicVideo
        );
    }

    #[test]
    fn organic_medium_on_an_unknown_source_is_organic_search() {
        assert_eq!(
            channel("utm_source=ecosia-partner&utm_medium=organic", None),
            Channel::OrganicSearch
        );
    }

    #[test]
    fn unknown_website_referrer_is_referral() {
        let c = run(
            &page(""),
            Some("https://www.productivity-blog.org/best-apps"),
        );
        assert_eq!(
            (c.source.as_str(), c.medium.as_str()),
            ("productivity-blog.org", "referral")
        );
        assert_eq!(c.channel, Channel::Referral);
        assert_eq!(c.rule, "external referrer www.productivity-blog.org");
    }

    #[test]
    fn android_app_referrer_is_external_with_the_app_as_source() {
        let c = run(&page(""), Some("android-app://com.example.reader/"));
        assert_eq!(
            (c.source.as_str(), c.medium.as_str()),
            ("com.example.reader", "referral")
        );
        assert_eq!(c.channel, Channel::Referral);
    }

    #[test]
    fn webmail_referrer_is_a_referral_as_in_ga4() {
        let c = run(&page(""), Some("https://mail.google.com/"));
        assert_eq!(
            (c.source.as_str(), c.medium.as_str()),
            ("mail.google.com", "referral")
        );
        assert_eq!(c.channel, Channel::Referral);
        assert_eq!(c.rule, "external referrer mail.google.com");
    }

    #[test]
    fn newsletter_email_utm_is_email() {
        let c = run(&page("utm_source=newsletter&utm_medium=email"), None);
        assert_eq!(c.channel, Channel::Email);
        assert_eq!(c.rule, "utm_medium 'email'");
    }

    #[test]
    fn email_as_source_is_email() {
        assert_eq!(
            channel("utm_source=e-mail&utm_medium=weekly", None),
            Channel::Email
        );
    }

    #[test]
    fn affiliate_medium_is_affiliates() {
        assert_eq!(
            channel("utm_source=awin&utm_medium=affiliate", None),
            Channel::Affiliates
        );
    }

    #[test]
    fn audio_medium_is_audio() {
        let c = run(&page("utm_source=spotify&utm_medium=Audio"), None);
        assert_eq!(c.channel, Channel::Audio);
        assert_eq!(c.rule, "utm_medium 'audio'");
    }

    #[test]
    fn podcast_medium_is_audio_a_documented_deviation_from_ga4() {
        let c = run(&page("utm_source=spotify&utm_medium=podcast"), None);
        assert_eq!(c.channel, Channel::Audio);
        assert_eq!(c.rule, "utm_medium 'podcast' counts as audio");
        // Only an exact `podcast` medium; GA4's rule is exact too.
        assert_eq!(
            channel("utm_source=spotify&utm_medium=podcasts", None),
            Channel::Unassigned
        );
    }

    #[test]
    fn sms_source_is_sms() {
        let c = run(
            &page("utm_source=sms&utm_medium=text&utm_campaign=winback"),
            None,
        );
        assert_eq!(c.channel, Channel::Sms);
        assert_eq!(c.rule, "utm_source 'sms'");
    }

    #[test]
    fn web_push_medium_is_mobile_push() {
        assert_eq!(
            channel("utm_source=onesignal&utm_medium=web-push", None),
            Channel::MobilePush
        );
        assert_eq!(
            channel("utm_source=firebase&utm_medium=inapp", None),
            Channel::MobilePush
        );
    }

    #[test]
    fn gemini_referrer_is_an_ai_assistant_not_google_search() {
        let c = run(&page(""), Some("https://gemini.google.com/app"));
        assert_eq!(c.source, "gemini");
        assert_eq!(c.channel, Channel::AiAssistants);
    }

    #[test]
    fn perplexity_utm_source_is_an_ai_assistant() {
        assert_eq!(
            channel("utm_source=perplexity&utm_medium=referral", None),
            Channel::AiAssistants
        );
    }

    #[test]
    fn unknown_source_and_medium_is_unassigned() {
        let c = run(&page("utm_source=flyer&utm_medium=qr-code"), None);
        assert_eq!(c.channel, Channel::Unassigned);
        assert_eq!(
            c.rule,
            "no channel rule matches utm_source 'flyer' with utm_medium 'qr-code'"
        );
    }

    #[test]
    fn every_channel_is_reachable_through_classify() {
        let cases: [(&str, Option<&str>); 20] = [
            ("", None),
            ("utm_campaign=summer_cross-network", None),
            ("utm_source=amazon&utm_medium=cpc", None),
            ("gclid=abc", None),
            ("utm_source=facebook&utm_medium=paid", None),
            ("utm_source=youtube&utm_medium=cpv", None),
            ("utm_source=criteo&utm_medium=display", None),
            ("utm_source=partner&utm_medium=ppc", None),
            ("", Some("https://www.amazon.com/")),
            ("", Some("https://m.facebook.com/")),
            ("", Some("https://www.youtube.com/")),
            ("", Some("https://www.bing.com/")),
            ("", Some("https://news.example.org/")),
            ("utm_source=newsletter&utm_medium=email", None),
            ("utm_source=awin&utm_medium=affiliate", None),
            ("utm_source=spotify&utm_medium=podcast", None),
            ("utm_source=sms", None),
            ("utm_source=onesignal&utm_medium=push", None),
            ("", Some("https://claude.ai/")),
            ("utm_source=flyer&utm_medium=qr-code", None),
        ];
        let got: Vec<Channel> = cases.iter().map(|(q, r)| channel(q, *r)).collect();
        assert_eq!(got, Channel::ALL);
    }

    // --- internal referrers ---

    #[test]
    fn www_is_ignored_on_both_sides_of_the_internal_check() {
        let c = run(
            "https://blinkist.com/en",
            Some("https://www.blinkist.com/app"),
        );
        assert_eq!(c.channel, Channel::Direct);
    }

    #[test]
    fn other_subdomains_of_the_site_are_external_unless_listed() {
        let c = run(
            "https://www.blinkist.com/en",
            Some("https://blog.blinkist.com/post"),
        );
        assert_eq!(c.source, "blog.blinkist.com");
        assert_eq!(c.channel, Channel::Referral);

        let c = run_with_hosts(
            "https://www.blinkist.com/en",
            Some("https://www.blog.blinkist.com/post"),
            &["blog.blinkist.com"],
        );
        assert_eq!(c.channel, Channel::Direct);
    }

    #[test]
    fn site_hosts_match_ignoring_their_own_www() {
        let c = run_with_hosts(
            "https://www.blinkist.com/en",
            Some("https://checkout.blinkist.io/done"),
            &["www.checkout.blinkist.io"],
        );
        assert_eq!(c.channel, Channel::Direct);
    }

    #[test]
    fn utm_on_an_internal_referral_keeps_the_campaign_with_source_not_set() {
        let c = run(
            &page("utm_medium=email&utm_campaign=weekly"),
            Some("https://www.blinkist.com/"),
        );
        assert_eq!(c.source, "(not set)");
        assert_eq!(c.channel, Channel::Email);
        assert!(c.is_marketing());
    }

    #[test]
    fn missing_utm_source_falls_back_to_the_external_referrer() {
        let c = run(&page("utm_medium=cpc"), Some("https://www.google.com/"));
        assert_eq!(c.source, "google");
        assert_eq!(c.channel, Channel::PaidSearch);
        assert_eq!(
            c.rule,
            "utm_medium 'cpc' on search source 'google' (source from referrer www.google.com)"
        );
    }

    // --- parameter handling ---

    #[test]
    fn empty_utm_values_are_ignored() {
        let c = run(
            &page("utm_source=&utm_medium=&utm_campaign="),
            Some("https://www.google.de/"),
        );
        assert_eq!(
            (c.source.as_str(), c.medium.as_str()),
            ("google", "organic")
        );
        assert_eq!(c.campaign, None);
        assert_eq!(channel("utm_source=&utm_medium=", None), Channel::Direct);
    }

    #[test]
    fn utm_values_are_matched_case_insensitively() {
        let c = run(
            &page("utm_source=Google&utm_medium=CPC&utm_campaign=Brand_DE"),
            None,
        );
        assert_eq!((c.source.as_str(), c.medium.as_str()), ("google", "cpc"));
        assert_eq!(c.campaign.as_deref(), Some("Brand_DE"));
        assert_eq!(c.channel, Channel::PaidSearch);
    }

    #[test]
    fn only_campaign_parameters_and_click_ids_count_as_campaign_parameters() {
        for keep in [
            "utm_source",
            "UTM_Campaign",
            "utm_id",
            "gclid",
            "msclkid",
            "fbclid",
        ] {
            assert!(is_campaign_param(keep), "{keep}");
        }
        for drop in ["email", "token", "q", "ref", "utm", "session_id"] {
            assert!(!is_campaign_param(drop), "{drop}");
        }
    }

    #[test]
    fn channel_for_is_case_insensitive_on_its_own() {
        let (ch, rule) = channel_for("FaceBook", "Paid_Social", None, None);
        assert_eq!(ch, Channel::PaidSocial);
        assert_eq!(rule, "medium 'Paid_Social' on social source 'FaceBook'");
        let (ch, _) = channel_for("(DIRECT)", "(NOT SET)", None, None);
        assert_eq!(ch, Channel::Direct);
        let (ch, _) = channel_for("newsletter", "cpc", None, Some("GCLID"));
        assert_eq!(ch, Channel::PaidSearch);
    }

    #[test]
    fn utm_values_are_percent_decoded() {
        let c = run(
            &page("utm_campaign=spring%20sale%2Fde&utm_source=Face%62ook"),
            None,
        );
        assert_eq!(c.campaign.as_deref(), Some("spring sale/de"));
        assert_eq!(c.source, "facebook");
    }

    #[test]
    fn utm_wins_over_a_click_id_which_is_still_recorded() {
        let c = run(
            &page("gclid=abc&utm_source=newsletter&utm_medium=email"),
            None,
        );
        assert_eq!(c.source, "newsletter");
        assert_eq!(c.click_id.as_deref(), Some("gclid"));
        assert_eq!(c.channel, Channel::Email);
    }

    #[test]
    fn landing_page_drops_query_and_fragment() {
        let c = run("https://www.blinkist.com/?utm_source=x#top", None);
        assert_eq!(c.landing_page, "/");
    }

    // --- canonical names of referrers ---

    #[test]
    fn known_referrers_get_canonical_source_names() {
        let cases = [
            ("https://t.co/abc", "twitter", "social"),
            ("https://x.com/", "twitter", "social"),
            ("https://l.instagram.com/", "instagram", "social"),
            ("https://m.facebook.com/", "facebook", "social"),
            ("https://www.bing.com/search?q=x", "bing", "organic"),
            ("https://duckduckgo.com/", "duckduckgo", "organic"),
        ];
        for (referrer, source, medium) in cases {
            let c = run(&page(""), Some(referrer));
            assert_eq!(
                (c.source.as_str(), c.medium.as_str()),
                (source, medium),
                "{referrer}"
            );
        }
    }

    #[test]
    fn ad_server_referrers_are_plain_referrals_by_host() {
        let c = run(&page(""), Some("https://www.googleadservices.com/pagead"));
        assert_eq!(c.source, "googleadservices.com");
        assert_eq!(c.channel, Channel::Referral);
    }

    // --- Google's source list, through the full channel rules ---

    /// Google's list, parsed here independently of `referrers`.
    fn google_list() -> Vec<(String, String)> {
        let csv = include_str!("../../data/ga4-source-categories.csv");
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        reader
            .records()
            .map(|r| {
                let r = r.expect("CSV row");
                (r[0].to_owned(), r[1].to_owned())
            })
            .collect()
    }

    #[test]
    fn every_source_in_googles_list_gets_its_paid_and_organic_channel() {
        let rows = google_list();
        assert_eq!(rows.len(), 819);
        for (source, category) in rows {
            let (paid, organic) = match category.as_str() {
                "SOURCE_CATEGORY_SEARCH" => (Channel::PaidSearch, Channel::OrganicSearch),
                "SOURCE_CATEGORY_SOCIAL" => (Channel::PaidSocial, Channel::OrganicSocial),
                "SOURCE_CATEGORY_VIDEO" => (Channel::PaidVideo, Channel::OrganicVideo),
                "SOURCE_CATEGORY_SHOPPING" => (Channel::PaidShopping, Channel::OrganicShopping),
                other => panic!("unknown category {other}"),
            };
            assert_eq!(channel_for(&source, "cpc", None, None).0, paid, "{source}");
            let upper = source.to_uppercase();
            assert_eq!(channel_for(&upper, "Paid", None, None).0, paid, "{source}");
            let (ch, _) = channel_for(&source, "referral", None, None);
            assert_eq!(ch, organic, "{source}");
        }
    }

    #[test]
    fn sources_only_googles_list_knows_get_their_paid_channel() {
        let cases = [
            ("utm_source=hulu&utm_medium=cpc", Channel::PaidVideo),
            ("utm_source=netflix&utm_medium=cpc", Channel::PaidVideo),
            ("utm_source=wistia&utm_medium=cpv", Channel::PaidVideo),
            ("utm_source=stripe&utm_medium=cpc", Channel::PaidShopping),
            ("utm_source=alibaba&utm_medium=cpc", Channel::PaidShopping),
            (
                "utm_source=mercadolibre&utm_medium=ppc",
                Channel::PaidShopping,
            ),
            ("utm_source=blogher&utm_medium=cpc", Channel::PaidSocial),
            ("utm_source=snapchat&utm_medium=paid", Channel::PaidSocial),
            ("utm_source=line&utm_medium=cpc", Channel::PaidSocial),
            ("utm_source=wechat&utm_medium=cpc", Channel::PaidSocial),
            ("utm_source=medium.com&utm_medium=cpc", Channel::PaidSocial),
            ("utm_source=so.com&utm_medium=cpc", Channel::PaidSearch),
            ("utm_source=msn.com&utm_medium=cpc", Channel::PaidSearch),
        ];
        for (query, expected) in cases {
            assert_eq!(channel(query, None), expected, "{query}");
        }
        let c = run(&page("utm_source=Hulu&utm_medium=CPC"), None);
        assert_eq!(c.rule, "utm_medium 'cpc' on video source 'hulu'");
    }

    #[test]
    fn googles_category_wins_over_the_referrer_lists() {
        let c = run(&page("utm_source=digg&utm_medium=cpc"), None);
        assert_eq!(c.channel, Channel::PaidSocial);
        assert_eq!(c.rule, "utm_medium 'cpc' on social source 'digg'");

        let c = run(&page(""), Some("https://shopping.yahoo.com/deals"));
        assert_eq!(c.source, "shopping.yahoo.com");
        assert_eq!(c.channel, Channel::OrganicShopping);
        assert_eq!(
            channel("utm_source=shopping.yahoo.com&utm_medium=cpc", None),
            Channel::PaidShopping
        );
        for host in ["messages.google.com", "pulse.yahoo.com", "friendfeed.com"] {
            let c = run(&page(""), Some(&format!("https://{host}/")));
            assert_eq!(c.channel, Channel::OrganicSocial, "{host}");
        }
        let c = run(&page(""), Some("https://www.youtube.com/watch?v=1"));
        assert_eq!(c.channel, Channel::OrganicVideo);
    }

    #[test]
    fn other_products_on_a_search_engines_domain_are_referrals() {
        for host in [
            "docs.google.com",
            "drive.google.com",
            "support.google.com",
            "maps.google.com",
            "accounts.google.com",
        ] {
            let c = run(&page(""), Some(&format!("https://{host}/")));
            assert_eq!((c.source.as_str(), c.channel), (host, Channel::Referral));
            assert_eq!(c.rule, format!("external referrer {host}"));
        }
        for referrer in [
            "https://www.google.de/",
            "https://google.co.uk/",
            "https://www.google.com.br/search?q=livros",
            "https://WWW.GOOGLE.FR/",
        ] {
            let c = run(&page(""), Some(referrer));
            assert_eq!(
                (c.source.as_str(), c.channel),
                ("google", Channel::OrganicSearch),
                "{referrer}"
            );
        }
    }

    #[test]
    fn a_news_site_with_a_google_search_box_is_a_referral_unless_searched() {
        let c = run(&page(""), Some("https://edition.cnn.com/2026/07/01/story"));
        assert_eq!(c.channel, Channel::Referral);
        let c = run(&page(""), Some("https://www.cnn.com/"));
        assert_eq!(c.channel, Channel::Referral);
        let c = run(&page(""), Some("https://www.cnn.com/search?query=stoics"));
        assert_eq!(c.channel, Channel::OrganicSearch);
    }

    #[test]
    fn newer_networks_search_engines_and_assistants_are_known() {
        let cases = [
            ("https://www.threads.net/@someone", Channel::OrganicSocial),
            ("https://bsky.app/profile/x", Channel::OrganicSocial),
            ("https://search.brave.com/", Channel::OrganicSearch),
            ("https://chat.deepseek.com/", Channel::AiAssistants),
            ("https://x.com/i/grok", Channel::AiAssistants),
            ("https://x.com/someone/status/1", Channel::OrganicSocial),
        ];
        for (referrer, expected) in cases {
            assert_eq!(channel("", Some(referrer)), expected, "{referrer}");
        }
    }

    #[test]
    fn ai_assistants_come_before_referral_an_extension_of_ga4() {
        let (ch, rule) = channel_for("chatgpt.com", "referral", None, None);
        assert_eq!(ch, Channel::AiAssistants);
        assert_eq!(rule, "source 'chatgpt.com' is an AI assistant");
        let (ch, _) = channel_for("some-bot", "AI", None, None);
        assert_eq!(ch, Channel::AiAssistants);
        // Paid and the earlier organic channels still win, as for any source.
        let (ch, _) = channel_for("chatgpt", "cpc", None, None);
        assert_eq!(ch, Channel::PaidOther);
    }

    #[test]
    fn sources_matomo_knows_and_google_does_not_get_matomos_category_a_deviation() {
        let c = run(&page("utm_source=bluesky&utm_medium=paid"), None);
        assert_eq!(c.channel, Channel::PaidSocial);
        assert_eq!(c.rule, "utm_medium 'paid' on social source 'bluesky'");
        assert_eq!(
            channel("utm_source=brave&utm_medium=cpc", None),
            Channel::PaidSearch
        );
    }

    #[test]
    fn known_referrers_are_named_by_site_where_ga4_names_the_host_a_deviation() {
        // GA4 reports `m.facebook.com / referral`; the channel is the same.
        let c = run(&page(""), Some("https://m.facebook.com/story.php"));
        assert_eq!(
            (c.source.as_str(), c.medium.as_str()),
            ("facebook", "social")
        );
        assert_eq!(c.channel, Channel::OrganicSocial);
        let (ga4, _) = channel_for("m.facebook.com", "referral", None, None);
        assert_eq!(ga4, c.channel);
    }
}
