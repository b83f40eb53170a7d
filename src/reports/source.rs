//! Gathers a report's inputs from the store: the credits of every conversion
//! in range (through the same journeys the `conversions` query uses, so the
//! two always agree) and the touchpoints in range.

use std::collections::{BTreeSet, HashMap};

use chrono::Duration;
use sea_orm::DbErr;

use super::rows::{credited, Credited, Touch, TouchKey};
use crate::attribution::{self, Model, PageviewFact, Settings, SIGNUP, TRIAL};
use crate::journeys::{self, StoredEvent};
use crate::store::{EventFilter, PageviewFilter, Store, TimeRange};

/// Credits of conversions in range, by event name.
pub struct CreditsByName {
    pub by_name: HashMap<String, Vec<Credited>>,
}

impl CreditsByName {
    pub fn of(&self, name: &str) -> &[Credited] {
        self.by_name
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// Attributes every event named in `names` that happened in `range`.
pub async fn credits(
    store: &Store,
    settings: &Settings,
    range: TimeRange,
    names: &[&str],
    model: Model,
    lookback: Duration,
) -> Result<CreditsByName, DbErr> {
    let names: BTreeSet<String> = names.iter().map(|n| n.to_lowercase()).collect();
    let filter = EventFilter {
        names: Some(names.iter().cloned().collect()),
        range,
        ..EventFilter::default()
    };
    let rows = store.all_events(&filter).await?;
    let anonymous: Vec<String> = rows
        .iter()
        .filter(|r| r.user_id.is_none())
        .map(|r| r.fingerprint.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let owners = journeys::owners(store, &anonymous).await?;
    let keyed: Vec<(StoredEvent, journeys::JourneyKey)> = rows
        .into_iter()
        .map(|r| {
            let key = journeys::key_of(&r, &owners);
            (StoredEvent::from(r), key)
        })
        .collect();
    let keys: Vec<_> = keyed
        .iter()
        .map(|(_, k)| k.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let loaded = journeys::load(store, settings, &keys).await?;
    let mut by_name: HashMap<String, Vec<Credited>> = HashMap::new();
    for (event, key) in keyed {
        let Some(journey) = loaded.get(&key) else {
            continue;
        };
        let conversion = journey.journey.evaluate(&event.fact, lookback);
        let user = match &key {
            journeys::JourneyKey::User(u) => Some(u.as_str()),
            journeys::JourneyKey::Anonymous(_) => None,
        };
        by_name
            .entry(event.fact.name.clone())
            .or_default()
            .extend(credited(&conversion, &event.id, user, model));
    }
    Ok(CreditsByName { by_name })
}

/// The touchpoints that started in `range`. A pageview's touchpoint status
/// depends only on the same fingerprint's previous pageview within the
/// session timeout, so reading from `from - timeout` is exactly enough.
pub async fn touches(
    store: &Store,
    settings: &Settings,
    range: TimeRange,
) -> Result<Vec<Touch>, DbErr> {
    let widened = TimeRange {
        from: range.from.map(|f| f - settings.session_timeout),
        to: range.to,
    };
    let rows = store
        .all_pageviews(&PageviewFilter {
            range: widened,
            ..PageviewFilter::default()
        })
        .await?;
    let facts: Vec<PageviewFact> = rows.iter().map(PageviewFact::from).collect();
    Ok(attribution::touchpoints(&facts, settings.session_timeout)
        .into_iter()
        .filter(|t| range.contains(t.at))
        .map(|t| Touch {
            key: TouchKey {
                campaign: t.campaign.clone(),
                source: t.source.clone(),
                medium: t.medium.clone(),
                channel: t.channel,
                landing_page: t.landing_page.clone(),
            },
            fingerprint: t.fingerprint,
            at: t.at,
        })
        .collect())
}

/// The event names a report needs: the counted one, plus trials and signups
/// for the trial columns.
pub fn names_for(conversion: &str) -> Vec<&str> {
    let mut names = vec![conversion, TRIAL, SIGNUP];
    names.sort_unstable();
    names.dedup();
    names
}

/// Spend on the days of `range`: a (UTC) day counts when it starts inside
/// the range, so a month's range takes exactly that month's spend.
pub async fn spend(store: &Store, range: TimeRange) -> Result<Vec<super::SpendFact>, DbErr> {
    let first_day_starting_at_or_after = |t: chrono::DateTime<chrono::Utc>| {
        let day = t.date_naive();
        if t == day.and_time(chrono::NaiveTime::MIN).and_utc() {
            day
        } else {
            day.succ_opt().unwrap_or(day)
        }
    };
    let rows = store
        .spend_between(
            range.from.map(first_day_starting_at_or_after),
            range.to.map(first_day_starting_at_or_after),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| super::SpendFact {
            campaign: r.campaign,
            source: r.source,
            medium: r.medium,
            micros: r.amount_micros,
        })
        .collect())
}
