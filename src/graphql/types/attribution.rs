//! `Attribution`, `Touchpoint`, `Credit` and the `AttributionModel` enum.

use std::sync::Arc;

use async_graphql::{Enum, Object, SimpleObject};

use super::ChannelGql;
use crate::attribution::{self, Conversion, Model};
use crate::graphql::scalars::DateTime;

/// How a conversion's credit is split over its touchpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "AttributionModel", remote = "crate::attribution::Model")]
pub enum AttributionModelGql {
    /// All credit to the first touchpoint in the lookback window.
    FirstClick,
    /// All credit to the last touchpoint before the conversion.
    LastClick,
    /// All credit to the last touchpoint that is not DIRECT (DIRECT only when
    /// there is nothing else) — Google Analytics' classic default.
    LastNonDirectClick,
    /// Equal credit to every touchpoint.
    Linear,
    /// 40% first, 40% last, 20% spread over the middle; one touchpoint gets
    /// 100%, two get 50% each.
    PositionBased,
    /// Credit halves for every 7 days a touchpoint lies before the conversion.
    TimeDecay,
}

/// A marketing touchpoint: the pageview that started a visit from a channel
/// (campaign parameters, a click id, an external referrer, or a new session).
#[derive(Debug, Clone, SimpleObject)]
pub struct Touchpoint {
    /// When the touchpoint's pageview happened.
    pub at: DateTime,
    /// The device it happened on.
    pub fingerprint: String,
    pub url: String,
    pub landing_page: String,
    pub referrer_url: Option<String>,
    pub source: String,
    pub medium: String,
    pub campaign: Option<String>,
    pub content: Option<String>,
    pub term: Option<String>,
    pub channel: ChannelGql,
    /// Which classification rule gave the touchpoint its channel.
    pub rule: String,
    /// Whether this is a DIRECT touchpoint (a session start without a marketing signal).
    pub is_direct: bool,
}

impl From<&attribution::Touchpoint> for Touchpoint {
    fn from(t: &attribution::Touchpoint) -> Self {
        Self {
            at: t.at.into(),
            fingerprint: t.fingerprint.clone(),
            url: t.url.clone(),
            landing_page: t.landing_page.clone(),
            referrer_url: t.referrer_url.clone(),
            source: t.source.clone(),
            medium: t.medium.clone(),
            campaign: t.campaign.clone(),
            content: t.content.clone(),
            term: t.term.clone(),
            channel: t.channel.into(),
            rule: t.rule.clone(),
            is_direct: t.is_direct(),
        }
    }
}

/// The share of one conversion credited to one touchpoint.
#[derive(Debug, Clone, SimpleObject)]
pub struct Credit {
    pub touchpoint: Touchpoint,
    /// Between 0 and 1; a conversion's weights sum to exactly 1.
    pub weight: f64,
}

/// Which touchpoints brought a conversion, and how each model credits them.
pub struct Attribution {
    pub conversion: Arc<Conversion>,
    pub lookback_days: i64,
}

#[Object]
impl Attribution {
    /// The first touchpoint in the window.
    async fn first_click(&self) -> Option<Touchpoint> {
        self.conversion.first_click().map(Touchpoint::from)
    }

    /// The last touchpoint before the conversion.
    async fn last_click(&self) -> Option<Touchpoint> {
        self.conversion.last_click().map(Touchpoint::from)
    }

    /// The last non-DIRECT touchpoint (the last one when all are DIRECT).
    async fn last_non_direct_click(&self) -> Option<Touchpoint> {
        self.conversion
            .last_non_direct_click()
            .map(Touchpoint::from)
    }

    /// Every touchpoint in play (in the lookback window, at or before the conversion), oldest first.
    async fn touchpoints(&self) -> Vec<Touchpoint> {
        self.conversion
            .touchpoints
            .iter()
            .map(Touchpoint::from)
            .collect()
    }

    /// The touchpoints that get credit under `model`, in touchpoint order;
    /// touchpoints with zero credit are left out. Weights sum to exactly 1;
    /// empty when no touchpoint is in play.
    async fn credits(&self, model: AttributionModelGql) -> Vec<Credit> {
        self.conversion
            .credits(Model::from(model))
            .into_iter()
            .map(|(t, weight)| Credit {
                touchpoint: t.into(),
                weight,
            })
            .collect()
    }

    /// The lookback window this attribution was computed with, in days.
    async fn lookback_days(&self) -> i64 {
        self.lookback_days
    }
}
