//! Known referring sites: the Snowplow referer-parser database plus GA4's fix-ups.
//!
//! The database is embedded at build time and parsed once, on first use, into two
//! hash maps: host → site and canonical source name → kind. A lookup costs one map
//! probe per host label, so it is cheap enough for the ingest hot path.
//!
//! Where GA4's source categories disagree with Snowplow, GA4 wins: video platforms
//! (YouTube, Vimeo, Twitch, Dailymotion) are [`SiteKind::Video`] rather than social,
//! marketplaces (Amazon, eBay, …) are [`SiteKind::Shopping`] rather than search, and
//! AI assistants, which Snowplow does not know, are added as
//! [`SiteKind::AiAssistant`]. Snowplow's `paid` (ad networks) and `unknown`
//! (e.g. `support.google.com`) entries become [`SiteKind::Other`]: a click through
//! an ad server or a help page is neither search nor social, and keeping those hosts
//! in the table stops the subdomain walk from mistaking them for their parent
//! (`support.google.com` is not Google search).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// The Snowplow referer-parser database, as shipped in `data/referers.json`.
const DATABASE: &str = include_str!("../../data/referers.json");

/// What kind of site a referrer or `utm_source` is, in GA4's source categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SiteKind {
    /// A search engine (Google, Bing, DuckDuckGo, …).
    Search,
    /// A social network (Facebook, Instagram, Twitter/X, LinkedIn, …).
    Social,
    /// A video platform (YouTube, Vimeo, Twitch, Dailymotion).
    Video,
    /// A webmail site (Gmail, Outlook.com, …).
    Email,
    /// A shopping site or marketplace (Amazon, eBay, Etsy, …).
    Shopping,
    /// An AI assistant (ChatGPT, Perplexity, Claude, Gemini, Copilot).
    AiAssistant,
    /// Known to the database but in no GA4 category (ad servers, help pages).
    Other,
}

/// A site found in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownSite {
    /// Canonical lower-case source name, e.g. `"google"`, `"facebook"`.
    ///
    /// When the database's name for this host is claimed by a site of another kind
    /// (Yandex is both a search engine and a webmail, Google both search and an ad
    /// server), the host without `www.` is used instead, so that
    /// `lookup_source(site.source)` always gives back `site.kind`.
    pub source: &'static str,
    /// The site's category.
    pub kind: SiteKind,
}

/// Finds the site a host belongs to, trying the host and then each parent domain:
/// `www.google.de` → the `google.de` entry, `m.youtube.com` → `youtube.com`.
///
/// The most specific host wins, so `gemini.google.com` is Gemini, not Google. The
/// walk stops before the last label, so a bare TLD never matches.
pub fn lookup(host: &str) -> Option<KnownSite> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let site = database().site(&ascii_lowercase(host))?;
    Some(KnownSite {
        source: &site.source,
        kind: site.kind,
    })
}

/// The kind of a source as it appears in `utm_source` or as [`KnownSite::source`]:
/// `"facebook"` → Social, `"youtube"` → Video, `"google"` → Search,
/// `"chatgpt"` → AiAssistant. Domain-looking sources (`"facebook.com"`,
/// `"m.facebook.com"`) are looked up as hosts first, then as names. Case-insensitive.
pub fn lookup_source(source: &str) -> Option<SiteKind> {
    database().source_kind(&ascii_lowercase(source.trim()))
}

/// Canonical source name for a database name: lower-case, spaces → `-`, anything
/// else outside `[a-z0-9.-]` dropped (`"Yahoo! Mail"` → `"yahoo-mail"`).
fn canonical_name(name: &str) -> String {
    name.chars()
        .filter_map(|c| {
            let c = if c == ' ' {
                '-'
            } else {
                c.to_ascii_lowercase()
            };
            (c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-').then_some(c)
        })
        .collect()
}

/// Sites Snowplow lacks, or files under another category than GA4; they override
/// the database's entry for the same host.
const EXTRA_SITES: &[(&str, &str, SiteKind)] = &[
    ("chatgpt.com", "chatgpt", SiteKind::AiAssistant),
    ("chat.openai.com", "chatgpt", SiteKind::AiAssistant),
    ("perplexity.ai", "perplexity", SiteKind::AiAssistant),
    ("claude.ai", "claude", SiteKind::AiAssistant),
    ("gemini.google.com", "gemini", SiteKind::AiAssistant),
    ("copilot.microsoft.com", "copilot", SiteKind::AiAssistant),
    ("twitch.tv", "twitch", SiteKind::Video),
    ("dailymotion.com", "dailymotion", SiteKind::Video),
    ("dai.ly", "dailymotion", SiteKind::Video),
    ("youtube.com", "youtube", SiteKind::Video),
    ("youtu.be", "youtube", SiteKind::Video),
    ("vimeo.com", "vimeo", SiteKind::Video),
    ("amazon.com", "amazon", SiteKind::Shopping),
    ("amazon.de", "amazon", SiteKind::Shopping),
    ("amazon.co.uk", "amazon", SiteKind::Shopping),
    ("amazon.fr", "amazon", SiteKind::Shopping),
    ("amazon.es", "amazon", SiteKind::Shopping),
    ("amazon.it", "amazon", SiteKind::Shopping),
    ("amazon.ca", "amazon", SiteKind::Shopping),
    ("amazon.co.jp", "amazon", SiteKind::Shopping),
    ("ebay.com", "ebay", SiteKind::Shopping),
    ("ebay.de", "ebay", SiteKind::Shopping),
    ("ebay.co.uk", "ebay", SiteKind::Shopping),
    ("etsy.com", "etsy", SiteKind::Shopping),
    ("shopify.com", "shopify", SiteKind::Shopping),
    ("walmart.com", "walmart", SiteKind::Shopping),
    ("shopping.google.com", "google-shopping", SiteKind::Shopping),
    ("t.co", "twitter", SiteKind::Social),
    ("x.com", "twitter", SiteKind::Social),
    ("l.instagram.com", "instagram", SiteKind::Social),
    ("tiktok.com", "tiktok", SiteKind::Social),
];

/// Short source names campaigns commonly use in `utm_source`, with no host of their own.
const EXTRA_NAMES: &[(&str, SiteKind)] = &[
    ("fb", SiteKind::Social),
    ("ig", SiteKind::Social),
    ("x", SiteKind::Social),
    ("yt", SiteKind::Video),
];

/// GA4 category for a database name, where it differs from Snowplow's medium.
fn kind_override(canonical: &str) -> Option<SiteKind> {
    match canonical {
        "youtube" | "vimeo" | "twitch" | "dailymotion" => Some(SiteKind::Video),
        "amazon" | "ebay" | "etsy" | "shopify" | "walmart" | "google-shopping" => {
            Some(SiteKind::Shopping)
        }
        _ => None,
    }
}

fn medium_kind(medium: &str) -> SiteKind {
    match medium {
        "search" => SiteKind::Search,
        "social" => SiteKind::Social,
        "email" => SiteKind::Email,
        _ => SiteKind::Other,
    }
}

/// When several database entries share a canonical name, the name means the
/// lowest-ranked kind: "google" is the search engine, not Google's ad servers, and
/// "yandex" the search engine, not Yandex Mail.
fn rank(kind: SiteKind) -> u8 {
    match kind {
        SiteKind::AiAssistant => 0,
        SiteKind::Shopping => 1,
        SiteKind::Video => 2,
        SiteKind::Search => 3,
        SiteKind::Social => 4,
        SiteKind::Email => 5,
        SiteKind::Other => 6,
    }
}

#[derive(Deserialize)]
struct RawSite {
    domains: Vec<String>,
}

struct Site {
    source: Box<str>,
    kind: SiteKind,
}

struct Database {
    hosts: HashMap<Box<str>, Site>,
    names: HashMap<Box<str>, SiteKind>,
}

impl Database {
    /// `host` must be lower-case.
    fn site(&self, host: &str) -> Option<&Site> {
        let mut candidate = host;
        loop {
            if let Some(site) = self.hosts.get(candidate) {
                return Some(site);
            }
            let (_, parent) = candidate.split_once('.')?;
            if !parent.contains('.') {
                return None;
            }
            candidate = parent;
        }
    }

    /// `source` must be lower-case.
    fn source_kind(&self, source: &str) -> Option<SiteKind> {
        // A dotted source is a domain first: "mail.ru" the host, not the name three
        // Mail.ru entries (search, email, social) share.
        if source.contains('.') {
            if let Some(site) = self.site(source) {
                return Some(site.kind);
            }
        }
        self.names.get(source).copied()
    }
}

fn database() -> &'static Database {
    static DB: OnceLock<Database> = OnceLock::new();
    DB.get_or_init(|| {
        // The file is compiled in and a unit test parses it, so a failure here is a
        // build defect, not bad input.
        let raw: HashMap<String, HashMap<String, RawSite>> =
            serde_json::from_str(DATABASE).expect("data/referers.json is valid");
        build(raw)
    })
}

fn build(raw: HashMap<String, HashMap<String, RawSite>>) -> Database {
    let mut entries: Vec<(String, SiteKind, Vec<String>)> = Vec::new();
    for (medium, sites) in raw {
        let base = medium_kind(&medium);
        for (name, site) in sites {
            let name = canonical_name(&name);
            let kind = kind_override(&name).unwrap_or(base);
            entries.push((name, kind, site.domains));
        }
    }
    // Extras go last so that they overwrite the database's entry for a host.
    for &(host, name, kind) in EXTRA_SITES {
        entries.push((name.to_owned(), kind, vec![host.to_owned()]));
    }

    let mut names: HashMap<Box<str>, SiteKind> = HashMap::new();
    let claims = entries
        .iter()
        .map(|(name, kind, _)| (name.as_str(), *kind))
        .chain(EXTRA_NAMES.iter().copied());
    for (name, kind) in claims {
        names
            .entry(name.into())
            .and_modify(|k| {
                if rank(kind) < rank(*k) {
                    *k = kind;
                }
            })
            .or_insert(kind);
    }

    let mut hosts: HashMap<Box<str>, Site> = HashMap::with_capacity(2500);
    for (name, kind, domains) in &entries {
        for domain in domains {
            // Entries scoped to a path (`google.de/imgres`) can't be told apart by
            // host alone; their hosts have host-level entries of their own.
            if domain.contains('/') || domain.is_empty() {
                continue;
            }
            hosts.insert(
                domain.to_ascii_lowercase().into(),
                Site {
                    source: name.as_str().into(),
                    kind: *kind,
                },
            );
        }
    }
    let mut db = Database { hosts, names };

    // A site's source must name its own kind, or the channel rules, which see only
    // the source, would misfile it: Yandex Mail's "yandex" would be search. Where the
    // canonical name belongs to another kind, fall back to the host without `www.`,
    // then to the full host, which always resolves to itself.
    let fixes: Vec<(Box<str>, Box<str>)> = db
        .hosts
        .iter()
        .filter(|(_, site)| db.source_kind(&site.source) != Some(site.kind))
        .map(|(host, site)| {
            let bare = strip_www(host);
            let source = if db.source_kind(bare) == Some(site.kind) {
                bare
            } else {
                host
            };
            (host.clone(), source.into())
        })
        .collect();
    for (host, source) in fixes {
        if let Some(site) = db.hosts.get_mut(&host) {
            site.source = source;
        }
    }
    db
}

fn strip_www(host: &str) -> &str {
    host.strip_prefix("www.").unwrap_or(host)
}

fn ascii_lowercase(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_database_parses_and_is_large() {
        let raw: Result<HashMap<String, HashMap<String, RawSite>>, _> =
            serde_json::from_str(DATABASE);
        assert!(raw.is_ok());
        assert!(database().hosts.len() > 1500);
    }

    #[test]
    fn subdomains_walk_up_to_the_known_domain() {
        let google = lookup("www.google.de").map(|s| (s.source, s.kind));
        assert_eq!(google, Some(("google", SiteKind::Search)));
        let youtube = lookup("www.youtube.com").map(|s| (s.source, s.kind));
        assert_eq!(youtube, Some(("youtube", SiteKind::Video)));
        assert_eq!(lookup("m.facebook.com").map(|s| s.source), Some("facebook"));
        assert_eq!(lookup("l.facebook.com").map(|s| s.source), Some("facebook"));
        assert_eq!(
            lookup("WWW.Facebook.COM.").map(|s| s.source),
            Some("facebook")
        );
    }

    #[test]
    fn specific_hosts_win_over_their_parent_domain() {
        let gemini = lookup("gemini.google.com").map(|s| (s.source, s.kind));
        assert_eq!(gemini, Some(("gemini", SiteKind::AiAssistant)));
        let shopping = lookup("shopping.google.com").map(|s| s.kind);
        assert_eq!(shopping, Some(SiteKind::Shopping));
        assert_eq!(
            lookup("support.google.com").map(|s| s.kind),
            Some(SiteKind::Other)
        );
    }

    #[test]
    fn unknown_hosts_and_bare_tlds_are_not_found() {
        assert_eq!(lookup("blog.example.org"), None);
        assert_eq!(lookup("com"), None);
        assert_eq!(lookup(""), None);
    }

    #[test]
    fn source_names_have_ga4_kinds() {
        assert_eq!(lookup_source("facebook"), Some(SiteKind::Social));
        assert_eq!(lookup_source("Facebook"), Some(SiteKind::Social));
        assert_eq!(lookup_source("youtube"), Some(SiteKind::Video));
        assert_eq!(lookup_source("google"), Some(SiteKind::Search));
        assert_eq!(lookup_source("chatgpt"), Some(SiteKind::AiAssistant));
        assert_eq!(lookup_source("amazon"), Some(SiteKind::Shopping));
        assert_eq!(lookup_source("gmail"), Some(SiteKind::Email));
        assert_eq!(lookup_source("facebook.com"), Some(SiteKind::Social));
        assert_eq!(lookup_source("newsletter"), None);
    }

    #[test]
    fn every_host_source_looks_up_to_the_same_kind() {
        for (host, site) in &database().hosts {
            assert_eq!(lookup_source(&site.source), Some(site.kind), "{host}");
        }
    }

    #[test]
    fn canonical_names_keep_only_safe_characters() {
        assert_eq!(canonical_name("Yahoo! Mail"), "yahoo-mail");
        assert_eq!(canonical_name("Mail.ru"), "mail.ru");
        assert_eq!(canonical_name("Google+"), "google");
    }
}
