//! Matomo's referrer lists (`data/matomo-*.yml`): search engines, social networks
//! and AI assistants by host, parsed once from the upstream files as shipped.
//!
//! Each list is matched the way Matomo itself matches it, because that is what its
//! maintainers curate the entries for:
//! - Social networks and AI assistants match the listed domain and any subdomain
//!   (`es.linkedin.com` is LinkedIn), optionally scoped to a path prefix
//!   (`x.com/i/grok` is Grok, the rest of `x.com` is Twitter).
//! - Search engines match exactly, after dropping a leading `www`, `wwwN` or `m`
//!   label, with Matomo's `{}` placeholder standing for a country: `google.{}` is
//!   `google.de` or `google.co.uk`, `{}.search.yahoo.com` is `de.search.yahoo.com`.
//!   There is deliberately no walk up to the parent domain: the subdomains of a
//!   search engine's domain are mostly other products (`docs.google.com`,
//!   `support.google.com`), which GA4 records as referrals. Path-scoped entries
//!   (`google.{}/imgres`) win over their host's plain entry.
//!
//! Matomo counts a search-engine referrer only when it carries a keyword parameter
//! or its path matches a "hidden keyword" pattern. Browsers' default referrer
//! policy now strips cross-origin referrers to the origin, so for an engine's own
//! hosts (the first definition listed under its name) the host alone suffices. The
//! further definitions under a name are mostly search boxes on other sites that the
//! engine powers (`www.cnn.com` under Google): for those Matomo's rule applies, so
//! an ordinary link from CNN stays a referral.

use std::collections::HashMap;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;

/// `data/matomo-SearchEngines.yml`, unchanged from upstream.
pub(super) const SEARCH_ENGINES: &str = include_str!("../../../data/matomo-SearchEngines.yml");
/// `data/matomo-Socials.yml`, unchanged from upstream.
pub(super) const SOCIALS: &str = include_str!("../../../data/matomo-Socials.yml");
/// `data/matomo-AIAssistants.yml`, unchanged from upstream.
pub(super) const AI_ASSISTANTS: &str = include_str!("../../../data/matomo-AIAssistants.yml");

/// Search "engines" in Matomo's list that GA4 reports as referrals: a click from a
/// map listing or a translated page is not a search result. Matched by Matomo name.
const NOT_SEARCH: [&str; 2] = ["Google Maps", "Google Translations"];

/// Which of Matomo's lists an entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum List {
    SearchEngines,
    Socials,
    AiAssistants,
}

/// One site of a Matomo list: its name as listed (`"Google"`, `"Hacker News"`).
#[derive(Debug)]
pub(super) struct Site {
    pub(super) name: String,
    pub(super) list: List,
}

/// A referrer as the lists see it: lower-case host, path and query.
pub(super) struct Referrer<'a> {
    pub(super) host: &'a str,
    pub(super) path: &'a str,
    pub(super) query: Option<&'a str>,
}

/// When a search-engine definition applies to a referrer from its host.
#[derive(Debug)]
enum Condition {
    /// An engine's own hosts: always.
    Always,
    /// Another site's search box: only with a keyword or a hidden-keyword path.
    Keyword {
        params: Vec<String>,
        patterns: Vec<Regex>,
        literal_paths: Vec<String>,
    },
}

#[derive(Debug)]
struct Entry {
    site: usize,
    /// Lower-case path prefix the entry is scoped to, e.g. `/imgres`.
    path: Option<String>,
    condition: Condition,
}

/// Host patterns of one matching style, keyed by lower-case host.
#[derive(Debug, Default)]
struct Index {
    exact: HashMap<String, Vec<Entry>>,
    /// Patterns with a `{}` placeholder, as labels.
    placeholders: Vec<(Vec<String>, Entry)>,
}

/// The three lists, indexed.
#[derive(Debug)]
pub(super) struct Lists {
    pub(super) sites: Vec<Site>,
    /// Search engines: exact hosts.
    search: Index,
    /// Social networks and AI assistants: domains and their subdomains.
    domains: Index,
}

#[derive(Deserialize)]
struct RawDefinition {
    urls: Vec<String>,
    #[serde(default)]
    params: Vec<String>,
    #[serde(default)]
    hiddenkeyword: Vec<String>,
}

/// Why an embedded list could not be read; a build defect, caught by unit tests.
#[derive(Debug, thiserror::Error)]
pub(super) enum ListError {
    #[error("{file}: {source}")]
    Yaml {
        file: &'static str,
        source: Box<serde_saphyr::Error>,
    },
    #[error("{file}: pattern {pattern:?} under {name:?}: {source}")]
    Pattern {
        file: &'static str,
        name: String,
        pattern: String,
        source: Box<regex::Error>,
    },
}

impl Lists {
    /// Parses the three embedded files.
    pub(super) fn parse() -> Result<Lists, ListError> {
        let mut lists = Lists {
            sites: Vec::new(),
            search: Index::default(),
            domains: Index::default(),
        };
        let engines: HashMap<String, Vec<RawDefinition>> = serde_saphyr::from_str(SEARCH_ENGINES)
            .map_err(|source| ListError::Yaml {
            file: "matomo-SearchEngines.yml",
            source: Box::new(source),
        })?;
        for (name, definitions) in engines {
            if NOT_SEARCH.contains(&name.as_str()) {
                continue;
            }
            let site = lists.add_site(name, List::SearchEngines);
            for (i, definition) in definitions.into_iter().enumerate() {
                for url in &definition.urls {
                    let condition = if i == 0 {
                        Condition::Always
                    } else {
                        keyword_condition(&lists.sites[site].name, &definition)?
                    };
                    lists.search.insert(url, site, condition);
                }
            }
        }
        for (file, text, list) in [
            ("matomo-AIAssistants.yml", AI_ASSISTANTS, List::AiAssistants),
            ("matomo-Socials.yml", SOCIALS, List::Socials),
        ] {
            let sites: HashMap<String, Vec<String>> =
                serde_saphyr::from_str(text).map_err(|source| ListError::Yaml {
                    file,
                    source: Box::new(source),
                })?;
            for (name, urls) in sites {
                let site = lists.add_site(name, list);
                for url in &urls {
                    lists.domains.insert(url, site, Condition::Always);
                }
            }
        }
        Ok(lists)
    }

    fn add_site(&mut self, name: String, list: List) -> usize {
        // Names are stored percent-encoded where they hold a `+` ("Google%2B").
        let name = name.replace("%2B", "+").replace("%2b", "+");
        self.sites.push(Site { name, list });
        self.sites.len() - 1
    }

    /// The index into [`Lists::sites`] of the site a referrer belongs to.
    ///
    /// At the referrer's own host, AI assistants win over social networks, which
    /// win over search engines (an assistant lives on a search company's domain:
    /// `gemini.google.com`); a parent domain only matches a social network or an
    /// AI assistant.
    pub(super) fn find(&self, referrer: &Referrer<'_>) -> Option<usize> {
        let bare = strip_prefix_label(referrer.host);
        let own: &[&str] = if bare == referrer.host {
            &[referrer.host]
        } else {
            &[referrer.host, bare]
        };
        let at_own_host = [List::AiAssistants, List::Socials]
            .into_iter()
            .find_map(|list| {
                own.iter()
                    .find_map(|h| self.domains.find(h, referrer, &self.sites, Some(list)))
            })
            .or_else(|| {
                own.iter()
                    .find_map(|h| self.search.find(h, referrer, &self.sites, None))
            });
        if at_own_host.is_some() {
            return at_own_host;
        }
        let mut candidate = bare;
        while let Some((_, parent)) = candidate.split_once('.') {
            if !parent.contains('.') {
                break;
            }
            if let Some(site) = self.domains.find(parent, referrer, &self.sites, None) {
                return Some(site);
            }
            candidate = parent;
        }
        None
    }
}

impl Lists {
    /// Every host listed without a placeholder or a path, for tests.
    #[cfg(test)]
    pub(super) fn plain_hosts(&self) -> impl Iterator<Item = &str> {
        self.search
            .exact
            .keys()
            .chain(self.domains.exact.keys())
            .map(String::as_str)
    }
}

fn keyword_condition(name: &str, definition: &RawDefinition) -> Result<Condition, ListError> {
    let compile = |pattern: &str| {
        php_regex(pattern)
            .map(|body| {
                RegexBuilder::new(body)
                    .case_insensitive(true)
                    .build()
                    .map_err(|source| ListError::Pattern {
                        file: "matomo-SearchEngines.yml",
                        name: name.to_owned(),
                        pattern: pattern.to_owned(),
                        source: Box::new(source),
                    })
            })
            .transpose()
    };
    let mut params = Vec::new();
    let mut patterns = Vec::new();
    let mut literal_paths = Vec::new();
    for param in &definition.params {
        match compile(param)? {
            Some(regex) => patterns.push(regex),
            None => params.push(param.to_ascii_lowercase()),
        }
    }
    for hidden in &definition.hiddenkeyword {
        match compile(hidden)? {
            Some(regex) => patterns.push(regex),
            None => literal_paths.push(hidden.to_ascii_lowercase()),
        }
    }
    Ok(Condition::Keyword {
        params,
        patterns,
        literal_paths,
    })
}

/// The body of a PHP-style `/…/` regex, or `None` for a plain string. A lone `/`
/// is Matomo's literal root path, not a regex.
fn php_regex(pattern: &str) -> Option<&str> {
    pattern
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix('/'))
        .filter(|_| pattern.len() > 1)
}

impl Condition {
    fn holds(&self, referrer: &Referrer<'_>) -> bool {
        let Condition::Keyword {
            params,
            patterns,
            literal_paths,
        } = self
        else {
            return true;
        };
        let query = referrer.query.unwrap_or("");
        let has_keyword = query.split('&').any(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            !value.is_empty() && params.iter().any(|p| key.eq_ignore_ascii_case(p))
        });
        if has_keyword {
            return true;
        }
        let path_and_query = match referrer.query {
            Some(q) => format!("{}?{q}", referrer.path),
            None => referrer.path.to_owned(),
        };
        patterns.iter().any(|r| r.is_match(&path_and_query))
            || literal_paths
                .iter()
                .any(|p| p.eq_ignore_ascii_case(&path_and_query))
    }
}

impl Index {
    fn insert(&mut self, url: &str, site: usize, condition: Condition) {
        let url = url.trim().to_ascii_lowercase();
        let (host, path) = match url.split_once('/') {
            Some((host, path)) => (host.to_owned(), Some(format!("/{path}"))),
            None => (url, None),
        };
        if host.is_empty() || !host.contains('.') {
            return;
        }
        let entry = Entry {
            site,
            path,
            condition,
        };
        if host.contains("{}") {
            let labels = host.split('.').map(str::to_owned).collect();
            self.placeholders.push((labels, entry));
        } else {
            // Path-scoped entries first, so they win over the host's plain entry.
            let entries = self.exact.entry(host).or_default();
            let at = if entry.path.is_some() {
                0
            } else {
                entries.len()
            };
            entries.insert(at, entry);
        }
    }

    /// The first entry for `host` that applies to the referrer; path-scoped entries
    /// first. `list` restricts the match to one list.
    fn find(
        &self,
        host: &str,
        referrer: &Referrer<'_>,
        sites: &[Site],
        list: Option<List>,
    ) -> Option<usize> {
        let applies = |e: &&Entry| {
            list.is_none_or(|l| sites[e.site].list == l)
                && e.path
                    .as_deref()
                    .is_none_or(|p| path_has_prefix(referrer.path, p))
                && e.condition.holds(referrer)
        };
        // A path-scoped entry wins at once; otherwise the first plain one.
        let mut plain = None;
        let exact = self.exact.get(host).map(Vec::as_slice).unwrap_or_default();
        for entry in exact.iter().filter(applies) {
            if entry.path.is_some() {
                return Some(entry.site);
            }
            plain.get_or_insert(entry.site);
        }
        if self.placeholders.is_empty() {
            return plain;
        }
        let labels: Vec<&str> = host.split('.').collect();
        let patterned = self
            .placeholders
            .iter()
            .filter(|(pattern, _)| placeholder_match(pattern, &labels))
            .map(|(_, entry)| entry);
        for entry in patterned.filter(applies) {
            if entry.path.is_some() {
                return Some(entry.site);
            }
            plain.get_or_insert(entry.site);
        }
        plain
    }
}

/// `path` starts with `prefix` at a segment boundary, ignoring ASCII case.
fn path_has_prefix(path: &str, prefix: &str) -> bool {
    let Some(head) = path.get(..prefix.len()) else {
        return false;
    };
    head.eq_ignore_ascii_case(prefix)
        && (prefix.ends_with('/') || matches!(path.as_bytes().get(prefix.len()), None | Some(b'/')))
}

/// Second-level labels under which countries register domains (`co.uk`,
/// `com.br`), for a trailing `{}`: Matomo's own list plus the common `ac`, `gov`,
/// `ne` and `or`.
const SECOND_LEVEL: [&str; 10] = [
    "com", "org", "net", "co", "it", "edu", "ac", "gov", "ne", "or",
];

/// Matomo's `{}` placeholder: as the last label, any top-level domain, or a
/// country's second-level domain (`co.uk`); elsewhere, one country-code label.
fn placeholder_match(pattern: &[String], host: &[&str]) -> bool {
    let labels_match = |pattern: &[String], host: &[&str]| {
        pattern.len() == host.len()
            && pattern
                .iter()
                .zip(host)
                .all(|(p, h)| if p == "{}" { is_country(h) } else { p == h })
    };
    match pattern.split_last() {
        Some((last, init)) if last == "{}" => (1..=2).any(|n| {
            host.len() > n
                && is_top_level(&host[host.len() - n..])
                && labels_match(init, &host[..host.len() - n])
        }),
        _ => labels_match(pattern, host),
    }
}

fn is_country(label: &str) -> bool {
    label.len() == 2 && label.bytes().all(|b| b.is_ascii_lowercase())
}

fn is_top_level(labels: &[&str]) -> bool {
    match labels {
        [tld] => tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_lowercase()),
        [second, country] => SECOND_LEVEL.contains(second) && is_country(country),
        _ => false,
    }
}

/// The host without a leading `www`, `wwwN` or `m` label, which Matomo ignores
/// when matching search engines (`www.google.de` is `google.{}`).
pub(super) fn strip_prefix_label(host: &str) -> &str {
    match host.split_once('.') {
        Some((first, rest))
            if rest.contains('.')
                && (first == "m"
                    || first
                        .strip_prefix("www")
                        .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))) =>
        {
            rest
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn referrer(host: &str) -> Referrer<'_> {
        Referrer {
            host,
            path: "/",
            query: None,
        }
    }

    fn find_name(lists: &Lists, r: &Referrer<'_>) -> Option<String> {
        lists.find(r).map(|i| lists.sites[i].name.clone())
    }

    #[test]
    fn the_embedded_lists_parse_and_the_keyword_patterns_in_use_compile() {
        let lists = Lists::parse().expect("the embedded lists parse");
        assert!(lists.sites.len() > 400, "{}", lists.sites.len());
        assert!(
            lists.search.exact.len() > 600,
            "{}",
            lists.search.exact.len()
        );
        assert!(
            lists.domains.exact.len() > 200,
            "{}",
            lists.domains.exact.len()
        );
    }

    #[test]
    fn country_placeholders_match_country_variants_only() {
        let p = |s: &str| s.split('.').map(str::to_owned).collect::<Vec<_>>();
        assert!(placeholder_match(&p("google.{}"), &["google", "de"]));
        assert!(placeholder_match(&p("google.{}"), &["google", "co", "uk"]));
        assert!(placeholder_match(&p("google.{}"), &["google", "com", "br"]));
        assert!(!placeholder_match(
            &p("google.{}"),
            &["docs", "google", "com"]
        ));
        assert!(!placeholder_match(
            &p("google.{}"),
            &["google", "blogspot", "com"]
        ));
        assert!(placeholder_match(&p("{}.bing.com"), &["cn", "bing", "com"]));
        assert!(!placeholder_match(
            &p("{}.bing.com"),
            &["ads", "bing", "com"]
        ));
    }

    #[test]
    fn search_engines_match_their_hosts_but_not_other_subdomains() {
        let lists = Lists::parse().expect("lists");
        let name = |h: &str| find_name(&lists, &referrer(h));
        assert_eq!(name("www.google.de").as_deref(), Some("Google"));
        assert_eq!(name("google.co.uk").as_deref(), Some("Google"));
        assert_eq!(name("search.brave.com").as_deref(), Some("Brave"));
        assert_eq!(name("docs.google.com"), None);
        assert_eq!(name("support.google.com"), None);
        assert_eq!(name("maps.google.com"), None);
        assert_eq!(name("translate.google.com"), None);
    }

    #[test]
    fn path_scoped_entries_win_over_their_host() {
        let lists = Lists::parse().expect("lists");
        let grok = Referrer {
            host: "x.com",
            path: "/i/grok",
            query: Some("conversation=1"),
        };
        assert_eq!(find_name(&lists, &grok).as_deref(), Some("Grok"));
        assert_eq!(
            find_name(&lists, &referrer("x.com")).as_deref(),
            Some("Twitter")
        );
        let images = Referrer {
            host: "www.google.de",
            path: "/imgres",
            query: None,
        };
        assert_eq!(find_name(&lists, &images).as_deref(), Some("Google Images"));
        let not_images = Referrer {
            host: "www.google.de",
            path: "/imgresx",
            query: None,
        };
        assert_eq!(find_name(&lists, &not_images).as_deref(), Some("Google"));
    }

    #[test]
    fn a_search_box_on_another_site_needs_its_keyword() {
        let lists = Lists::parse().expect("lists");
        let article = Referrer {
            host: "www.cnn.com",
            path: "/2026/07/01/world/story",
            query: None,
        };
        assert_eq!(find_name(&lists, &article), None);
        assert_eq!(find_name(&lists, &referrer("www.cnn.com")), None);
        let search = Referrer {
            host: "www.cnn.com",
            path: "/search",
            query: Some("query=books"),
        };
        assert_eq!(find_name(&lists, &search).as_deref(), Some("Google"));
    }

    #[test]
    fn social_networks_and_assistants_match_subdomains() {
        let lists = Lists::parse().expect("lists");
        let found = |h: &str| find_name(&lists, &referrer(h));
        assert_eq!(found("es.linkedin.com").as_deref(), Some("LinkedIn"));
        assert_eq!(found("bsky.app").as_deref(), Some("Bluesky"));
        assert_eq!(found("l.threads.com").as_deref(), Some("Threads"));
        assert_eq!(found("gemini.google.com").as_deref(), Some("Gemini"));
        assert_eq!(found("plus.google.com").as_deref(), Some("Google+"));
        assert_eq!(found("linkedin.com.evil.example"), None);
    }

    #[test]
    fn only_www_and_m_prefixes_are_ignored() {
        assert_eq!(strip_prefix_label("www.google.de"), "google.de");
        assert_eq!(strip_prefix_label("www2.google.com"), "google.com");
        assert_eq!(strip_prefix_label("m.so.com"), "so.com");
        assert_eq!(strip_prefix_label("www.com"), "www.com");
        assert_eq!(strip_prefix_label("docs.google.com"), "docs.google.com");
    }
}
