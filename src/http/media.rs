//! Content negotiation for GraphQL over HTTP's two response types, shared
//! by the GraphQL handler and the auth layer (whose refusals of `/graphql`
//! answer in the type the client asked for).

/// The spec's own media type: 4xx statuses for requests that fail early.
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
pub const JSON: &str = "application/json";

/// The response media type a request negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/json`: the legacy type, always 200 for GraphQL results.
    Json,
    /// `application/graphql-response+json`.
    GraphqlResponse,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Json => JSON,
            MediaType::GraphqlResponse => GRAPHQL_RESPONSE_JSON,
        }
    }
}

/// Picks the response type from an `Accept` header: the supported type
/// with the highest `q`; on a tie the spec's own type, then an exact type
/// over a wildcard. Wildcards mean `application/json`. `None`: nothing
/// acceptable (406).
pub fn negotiate(accept: Option<&str>) -> Option<MediaType> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Some(MediaType::Json);
    };
    // (q, preference, type): higher wins.
    let mut best: Option<(f32, u8, MediaType)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut q = 1.0f32;
        for param in parts {
            if let Some((k, v)) = param.split_once('=') {
                if k.trim().eq_ignore_ascii_case("q") {
                    q = v.trim().parse().unwrap_or(0.0);
                }
            }
        }
        let candidate = match essence.as_str() {
            GRAPHQL_RESPONSE_JSON => (2, MediaType::GraphqlResponse),
            JSON => (1, MediaType::Json),
            "application/*" | "*/*" => (0, MediaType::Json),
            _ => continue,
        };
        if q <= 0.0 {
            continue;
        }
        let better = best.is_none_or(|(bq, bp, _)| q > bq || (q == bq && candidate.0 > bp));
        if better {
            best = Some((q, candidate.0, candidate.1));
        }
    }
    best.map(|(_, _, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_and_wildcard_accepts_get_plain_json() {
        for accept in [
            None,
            Some(""),
            Some("application/json"),
            Some("*/*"),
            Some("application/*"),
            Some("text/html, */*;q=0.8"),
        ] {
            assert_eq!(negotiate(accept), Some(MediaType::Json), "{accept:?}");
        }
    }

    #[test]
    fn the_spec_type_is_used_only_when_accepted() {
        assert_eq!(
            negotiate(Some("application/graphql-response+json")),
            Some(MediaType::GraphqlResponse)
        );
        assert_eq!(
            negotiate(Some("application/json, application/graphql-response+json")),
            Some(MediaType::GraphqlResponse)
        );
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json;q=0.5, application/json"
            )),
            Some(MediaType::Json)
        );
        assert_eq!(
            negotiate(Some("application/graphql-response+json;charset=utf-8")),
            Some(MediaType::GraphqlResponse)
        );
    }

    #[test]
    fn nothing_acceptable_is_none() {
        assert_eq!(negotiate(Some("text/html")), None);
        assert_eq!(negotiate(Some("application/json;q=0")), None);
    }
}
