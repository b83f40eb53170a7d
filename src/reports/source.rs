//! Gathers a report's inputs from the store: the credits of every conversion
//! in range (through the same journeys the `conversions` query uses, so the
//! two always agree) and the touchpoints in range.

use std::collections::{BTreeSet, HashMap};

use chrono::Duration;
use sea_orm::DbErr;

use super::rows::{credited, Credited, Dimension, TouchCount, TouchKey};
use crate::attribution::{Model, Settings, SIGNUP, TRIAL};
use crate::domain::Channel;
use crate::journeys::{self, StoredEvent};
use crate::materialize::{self, Materializer};
use crate::store::{EventFilter, Store, TimeRange, TouchGrouping};

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

/// Credits of the conversions named in `names` in `range` under `model`.
/// At the default lookback they come from the materialised `credits` table
/// (after a flush, so nothing acknowledged is missing); with another
/// lookback, or an event name that is not materialised, every journey is
/// attributed on the spot.
pub async fn credits(
    store: &Store,
    materializer: &Materializer,
    settings: &Settings,
    range: TimeRange,
    names: &[&str],
    model: Model,
    lookback: Duration,
) -> Result<CreditsByName, DbErr> {
    let Some(days) = materialised_lookback(materializer, settings, names, lookback) else {
        return computed_credits(store, settings, range, names, model, lookback).await;
    };
    materializer.flush().await?;
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let rows = store.credits_in(model, days, &names, &range).await?;
    let mut by_name: HashMap<String, Vec<Credited>> = HashMap::new();
    for c in rows.into_iter().filter_map(|r| credited_of(&r, model)) {
        by_name.entry(c.name.clone()).or_default().push(c);
    }
    Ok(CreditsByName { by_name })
}

/// The lookback's days when credits at `lookback` of every name in `names`
/// are materialised.
pub fn materialised_lookback(
    materializer: &Materializer,
    settings: &Settings,
    names: &[&str],
    lookback: Duration,
) -> Option<i32> {
    let days = lookback.num_days();
    let materialised = materialize::materialised_names(settings);
    (lookback == Duration::days(days)
        && materializer.plan().has_lookback(days)
        && names.iter().all(|n| materialised.contains(*n)))
    .then(|| i32::try_from(days).ok())
    .flatten()
}

/// A stored credit row as the report fold takes it under `model`: none
/// when the model gives the row's touchpoint no credit.
pub fn credited_of(r: &entity::credit::Model, model: Model) -> Option<Credited> {
    let weight = weight(r, model);
    (weight > 0.0).then(|| Credited {
        conversion_id: r.conversion_id.clone(),
        name: r.name.clone(),
        at: r.conversion_at,
        user_id: r.user_id.clone(),
        from_trial: r.from_trial,
        time_to_convert_seconds: r.time_to_convert_seconds,
        pageviews_before: r.pageviews_before,
        pageviews_after: r.pageviews_after,
        weight,
        key: TouchKey {
            campaign: r.campaign.clone(),
            source: r.source.clone(),
            medium: r.medium.clone(),
            channel: r.channel.parse().unwrap_or(Channel::Unassigned),
            landing_page: r.landing_page.clone(),
        },
    })
}

/// A stored credit row's weight under `model`.
pub fn weight(r: &entity::credit::Model, model: Model) -> f64 {
    match model {
        Model::FirstClick => r.first_click,
        Model::LastClick => r.last_click,
        Model::LastNonDirectClick => r.last_non_direct_click,
        Model::Linear => r.linear,
        Model::PositionBased => r.position_based,
        Model::TimeDecay => r.time_decay,
    }
}

/// Sets a credit row's weight under `model`.
pub fn set_weight(r: &mut entity::credit::Model, model: Model, w: f64) {
    *match model {
        Model::FirstClick => &mut r.first_click,
        Model::LastClick => &mut r.last_click,
        Model::LastNonDirectClick => &mut r.last_non_direct_click,
        Model::Linear => &mut r.linear,
        Model::PositionBased => &mut r.position_based,
        Model::TimeDecay => &mut r.time_decay,
    } = w;
}

/// The events matching `filter`, each with the journey it belongs to (an
/// anonymous event goes to the user who owns its fingerprint), and those
/// journeys loaded: what attributing events on the spot starts from.
async fn events_with_journeys(
    store: &Store,
    settings: &Settings,
    filter: &EventFilter,
) -> Result<
    (
        Vec<(StoredEvent, journeys::JourneyKey)>,
        HashMap<journeys::JourneyKey, std::sync::Arc<journeys::UserJourney>>,
    ),
    DbErr,
> {
    let rows = store.all_events(filter).await?;
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
    Ok((keyed, loaded))
}

/// Attributes every event named in `names` that happened in `range`, from
/// the raw facts.
pub async fn computed_credits(
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
    let (keyed, loaded) = events_with_journeys(store, settings, &filter).await?;
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

/// Touchpoints and visitors per row key in `range`, from the materialised
/// touchpoints (after a flush).
pub async fn touch_counts(
    store: &Store,
    materializer: &Materializer,
    dimension: Dimension,
    range: TimeRange,
) -> Result<Vec<TouchCount>, DbErr> {
    materializer.flush().await?;
    let grouping = match dimension {
        Dimension::Campaign => TouchGrouping::Campaign,
        Dimension::Source => TouchGrouping::Source,
        Dimension::Channel => TouchGrouping::Channel,
        Dimension::LandingPage => TouchGrouping::LandingPage,
    };
    let rows = store.touch_counts(grouping, &range).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let key = TouchKey {
                campaign: r.campaign,
                source: r.source.unwrap_or_default(),
                medium: r.medium.unwrap_or_default(),
                channel: r
                    .channel
                    .as_deref()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(Channel::Unassigned),
                landing_page: r.landing_page.unwrap_or_default(),
            };
            TouchCount {
                key: dimension.key(&key),
                visitors: r.visitors as u64,
                touchpoints: r.touchpoints as u64,
            }
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

/// The acquisitions in `range` with their credits under `model` at
/// `lookback_days` (a materialised lookback) and their revenue facts at or
/// after the acquisition: the input of [`super::revenue`].
pub async fn acquisitions(
    store: &Store,
    model: Model,
    lookback_days: i32,
    range: TimeRange,
) -> Result<Vec<super::revenue::CreditedAcquisition>, DbErr> {
    use super::revenue::{Acquisition, CreditedAcquisition};
    use std::collections::BTreeMap;
    let (credits, revenue) = tokio::try_join!(
        store.acquisition_credits(model, lookback_days, &range),
        store.acquisition_revenue(&range),
    )?;
    let mut revenue_of: BTreeMap<String, Vec<(chrono::DateTime<chrono::Utc>, i64)>> =
        BTreeMap::new();
    for r in revenue {
        revenue_of
            .entry(r.journey_key)
            .or_default()
            .push((r.at, r.revenue_micros));
    }
    let mut out: Vec<CreditedAcquisition> = Vec::new();
    for row in credits {
        let key = super::TouchKey {
            channel: row
                .channel
                .parse()
                .map_err(|_| DbErr::Custom(format!("unknown channel {}", row.channel)))?,
            campaign: row.campaign,
            source: row.source,
            medium: row.medium,
            landing_page: row.landing_page,
        };
        match out.last_mut() {
            Some(last) if last.acquisition.journey_key == row.journey_key => {
                last.credits.push((key, row.weight));
            }
            _ => {
                let revenue = revenue_of.remove(&row.journey_key).unwrap_or_default();
                out.push(CreditedAcquisition {
                    acquisition: std::sync::Arc::new(Acquisition {
                        journey_key: row.journey_key,
                        acquired_at: row.acquired_at,
                        churned_at: row.churned_at,
                        revenue,
                    }),
                    credits: vec![(key, row.weight)],
                });
            }
        }
    }
    Ok(out)
}

/// Every conversion named `name` in `range` with its touchpoints in play at
/// `lookback`, oldest first: the input of the paths and the assists.
///
/// From the journeys, not the materialised `credits` table: a credit row
/// keeps a touchpoint's key but not its time, so the table cannot say in
/// which order a conversion's touchpoints came. What it costs: one read of
/// the range's events of that name, one of the owners of their anonymous
/// fingerprints, then [`journeys::load`] of those journeys (their links,
/// every pageview and event of theirs, sessionised in memory): linear in the
/// facts of the journeys converting in range, as [`computed_credits`].
/// Sorted by conversion time, then id, so the output does not depend on the
/// order rows come back in.
pub async fn in_play(
    store: &Store,
    settings: &Settings,
    range: TimeRange,
    name: &str,
    lookback: Duration,
) -> Result<Vec<super::paths::InPlay>, DbErr> {
    let filter = EventFilter {
        names: Some(vec![name.to_lowercase()]),
        range,
        ..EventFilter::default()
    };
    let (keyed, loaded) = events_with_journeys(store, settings, &filter).await?;
    let mut out: Vec<(String, super::paths::InPlay)> = keyed
        .into_iter()
        .filter_map(|(event, key)| {
            let journey = loaded.get(&key)?;
            let c = journey.journey.evaluate(&event.fact, lookback);
            Some((
                event.id,
                super::paths::InPlay {
                    converted_at: c.at,
                    first_touch_at: c.touchpoints.first().map(|t| t.at),
                    touchpoints: c.touchpoints.iter().map(TouchKey::of).collect(),
                },
            ))
        })
        .collect();
    out.sort_by(|(ia, a), (ib, b)| (a.converted_at, ia).cmp(&(b.converted_at, ib)));
    Ok(out.into_iter().map(|(_, c)| c).collect())
}
