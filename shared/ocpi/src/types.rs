//! Types the modules share: display texts, prices, roles, business details, coordinates.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A text in a language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayText {
    /// ISO 639-1 language (`en`).
    pub language: String,
    /// The text (at most 512 characters).
    pub text: String,
}

/// An amount excluding and including VAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    /// Excluding VAT.
    #[serde(with = "cpms_ocpp::number")]
    pub excl_vat: Decimal,
    /// Including VAT (absent where VAT is not known or does not apply).
    #[serde(
        default,
        with = "cpms_ocpp::number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub incl_vat: Option<Decimal>,
}

/// A party's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    /// Charge point operator.
    Cpo,
    /// e-Mobility service provider.
    Emsp,
    /// Roaming hub.
    Hub,
    /// National access point.
    Nap,
    /// Navigation service provider.
    Nsp,
    /// Other.
    Other,
    /// Smart charging service provider.
    Scsp,
}

/// An image (a logo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Where it is.
    pub url: String,
    /// A smaller version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
    /// `CHARGER`, `ENTRANCE`, `LOCATION`, `NETWORK`, `OPERATOR`, `OTHER`, `OWNER`.
    pub category: String,
    /// `gif`, `jpeg`, `png`, `svg`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Width (px).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height (px).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// Who a party is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessDetails {
    /// Name (at most 100 characters).
    pub name: String,
    /// Website.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<Image>,
}

/// Coordinates as OCPI writes them: decimal degrees as strings, 5 to 7 decimals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeoLocation {
    /// `-?[0-9]{1,2}\.[0-9]{5,7}`.
    pub latitude: String,
    /// `-?[0-9]{1,3}\.[0-9]{5,7}`.
    pub longitude: String,
}

impl GeoLocation {
    /// Coordinates from degrees, written with 6 decimals.
    pub fn from_degrees(latitude: f64, longitude: f64) -> Self {
        GeoLocation {
            latitude: format!("{latitude:.6}"),
            longitude: format!("{longitude:.6}"),
        }
    }

    /// Whether both read as the specification's patterns say.
    pub fn is_valid(&self) -> bool {
        fn ok(s: &str, int_digits: usize) -> bool {
            let s = s.strip_prefix('-').unwrap_or(s);
            let Some((i, f)) = s.split_once('.') else {
                return false;
            };
            (1..=int_digits).contains(&i.len())
                && (5..=7).contains(&f.len())
                && i.bytes().chain(f.bytes()).all(|b| b.is_ascii_digit())
        }
        ok(&self.latitude, 2) && ok(&self.longitude, 3)
    }
}

/// Where a location is: the address block a location and a CDR's copy of it share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// Street and number.
    pub address: String,
    /// City.
    pub city: String,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// State or province.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// ISO 3166-1 alpha-3.
    pub country: String,
    /// Where.
    pub coordinates: GeoLocation,
}
