//! Domain types, parsed once at the edge so that nothing past ingestion has to
//! re-check a fingerprint's length or a URL's scheme.

mod channel;
mod spend;
mod text;
mod webhook;
mod window;

pub use channel::Channel;
pub use spend::{
    parse_date, Amount, Currency, NewSpend, RawSpend, AMOUNT_SCALE, DEFAULT_CURRENCY, MAX_AMOUNT,
};
pub use text::{check_identifier, check_text, is_invisible};
pub use webhook::{
    parse_timestamp, EventName, FieldError, Fingerprint, NewEvent, NewPageview, RawEvent,
    RawPageview, UserId, WebUrl, MAX_ID_LEN, MAX_URL_LEN,
};
pub use window::{
    last_four_digit_instant, AcceptWindow, TimeWindow, DEFAULT_EARLIEST, DEFAULT_MAX_AHEAD_SECS,
};
