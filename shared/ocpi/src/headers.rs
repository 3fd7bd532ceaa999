//! The headers OCPI requests and answers carry: tracing (`X-Request-ID` per hop, `X-Correlation-ID`
//! end to end), routing (`OCPI-from/to-country-code`, `-party-id`) and pagination.

/// A unique id per request (per hop).
pub const REQUEST_ID: &str = "x-request-id";
/// The same id across a chain of requests.
pub const CORRELATION_ID: &str = "x-correlation-id";
/// The sender's country.
pub const FROM_COUNTRY_CODE: &str = "ocpi-from-country-code";
/// The sender's party id.
pub const FROM_PARTY_ID: &str = "ocpi-from-party-id";
/// The receiver's country.
pub const TO_COUNTRY_CODE: &str = "ocpi-to-country-code";
/// The receiver's party id.
pub const TO_PARTY_ID: &str = "ocpi-to-party-id";
/// How many objects a paginated list holds in all.
pub const TOTAL_COUNT: &str = "x-total-count";
/// The most objects one page of the list may hold.
pub const LIMIT: &str = "x-limit";
/// The next page.
pub const LINK: &str = "link";

/// A party: country code and party id (ISO 3166 alpha-2 and 3 characters, as OCPI names parties).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartyRef {
    /// Country.
    pub country_code: String,
    /// Party id.
    pub party_id: String,
}

impl PartyRef {
    /// A party, upper-cased (OCPI compares them without case).
    pub fn new(country_code: &str, party_id: &str) -> Self {
        PartyRef {
            country_code: country_code.to_ascii_uppercase(),
            party_id: party_id.to_ascii_uppercase(),
        }
    }

    /// Whether it is a well-formed party: two letters and three alphanumerics.
    pub fn is_valid(&self) -> bool {
        self.country_code.len() == 2
            && self.country_code.bytes().all(|b| b.is_ascii_uppercase())
            && self.party_id.len() == 3
            && self
                .party_id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    }
}

impl std::fmt::Display for PartyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}*{}", self.country_code, self.party_id)
    }
}
