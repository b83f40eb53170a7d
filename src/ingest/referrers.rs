//! Known referring sites and source categories, from two maintained lists embedded
//! unchanged in `data/` (see the README's "Channel classification"):
//! - Google's list of sources and their GA4 source categories
//!   (`ga4-source-categories.csv`), which is what the default channel group's
//!   rules mean by "a list of search / social / video / shopping sites";
//! - Matomo's lists of search engines, social networks and AI assistants
//!   (`matomo-*.yml`), which turn a referrer URL into a site.
//!
//! Where the two disagree about a site's category, Google's wins: a Matomo site's
//! category is Google's for its name (YouTube is a video site, not a social
//! network), and a host that Google lists by itself (`pulse.yahoo.com`,
//! `shopping.yahoo.com`) has Google's category whatever Matomo says. Sources that
//! Google does not list but Matomo does (`bluesky`, `threads`, `brave`,
//! `chatgpt`) get Matomo's category: that extends Google's list and changes no
//! source Google lists.
//!
//! The files are parsed once, on first use; a lookup is a few hash probes and a
//! scan of Matomo's few dozen `{}` patterns, cheap enough for the ingest hot path.

mod google;
mod matomo;

use std::collections::HashMap;
use std::sync::OnceLock;

use url::Url;

use self::matomo::{List, Lists, Referrer};

/// What kind of site a referrer or `utm_source` is: GA4's source categories, plus
/// AI assistants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SiteKind {
    /// A search engine (Google, Bing, DuckDuckGo, …).
    Search,
    /// A social network (Facebook, Instagram, Twitter/X, LinkedIn, …).
    Social,
    /// A video platform (YouTube, Vimeo, Twitch, Netflix, …).
    Video,
    /// A shopping site or marketplace (Amazon, eBay, Etsy, Stripe, …).
    Shopping,
    /// An AI assistant (ChatGPT, Perplexity, Claude, Gemini, Copilot, …): not one of
    /// GA4's categories, from Matomo's list.
    AiAssistant,
}

/// A site found in the lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownSite {
    /// Lower-case source name: Matomo's name for the site in canonical form
    /// (`"google"`, `"facebook"`, `"hacker-news"`), or the host as Google lists it
    /// (`"pulse.yahoo.com"`) when that name would mean another category, so that
    /// `lookup_source(&site.source)` always gives back `site.kind`.
    pub source: String,
    /// The site's category.
    pub kind: SiteKind,
}

/// Finds the site a host belongs to, as for a referrer of that host with no path.
///
/// Country variants of a search engine match (`www.google.de`, `google.co.uk`),
/// its other subdomains do not (`docs.google.com` is no site); subdomains of social
/// networks and AI assistants do (`lm.facebook.com`). Case-insensitive.
pub fn lookup(host: &str) -> Option<KnownSite> {
    let host = normalise_host(host);
    database().site(&Referrer {
        host: &host,
        path: "/",
        query: None,
    })
}

/// Finds the site a referrer URL belongs to. Unlike [`lookup`], this sees the path
/// and query, which path-scoped entries need (`x.com/i/grok` is Grok, not Twitter)
/// and so do search boxes on other sites (`www.cnn.com/search?query=…` is Google
/// search, a CNN article is not).
pub fn lookup_referrer(referrer: &Url) -> Option<KnownSite> {
    let host = normalise_host(referrer.host_str()?);
    database().site(&Referrer {
        host: &host,
        path: referrer.path(),
        query: referrer.query(),
    })
}

/// The category of a source as it appears in `utm_source` or as
/// [`KnownSite::source`]: Google's list first (`"facebook"`, `"m.facebook.com"`,
/// `"hulu"`), then, for a dotted source, the site of that host
/// (`"www.google.de"`), then Matomo's site names (`"bluesky"`, `"chatgpt"`).
/// Case-insensitive; surrounding whitespace is ignored.
pub fn lookup_source(source: &str) -> Option<SiteKind> {
    database().source_kind(&source.trim().to_lowercase())
}

struct Database {
    /// Google's list, by lower-case source.
    google: HashMap<String, SiteKind>,
    matomo: Lists,
    /// Per Matomo site (same index as `matomo.sites`): canonical name and category.
    resolved: Vec<(String, SiteKind)>,
    /// Matomo's canonical names and their categories.
    names: HashMap<String, SiteKind>,
}

impl Database {
    /// `source` must be lower-case and trimmed.
    fn source_kind(&self, source: &str) -> Option<SiteKind> {
        if let Some(kind) = self.google.get(source) {
            return Some(*kind);
        }
        // A dotted source is a host first: "mail.ru" the site, "my.mail.ru" another.
        if source.contains('.') {
            let host = Referrer {
                host: source,
                path: "/",
                query: None,
            };
            if let Some((_, kind)) = self.site_unchecked(&host) {
                return Some(kind);
            }
        }
        self.names.get(source).copied()
    }

    fn site(&self, referrer: &Referrer<'_>) -> Option<KnownSite> {
        let (source, kind) = self.site_unchecked(referrer)?;
        // The channel rules see only the source, so it must name the site's own
        // category: where the canonical name means something else, use the host.
        let source = if self.source_kind(&source) == Some(kind) {
            source
        } else {
            strip_www(referrer.host).to_owned()
        };
        Some(KnownSite { source, kind })
    }

    /// Source and category of a referrer, before making sure the source looks up to
    /// the same category.
    fn site_unchecked(&self, referrer: &Referrer<'_>) -> Option<(String, SiteKind)> {
        let bare = strip_www(referrer.host);
        let listed_host = [referrer.host, bare]
            .into_iter()
            .find_map(|h| self.google.get(h).map(|kind| (h, *kind)));
        let matomo = self.matomo.find(referrer).map(|i| self.resolved[i].clone());
        match (listed_host, matomo) {
            // Google lists the host itself: its category wins, and so does Matomo's
            // name when it means the same category.
            (Some((host, kind)), Some((name, _))) => {
                let name_kind = self.google.get(&name).or_else(|| self.names.get(&name));
                Some(if name_kind == Some(&kind) {
                    (name, kind)
                } else {
                    (host.to_owned(), kind)
                })
            }
            (Some((host, kind)), None) => Some((host.to_owned(), kind)),
            (None, site) => site,
        }
    }
}

fn database() -> &'static Database {
    static DB: OnceLock<Database> = OnceLock::new();
    DB.get_or_init(|| {
        // The files are compiled in and unit tests parse them, so a failure here is
        // a build defect, not bad input.
        let google = google::categories().expect("data/ga4-source-categories.csv is valid");
        let matomo = Lists::parse().expect("data/matomo-*.yml are valid");
        build(google, matomo)
    })
}

fn build(google: HashMap<String, SiteKind>, matomo: Lists) -> Database {
    let resolved: Vec<(String, SiteKind)> = matomo
        .sites
        .iter()
        .map(|site| {
            let name = canonical_name(&site.name);
            let listed = google
                .get(&name)
                .or_else(|| google.get(&site.name.to_lowercase()));
            let kind = listed.copied().unwrap_or(match site.list {
                List::SearchEngines => SiteKind::Search,
                List::Socials => SiteKind::Social,
                List::AiAssistants => SiteKind::AiAssistant,
            });
            (name, kind)
        })
        .collect();
    let mut names: HashMap<String, SiteKind> = HashMap::new();
    for (name, kind) in &resolved {
        names
            .entry(name.clone())
            .and_modify(|k| {
                if rank(*kind) < rank(*k) {
                    *k = *kind;
                }
            })
            .or_insert(*kind);
    }
    Database {
        google,
        matomo,
        resolved,
        names,
    }
}

/// When several Matomo sites share a canonical name, the name means the
/// lowest-ranked category.
fn rank(kind: SiteKind) -> u8 {
    match kind {
        SiteKind::AiAssistant => 0,
        SiteKind::Shopping => 1,
        SiteKind::Video => 2,
        SiteKind::Search => 3,
        SiteKind::Social => 4,
    }
}

/// Canonical source name for a Matomo name: lower-case, spaces → `-`, anything
/// else outside `[a-z0-9.+-]` dropped (`"Yahoo!"` → `"yahoo"`, `"Hacker News"` →
/// `"hacker-news"`, `"Google+"` stays `"google+"` as in Google's list).
fn canonical_name(name: &str) -> String {
    name.chars()
        .filter_map(|c| {
            let c = if c == ' ' {
                '-'
            } else {
                c.to_ascii_lowercase()
            };
            (c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '+'))
                .then_some(c)
        })
        .collect()
}

fn normalise_host(host: &str) -> String {
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

fn strip_www(host: &str) -> &str {
    host.strip_prefix("www.").unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(host: &str) -> Option<(String, SiteKind)> {
        lookup(host).map(|s| (s.source, s.kind))
    }

    fn site(source: &str, kind: SiteKind) -> Option<(String, SiteKind)> {
        Some((source.to_owned(), kind))
    }

    #[test]
    fn googles_list_parses_with_all_819_sources_in_four_categories() {
        let rows = google::rows().expect("the embedded CSV parses");
        assert_eq!(rows.len(), 819);
        for kind in [
            SiteKind::Search,
            SiteKind::Social,
            SiteKind::Video,
            SiteKind::Shopping,
        ] {
            assert!(rows.iter().any(|(_, k)| *k == kind), "{kind:?}");
        }
    }

    #[test]
    fn every_source_in_googles_list_has_googles_category() {
        for (source, kind) in google::rows().expect("CSV") {
            assert_eq!(lookup_source(&source), Some(kind), "{source}");
            assert_eq!(
                lookup_source(&source.to_uppercase()),
                Some(kind),
                "{source}"
            );
        }
    }

    #[test]
    fn every_host_in_googles_list_is_a_referrer_of_googles_category() {
        for (source, kind) in google::rows().expect("CSV") {
            if source.contains('.') && !source.contains(' ') {
                let site = lookup(&source);
                assert_eq!(site.map(|s| s.kind), Some(kind), "{source}");
            }
        }
    }

    #[test]
    fn googles_examples_of_each_category_are_known() {
        let cases = [
            ("snapchat", SiteKind::Social),
            ("line", SiteKind::Social),
            ("wechat", SiteKind::Social),
            ("medium.com", SiteKind::Social),
            ("blogher", SiteKind::Social),
            ("netflix", SiteKind::Video),
            ("wistia", SiteKind::Video),
            ("hulu", SiteKind::Video),
            ("alibaba", SiteKind::Shopping),
            ("mercadolibre", SiteKind::Shopping),
            ("stripe", SiteKind::Shopping),
            ("so.com", SiteKind::Search),
            ("msn.com", SiteKind::Search),
        ];
        for (source, kind) in cases {
            assert_eq!(lookup_source(source), Some(kind), "{source}");
        }
    }

    #[test]
    fn google_wins_where_the_lists_disagree() {
        assert_eq!(lookup_source("digg"), Some(SiteKind::Social));
        assert_eq!(lookup_source("friendfeed"), Some(SiteKind::Social));
        // Matomo files YouTube and Vimeo under social networks.
        assert_eq!(lookup_source("youtube"), Some(SiteKind::Video));
        assert_eq!(found("www.youtube.com"), site("youtube", SiteKind::Video));
        assert_eq!(
            found("shopping.yahoo.com"),
            site("shopping.yahoo.com", SiteKind::Shopping)
        );
        assert_eq!(
            found("pulse.yahoo.com"),
            site("pulse.yahoo.com", SiteKind::Social)
        );
        assert_eq!(
            found("messages.google.com"),
            site("messages.google.com", SiteKind::Social)
        );
        assert_eq!(
            found("news.google.com"),
            site("google-news", SiteKind::Search)
        );
    }

    #[test]
    fn country_variants_of_a_search_engine_are_search_but_its_other_products_are_not() {
        assert_eq!(found("www.google.de"), site("google", SiteKind::Search));
        assert_eq!(found("google.co.uk"), site("google", SiteKind::Search));
        assert_eq!(found("WWW.Google.COM."), site("google", SiteKind::Search));
        assert_eq!(
            found("de.search.yahoo.com"),
            site("yahoo", SiteKind::Search)
        );
        for host in [
            "docs.google.com",
            "drive.google.com",
            "support.google.com",
            "maps.google.com",
            "mail.google.com",
            "finance.yahoo.com",
        ] {
            assert_eq!(found(host), None, "{host}");
        }
    }

    #[test]
    fn maintained_lists_know_newer_sites() {
        assert_eq!(found("www.threads.net"), site("threads", SiteKind::Social));
        assert_eq!(found("bsky.app"), site("bluesky", SiteKind::Social));
        assert_eq!(found("search.brave.com"), site("brave", SiteKind::Search));
        assert_eq!(found("chatgpt.com"), site("chatgpt", SiteKind::AiAssistant));
        assert_eq!(
            found("chat.deepseek.com"),
            site("deepseek", SiteKind::AiAssistant)
        );
        assert_eq!(
            found("gemini.google.com"),
            site("gemini", SiteKind::AiAssistant)
        );
        assert_eq!(lookup_source("Perplexity"), Some(SiteKind::AiAssistant));
    }

    #[test]
    fn path_scoped_entries_need_the_referrer_url() {
        let url = |s: &str| Url::parse(s).expect("test URL");
        let grok = lookup_referrer(&url("https://x.com/i/grok?conversation=1"));
        assert_eq!(
            grok.map(|s| (s.source, s.kind)),
            site("grok", SiteKind::AiAssistant)
        );
        let tweet = lookup_referrer(&url("https://x.com/someone/status/1"));
        assert_eq!(
            tweet.map(|s| (s.source, s.kind)),
            site("twitter", SiteKind::Social)
        );
    }

    #[test]
    fn unknown_hosts_and_bare_tlds_are_not_found() {
        assert_eq!(lookup("blog.example.org"), None);
        assert_eq!(lookup("com"), None);
        assert_eq!(lookup(""), None);
        assert_eq!(lookup_source("newsletter"), None);
    }

    #[test]
    fn every_referrer_source_looks_up_to_the_same_category() {
        let db = database();
        let google_hosts = db.google.keys().filter(|k| k.contains('.'));
        let mut known = 0;
        for host in google_hosts
            .map(String::as_str)
            .chain(db.matomo.plain_hosts())
        {
            if let Some(site) = lookup(host) {
                known += 1;
                assert_eq!(lookup_source(&site.source), Some(site.kind), "{host}");
            }
        }
        assert!(known > 1200, "{known}");
    }

    #[test]
    fn canonical_names_keep_only_safe_characters() {
        assert_eq!(canonical_name("Yahoo!"), "yahoo");
        assert_eq!(canonical_name("Mail.ru"), "mail.ru");
        assert_eq!(canonical_name("Google+"), "google+");
        assert_eq!(canonical_name("Hacker News"), "hacker-news");
    }
}
