//! Journeys: a user's stored facts, loaded in batches and handed to the pure
//! [`attribution`](crate::attribution) engine.
//!
//! Who a fact belongs to:
//! - a user's fingerprints are every fingerprint ever linked to their id;
//! - their pageviews are all pageviews of those fingerprints (also the ones
//!   from before the link was known: that is how a late login re-attributes);
//! - their events are those sent with their id, plus those sent without an
//!   id from one of their fingerprints *when they own it*. A shared device
//!   can be linked to several users; its anonymous events go to the user
//!   linked to it first (ties by id), so every event belongs to exactly one
//!   journey and `conversions` never counts one twice.
//!
//! Nothing here is cached across requests: attribution is computed from the
//! stored facts on every read, so it is by construction equal to computing
//! from scratch, whatever order the webhooks arrived in.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use entity::{event, identity_link, pageview};
use sea_orm::DbErr;

use crate::attribution::{self, EventFact, Journey, PageviewFact, Settings};
use crate::config::AttributionConfig;
use crate::domain::Channel;
use crate::store::Store;

/// Whose journey: a known user, or a lone fingerprint that never logged in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JourneyKey {
    User(String),
    Anonymous(String),
}

/// A stored event with its public id (see [`event_id`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: String,
    pub row: event::Model,
    pub fact: EventFact,
}

impl From<event::Model> for StoredEvent {
    fn from(row: event::Model) -> Self {
        Self {
            id: event_id(&row.dedup_key),
            fact: EventFact {
                name: row.name.clone(),
                fingerprint: row.fingerprint.clone(),
                user_id: row.user_id.clone(),
                at: row.created_at,
            },
            row,
        }
    }
}

/// One user's (or fingerprint's) facts, ready to attribute.
#[derive(Debug, Clone)]
pub struct UserJourney {
    pub key: JourneyKey,
    /// Sorted, distinct.
    pub fingerprints: Vec<String>,
    /// Earliest time any of the user's identity links was seen.
    pub first_seen_at: Option<DateTime<Utc>>,
    /// The events that belong to this journey, in content order.
    pub events: Vec<StoredEvent>,
    pub journey: Journey,
}

impl UserJourney {
    /// Whether anything is known about this key.
    pub fn is_known(&self) -> bool {
        !self.fingerprints.is_empty() || !self.events.is_empty()
    }

    /// The journey's conversion events, oldest first.
    pub fn conversion_events<'a>(
        &'a self,
        settings: &'a Settings,
    ) -> impl Iterator<Item = &'a StoredEvent> + 'a {
        self.events
            .iter()
            .filter(|e| settings.conversion_events.contains(&e.fact.name))
    }

    /// The earliest `signup`: what a user's attribution answers for.
    pub fn first_signup(&self) -> Option<&StoredEvent> {
        self.events
            .iter()
            .find(|e| e.fact.name == attribution::SIGNUP)
    }
}

/// A conversion's public id: the hex of its event's natural key, so it is the
/// same on every database that received the same webhooks.
pub fn event_id(dedup_key: &[u8]) -> String {
    dedup_key.iter().map(|b| format!("{b:02x}")).collect()
}

/// The engine's settings from the service's configuration.
pub fn settings(config: &AttributionConfig) -> Settings {
    Settings {
        session_timeout: Duration::minutes(i64::from(config.session_timeout_minutes)),
        lookback: Duration::days(i64::from(config.lookback_days)),
        conversion_events: config
            .conversion_events
            .iter()
            .map(|n| n.trim().to_lowercase())
            .filter(|n| !n.is_empty())
            .collect(),
    }
}

impl From<&pageview::Model> for PageviewFact {
    fn from(m: &pageview::Model) -> Self {
        PageviewFact {
            fingerprint: m.fingerprint.clone(),
            at: m.created_at,
            url: m.url.clone(),
            landing_page: m.landing_page.clone(),
            referrer_url: m.referrer_url.clone(),
            source: m.source.clone(),
            medium: m.medium.clone(),
            campaign: m.campaign.clone(),
            content: m.content.clone(),
            term: m.term.clone(),
            channel: m.channel.parse().unwrap_or(Channel::Unassigned),
            rule: m.rule.clone(),
        }
    }
}

/// The owner of each fingerprint among `links`: the user linked first (ties by id).
fn owners_from(links: &[identity_link::Model]) -> HashMap<String, String> {
    let mut best: HashMap<String, (DateTime<Utc>, String)> = HashMap::new();
    for link in links {
        let candidate = (link.first_seen_at, link.user_id.clone());
        best.entry(link.fingerprint.clone())
            .and_modify(|b| {
                if candidate < *b {
                    *b = candidate.clone();
                }
            })
            .or_insert(candidate);
    }
    best.into_iter().map(|(fp, (_, user))| (fp, user)).collect()
}

/// The owning user of each of these fingerprints, where one is linked.
pub async fn owners(
    store: &Store,
    fingerprints: &[String],
) -> Result<HashMap<String, String>, DbErr> {
    if fingerprints.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(owners_from(
        &store.links_of_fingerprints(fingerprints).await?,
    ))
}

/// The journey an event belongs to, given the owners of anonymous fingerprints.
pub fn key_of(event: &event::Model, owners: &HashMap<String, String>) -> JourneyKey {
    match (&event.user_id, owners.get(&event.fingerprint)) {
        (Some(user), _) => JourneyKey::User(user.clone()),
        (None, Some(owner)) => JourneyKey::User(owner.clone()),
        (None, None) => JourneyKey::Anonymous(event.fingerprint.clone()),
    }
}

/// Loads the journeys of many keys in a fixed number of statements.
pub async fn load(
    store: &Store,
    settings: &Settings,
    keys: &[JourneyKey],
) -> Result<HashMap<JourneyKey, Arc<UserJourney>>, DbErr> {
    Ok(load_with_facts(store, settings, keys).await?.0)
}

/// The pageview facts of each fingerprint a batch of journeys read.
pub type FactsOfFingerprint = HashMap<String, Vec<PageviewFact>>;

/// As [`load`], also handing back the pageview facts it read, by
/// fingerprint (every fingerprint of the keys, anonymous ones included), so
/// the materialiser reads each pageview once per step.
pub async fn load_with_facts(
    store: &Store,
    settings: &Settings,
    keys: &[JourneyKey],
) -> Result<(HashMap<JourneyKey, Arc<UserJourney>>, FactsOfFingerprint), DbErr> {
    let users: Vec<String> = keys
        .iter()
        .filter_map(|k| match k {
            JourneyKey::User(u) => Some(u.clone()),
            JourneyKey::Anonymous(_) => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let user_links = if users.is_empty() {
        Vec::new()
    } else {
        store.links_of_users(&users).await?
    };
    let mut fps_of_user: BTreeMap<&str, (BTreeSet<String>, Option<DateTime<Utc>>)> =
        BTreeMap::new();
    for link in &user_links {
        let entry = fps_of_user.entry(link.user_id.as_str()).or_default();
        entry.0.insert(link.fingerprint.clone());
        entry.1 = Some(
            entry
                .1
                .map_or(link.first_seen_at, |t| t.min(link.first_seen_at)),
        );
    }
    let mut all_fps: BTreeSet<String> = user_links.iter().map(|l| l.fingerprint.clone()).collect();
    for key in keys {
        if let JourneyKey::Anonymous(fp) = key {
            all_fps.insert(fp.clone());
        }
    }
    let all_fps: Vec<String> = all_fps.into_iter().collect();
    let owners = owners(store, &all_fps).await?;
    let (pageviews, events) = if all_fps.is_empty() && users.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        (
            store.pageview_facts_of_fingerprints(&all_fps).await?,
            store.events_of(&users, &all_fps).await?,
        )
    };

    let mut pageviews_of_fp: FactsOfFingerprint = HashMap::new();
    for pv in pageviews {
        pageviews_of_fp
            .entry(pv.fingerprint.clone())
            .or_default()
            .push(pv);
    }
    let mut events_of_key: HashMap<JourneyKey, Vec<StoredEvent>> = HashMap::new();
    for ev in events {
        let key = key_of(&ev, &owners);
        events_of_key
            .entry(key)
            .or_default()
            .push(StoredEvent::from(ev));
    }

    let mut out = HashMap::with_capacity(keys.len());
    for key in keys {
        if out.contains_key(key) {
            continue;
        }
        let (fingerprints, first_seen_at) = match key {
            JourneyKey::User(user) => fps_of_user
                .get(user.as_str())
                .map(|(fps, first)| (fps.iter().cloned().collect::<Vec<_>>(), *first))
                .unwrap_or_default(),
            JourneyKey::Anonymous(fp) => (vec![fp.clone()], None),
        };
        let facts: Vec<PageviewFact> = fingerprints
            .iter()
            .flat_map(|fp| pageviews_of_fp.get(fp).into_iter().flatten().cloned())
            .collect();
        let mut events = events_of_key.remove(key).unwrap_or_default();
        events.sort_by(|a, b| {
            attribution::cmp_events(&a.fact, &b.fact).then_with(|| a.id.cmp(&b.id))
        });
        let event_facts: Vec<EventFact> = events.iter().map(|e| e.fact.clone()).collect();
        let journey = Journey::new(&facts, &event_facts, settings.session_timeout);
        out.insert(
            key.clone(),
            Arc::new(UserJourney {
                key: key.clone(),
                fingerprints,
                first_seen_at,
                events,
                journey,
            }),
        );
    }
    Ok((out, pageviews_of_fp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(fp: &str, user: &str, secs: i64) -> identity_link::Model {
        identity_link::Model {
            fingerprint: fp.into(),
            user_id: user.into(),
            first_seen_at: DateTime::from_timestamp(secs, 0).unwrap(),
        }
    }

    #[test]
    fn a_shared_fingerprint_belongs_to_the_user_linked_first_then_by_id() {
        let owners = owners_from(&[
            link("fp", "b", 10),
            link("fp", "a", 20),
            link("fp2", "z", 5),
            link("fp2", "y", 5),
        ]);
        assert_eq!(owners["fp"], "b");
        assert_eq!(owners["fp2"], "y");
    }

    #[test]
    fn event_ids_are_the_hex_of_the_natural_key() {
        assert_eq!(event_id(&[0x00, 0xab, 0x10]), "00ab10");
    }
}

/// What the reports call a conversion without touchpoints: source `(not set)`,
/// channel UNASSIGNED, no campaign.
pub const NOT_SET: &str = "(not set)";

/// Conditions on the touchpoint(s) credited for a conversion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreditFilter {
    pub channel: Option<Channel>,
    pub source: Option<String>,
    pub campaign: Option<String>,
}

impl CreditFilter {
    pub fn is_empty(&self) -> bool {
        self.channel.is_none() && self.source.is_none() && self.campaign.is_none()
    }

    /// Whether a touchpoint credited under `model` meets every condition. A
    /// conversion without touchpoints counts as source `(not set)`, channel
    /// UNASSIGNED, no campaign; under a multi-touch model any touchpoint with
    /// a non-zero share qualifies.
    pub fn matches(&self, conversion: &attribution::Conversion, model: attribution::Model) -> bool {
        let credits = conversion.credits(model);
        if credits.is_empty() {
            return self.channel.is_none_or(|c| c == Channel::Unassigned)
                && self.source.as_deref().is_none_or(|s| s == NOT_SET)
                && self.campaign.is_none();
        }
        credits.iter().any(|(t, _)| {
            self.channel.is_none_or(|c| t.channel == c)
                && self.source.as_deref().is_none_or(|s| t.source == s)
                && self
                    .campaign
                    .as_deref()
                    .is_none_or(|c| t.campaign.as_deref() == Some(c))
        })
    }
}
