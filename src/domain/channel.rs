//! The marketing channel of a touchpoint: Google Analytics 4's default channel group.
//!
//! The variants and their order are GA4's; `classify` picks the first that matches.

use std::fmt;
use std::str::FromStr;

/// GA4 default channel group. Stored as its SCREAMING_SNAKE_CASE name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Direct,
    CrossNetwork,
    PaidShopping,
    PaidSearch,
    PaidSocial,
    PaidVideo,
    Display,
    PaidOther,
    OrganicShopping,
    OrganicSocial,
    OrganicVideo,
    OrganicSearch,
    Referral,
    Email,
    Affiliates,
    Audio,
    Sms,
    MobilePush,
    AiAssistants,
    Unassigned,
}

impl Channel {
    /// Every channel, in GA4's precedence order.
    pub const ALL: [Channel; 20] = [
        Channel::Direct,
        Channel::CrossNetwork,
        Channel::PaidShopping,
        Channel::PaidSearch,
        Channel::PaidSocial,
        Channel::PaidVideo,
        Channel::Display,
        Channel::PaidOther,
        Channel::OrganicShopping,
        Channel::OrganicSocial,
        Channel::OrganicVideo,
        Channel::OrganicSearch,
        Channel::Referral,
        Channel::Email,
        Channel::Affiliates,
        Channel::Audio,
        Channel::Sms,
        Channel::MobilePush,
        Channel::AiAssistants,
        Channel::Unassigned,
    ];

    /// The stored and displayed name, e.g. `PAID_SOCIAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Direct => "DIRECT",
            Channel::CrossNetwork => "CROSS_NETWORK",
            Channel::PaidShopping => "PAID_SHOPPING",
            Channel::PaidSearch => "PAID_SEARCH",
            Channel::PaidSocial => "PAID_SOCIAL",
            Channel::PaidVideo => "PAID_VIDEO",
            Channel::Display => "DISPLAY",
            Channel::PaidOther => "PAID_OTHER",
            Channel::OrganicShopping => "ORGANIC_SHOPPING",
            Channel::OrganicSocial => "ORGANIC_SOCIAL",
            Channel::OrganicVideo => "ORGANIC_VIDEO",
            Channel::OrganicSearch => "ORGANIC_SEARCH",
            Channel::Referral => "REFERRAL",
            Channel::Email => "EMAIL",
            Channel::Affiliates => "AFFILIATES",
            Channel::Audio => "AUDIO",
            Channel::Sms => "SMS",
            Channel::MobilePush => "MOBILE_PUSH",
            Channel::AiAssistants => "AI_ASSISTANTS",
            Channel::Unassigned => "UNASSIGNED",
        }
    }

    /// Paid media, as the reports' paid share counts it (issue #4): the paid
    /// channels plus display, cross-network and affiliates.
    pub fn is_paid(self) -> bool {
        matches!(
            self,
            Channel::PaidSearch
                | Channel::PaidSocial
                | Channel::PaidVideo
                | Channel::PaidShopping
                | Channel::PaidOther
                | Channel::Display
                | Channel::CrossNetwork
                | Channel::Affiliates
        )
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown channel '{s}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_round_trips_through_its_name() {
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>(), Ok(c));
        }
    }
}
