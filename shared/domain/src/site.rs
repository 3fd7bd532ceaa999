//! Sites (OCPI locations): where chargers stand, with address, coordinates, time zone and the grid
//! connection they share.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::check_text as text;
use crate::{DomainError, TenantId};

/// A site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// Tenant.
    pub tenant: TenantId,
    /// Id (1 to 36 of `A-Z a-z 0-9 - _ .`, as OCPI location ids).
    pub id: String,
    /// Name shown to drivers.
    pub name: String,
    /// Postal address.
    pub address: Address,
    /// Where it is.
    pub coordinates: Coordinates,
    /// IANA time zone (`Europe/Berlin`): tariffs' times of day and billing periods are in it.
    pub time_zone: String,
    /// What the grid connection allows for all its chargers together, in kW (smart charging keeps under it).
    #[serde(default, with = "cpms_ocpp::number::option")]
    pub grid_limit_kw: Option<Decimal>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Street and number.
    pub street: String,
    /// City.
    pub city: String,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-3 country code (OCPI), e.g. `DEU`.
    pub country: String,
}

/// WGS 84 coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Coordinates {
    /// Latitude, -90 to 90.
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    pub latitude: Decimal,
    /// Longitude, -180 to 180.
    #[schemars(with = "f64")]
    #[serde(with = "cpms_ocpp::number")]
    pub longitude: Decimal,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        reason: reason.into(),
    }
}

impl Site {
    /// Checks every field; the first problem is returned.
    pub fn validate(&self) -> Result<(), DomainError> {
        let id_ok = (1..=36).contains(&self.id.len())
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !id_ok {
            return Err(DomainError::InvalidId {
                what: "site id",
                reason: "use 1 to 36 letters, digits, '-', '_' or '.'".into(),
            });
        }
        text("name", &self.name, 255)?;
        text("address.street", &self.address.street, 255)?;
        text("address.city", &self.address.city, 100)?;
        if let Some(p) = &self.address.postal_code {
            text("address.postal_code", p, 20)?;
        }
        if !(self.address.country.len() == 3
            && self.address.country.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(invalid(
                "address.country",
                "must be an ISO 3166-1 alpha-3 code in capitals, e.g. DEU",
            ));
        }
        let c = self.coordinates;
        if c.latitude.abs() > Decimal::from(90) {
            return Err(invalid(
                "coordinates.latitude",
                "must be between -90 and 90",
            ));
        }
        if c.longitude.abs() > Decimal::from(180) {
            return Err(invalid(
                "coordinates.longitude",
                "must be between -180 and 180",
            ));
        }
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(invalid(
                "time_zone",
                format!(
                    "{:?} is not an IANA time zone (e.g. Europe/Berlin)",
                    self.time_zone
                ),
            ));
        }
        if let Some(l) = self.grid_limit_kw
            && l <= Decimal::ZERO
        {
            return Err(invalid("grid_limit_kw", "must be positive"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        Site {
            tenant: TenantId::default_tenant(),
            id: "berlin-1".into(),
            name: "Depot Berlin".into(),
            address: Address {
                street: "Hauptstr. 1".into(),
                city: "Berlin".into(),
                postal_code: Some("10115".into()),
                country: "DEU".into(),
            },
            coordinates: Coordinates {
                latitude: Decimal::new(525200, 4),
                longitude: Decimal::new(134050, 4),
            },
            time_zone: "Europe/Berlin".into(),
            grid_limit_kw: Some(Decimal::from(250)),
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
            updated_at: DateTime::from_timestamp(0, 0).unwrap(),
        }
    }

    #[test]
    fn a_valid_site_passes_and_each_bad_field_is_named() {
        assert_eq!(site().validate(), Ok(()));
        type Change = Box<dyn Fn(&mut Site)>;
        let cases: Vec<(&str, Change)> = vec![
            ("site id", Box::new(|s| s.id = "a b".into())),
            ("name", Box::new(|s| s.name = " ".into())),
            (
                "address.country",
                Box::new(|s| s.address.country = "DE".into()),
            ),
            (
                "coordinates.latitude",
                Box::new(|s| s.coordinates.latitude = Decimal::from(91)),
            ),
            (
                "coordinates.longitude",
                Box::new(|s| s.coordinates.longitude = Decimal::from(-181)),
            ),
            (
                "time_zone",
                Box::new(|s| s.time_zone = "Mars/Olympus".into()),
            ),
            (
                "grid_limit_kw",
                Box::new(|s| s.grid_limit_kw = Some(Decimal::ZERO)),
            ),
        ];
        for (field, change) in cases {
            let mut s = site();
            change(&mut s);
            let e = s.validate().unwrap_err().to_string();
            assert!(e.contains(field), "{field}: {e}");
        }
    }
}
