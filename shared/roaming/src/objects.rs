//! The system's own records as OCPI objects: a site with its chargers as a location (each EVSE of a
//! charger an OCPI EVSE, its status from the connectors' statuses), a session, a CDR (credit CDRs
//! included). Pure: what is stored and pushed is made here.

use chrono::{DateTime, Utc};
use cpms_domain::billing::{Cdr, CdrKind};
use cpms_domain::charger::{Charger, ConnectorSpec, ConnectorStatus, EvseSpec};
use cpms_domain::roaming::RoamingSettings;
use cpms_domain::session::{Session, SessionStatus};
use cpms_domain::site::Site;
use cpms_ocpi::cdrs::{CdrDimension, CdrLocation, ChargingPeriod};
use cpms_ocpi::locations::{Connector, ConnectorFormat, Evse, EvseStatus, Location, PowerType};
use cpms_ocpi::sessions::{AuthMethod, CdrToken};
use cpms_ocpi::tokens::TokenType;
use cpms_ocpi::types::{BusinessDetails, GeoLocation, Place, Price};
use rust_decimal::Decimal;

use crate::tariffs::TariffIndex;

/// The OCPI uid of a charger's EVSE (`{charger}-{evse}`; 36 characters at most, so a long charger
/// id is shortened to a digest of it).
pub fn evse_uid(charger: &str, evse_id: u32) -> String {
    let plain = format!("{charger}-{evse_id}");
    if plain.len() <= 36 {
        return plain;
    }
    let d = cpms_domain::roaming::token_digest(charger);
    format!("E{}-{evse_id}", &d[..24])
}

/// The eMI3 EVSE id (`DE*CPO*E{charger}*{evse}`): letters and digits of the charger id.
pub fn emi3_evse_id(settings: &RoamingSettings, charger: &str, evse_id: u32) -> String {
    let clean: String = charger
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(30)
        .collect();
    format!(
        "{}*{}*E{}*{evse_id}",
        settings.country_code,
        settings.party_id,
        clean.to_ascii_uppercase()
    )
}

/// An EVSE's OCPI status from what its connectors last reported.
pub fn evse_status(charger: &Charger, evse_id: u32) -> EvseStatus {
    let states: Vec<ConnectorStatus> = charger
        .connectors
        .iter()
        .filter(|c| c.evse_id == evse_id && c.connector_id > 0)
        .map(|c| c.status)
        .collect();
    if !charger.enabled {
        return EvseStatus::Inoperative;
    }
    // Offline: what it last reported may no longer hold.
    if charger.connection.is_none() {
        return EvseStatus::Unknown;
    }
    let any = |s: ConnectorStatus| states.contains(&s);
    if states.is_empty() {
        EvseStatus::Unknown
    } else if any(ConnectorStatus::Occupied) {
        EvseStatus::Charging
    } else if any(ConnectorStatus::Reserved) {
        EvseStatus::Reserved
    } else if any(ConnectorStatus::Available) {
        EvseStatus::Available
    } else if any(ConnectorStatus::Faulted) {
        EvseStatus::Outoforder
    } else {
        EvseStatus::Inoperative
    }
}

fn degrees(d: Decimal) -> String {
    format!("{:.6}", d.round_dp(6))
}

fn place(site: &Site) -> Place {
    Place {
        address: site.address.street.clone(),
        city: site.address.city.clone(),
        postal_code: site.address.postal_code.clone(),
        state: None,
        country: site.address.country.clone(),
        coordinates: GeoLocation {
            latitude: degrees(site.coordinates.latitude),
            longitude: degrees(site.coordinates.longitude),
        },
    }
}

fn power_type(c: &ConnectorSpec) -> PowerType {
    match c.power_type {
        cpms_domain::charger::PowerType::Ac1Phase => PowerType::Ac1Phase,
        cpms_domain::charger::PowerType::Ac3Phase => PowerType::Ac3Phase,
        cpms_domain::charger::PowerType::Dc => PowerType::Dc,
    }
}

fn format(c: &ConnectorSpec) -> ConnectorFormat {
    match c.format {
        cpms_domain::charger::ConnectorFormat::Socket => ConnectorFormat::Socket,
        cpms_domain::charger::ConnectorFormat::Cable => ConnectorFormat::Cable,
    }
}

fn standard(c: &ConnectorSpec) -> String {
    serde_json::to_value(c.standard)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "IEC_62196_T2".into())
}

/// A connector: its voltage is the nominal one of its power type (line to neutral for AC, 230 V;
/// DC 500 V, 920 V above 150 kW), its current what its rated power gives at that voltage.
fn connector(c: &ConnectorSpec, tariff_ids: &[String], now: DateTime<Utc>) -> Connector {
    let watts = (c.max_power_kw * Decimal::from(1000)).round();
    let (volts, phases) = match c.power_type {
        cpms_domain::charger::PowerType::Ac1Phase => (230u32, 1u32),
        cpms_domain::charger::PowerType::Ac3Phase => (230, 3),
        cpms_domain::charger::PowerType::Dc if c.max_power_kw > Decimal::from(150) => (920, 1),
        cpms_domain::charger::PowerType::Dc => (500, 1),
    };
    let amps = (watts / Decimal::from(volts * phases)).round();
    Connector {
        id: c.connector_id.to_string(),
        standard: standard(c),
        format: format(c),
        power_type: power_type(c),
        max_voltage: volts,
        max_amperage: u32::try_from(amps.mantissa()).unwrap_or(0),
        max_electric_power: u32::try_from(watts.mantissa()).ok(),
        tariff_ids: tariff_ids.to_vec(),
        terms_and_conditions: None,
        last_updated: now,
    }
}

fn evse(
    settings: &RoamingSettings,
    charger: &Charger,
    spec: &EvseSpec,
    tariff_ids: &[String],
    now: DateTime<Utc>,
) -> Evse {
    Evse {
        uid: evse_uid(charger.id.as_str(), spec.evse_id),
        evse_id: Some(emi3_evse_id(settings, charger.id.as_str(), spec.evse_id)),
        status: evse_status(charger, spec.evse_id),
        capabilities: vec!["REMOTE_START_STOP_CAPABLE".into(), "UNLOCK_CAPABLE".into()],
        connectors: spec
            .connectors
            .iter()
            .map(|c| connector(c, tariff_ids, now))
            .collect(),
        coordinates: None,
        physical_reference: charger.name.clone().map(|n| n.chars().take(16).collect()),
        last_updated: now,
    }
}

/// A site and the chargers standing there as one location, as every partner sees it (each connector
/// names the public tariff of its charger); `last_updated` is `now` throughout (the location is built
/// again when anything in it changed). Chargers without EVSEs described are left out (a location
/// lists what a driver can use).
pub fn location(
    settings: &RoamingSettings,
    site: &Site,
    chargers: &[Charger],
    tariffs: &TariffIndex,
    now: DateTime<Utc>,
) -> Location {
    let mut evses: Vec<Evse> = chargers
        .iter()
        .flat_map(|c| {
            let ids = tariffs.public_for(&site.id, &c.id);
            c.evses
                .iter()
                .map(move |e| evse(settings, c, e, &ids, now))
                .collect::<Vec<_>>()
        })
        .collect();
    evses.sort_by(|a, b| a.uid.cmp(&b.uid));
    Location {
        country_code: settings.country_code.clone(),
        party_id: settings.party_id.clone(),
        id: site.id.clone(),
        publish: true,
        name: Some(site.name.chars().take(255).collect()),
        place: place(site),
        parking_type: None,
        evses,
        directions: Vec::new(),
        operator: Some(BusinessDetails {
            name: settings.name.clone(),
            website: settings.website.clone(),
            logo: None,
        }),
        time_zone: site.time_zone.clone(),
        last_updated: now,
    }
}

/// Who a token belongs to, as a CDR names it: the partner that issued it (`NL-EXA`), else us.
pub fn cdr_token(
    settings: &RoamingSettings,
    token: &str,
    kind: Option<&str>,
    partner: Option<&str>,
) -> CdrToken {
    let (cc, pid) = partner
        .and_then(|p| p.split_once('-'))
        .map(|(c, p)| (c.to_string(), p.to_string()))
        .unwrap_or_else(|| (settings.country_code.clone(), settings.party_id.clone()));
    CdrToken {
        country_code: cc,
        party_id: pid,
        uid: token.chars().take(36).collect(),
        kind: match kind {
            Some("eMAID") => TokenType::AppUser,
            Some("Central") => TokenType::AdHocUser,
            _ => TokenType::Rfid,
        },
        contract_id: token.chars().take(36).collect(),
    }
}

fn kwh(wh: Option<Decimal>) -> Decimal {
    (wh.unwrap_or_default() / Decimal::from(1000))
        .max(Decimal::ZERO)
        .round_dp(4)
}

/// Where a session or CDR took place, as OCPI names it.
#[derive(Debug, Clone)]
pub struct Spot {
    /// The location (site) id.
    pub location_id: String,
    /// The EVSE uid.
    pub evse_uid: String,
    /// The connector id.
    pub connector_id: String,
}

impl Spot {
    /// The spot of a charger's EVSE and connector at a site.
    pub fn of(
        site_id: &str,
        charger: &str,
        evse_id: Option<u32>,
        connector_id: Option<u32>,
    ) -> Spot {
        Spot {
            location_id: site_id.to_string(),
            evse_uid: evse_uid(charger, evse_id.unwrap_or(1)),
            connector_id: connector_id.unwrap_or(1).to_string(),
        }
    }
}

/// A session as the eMSP of its token sees it; `partner` is that eMSP.
pub fn session(
    settings: &RoamingSettings,
    s: &Session,
    spot: &Spot,
    partner: Option<&str>,
    currency: &str,
    authorization_reference: Option<String>,
    now: DateTime<Utc>,
) -> cpms_ocpi::sessions::Session {
    let token = s.id_token.as_ref();
    cpms_ocpi::sessions::Session {
        country_code: settings.country_code.clone(),
        party_id: settings.party_id.clone(),
        id: session_id(s),
        start_date_time: s.started_at.unwrap_or(now),
        end_date_time: s.ended_at,
        kwh: kwh(s.energy_wh),
        cdr_token: cdr_token(
            settings,
            token.map_or("", |t| t.value.as_str()),
            token.and_then(|t| t.kind.as_deref()),
            partner,
        ),
        auth_method: if authorization_reference.is_some() {
            AuthMethod::Command
        } else {
            AuthMethod::Whitelist
        },
        authorization_reference,
        location_id: spot.location_id.clone(),
        evse_uid: spot.evse_uid.clone(),
        connector_id: spot.connector_id.clone(),
        meter_id: None,
        currency: currency.to_string(),
        charging_periods: Vec::new(),
        total_cost: None,
        status: match s.status {
            SessionStatus::Active => cpms_ocpi::sessions::SessionStatus::Active,
            SessionStatus::Completed => cpms_ocpi::sessions::SessionStatus::Completed,
            _ => cpms_ocpi::sessions::SessionStatus::Invalid,
        },
        last_updated: now,
    }
}

/// The OCPI id of a session (36 characters at most).
pub fn session_id(s: &Session) -> String {
    let plain = s.id.to_string();
    if plain.len() <= 36 {
        plain
    } else {
        format!("S{}", &cpms_domain::roaming::token_digest(&plain)[..32])
    }
}

fn price(p: &cpms_domain::tariff::money::Price) -> Price {
    Price {
        excl_vat: p.excl_vat,
        incl_vat: p.incl_vat,
    }
}

/// What is known of the connector a CDR's session used.
#[derive(Debug, Clone)]
pub struct CdrPlace<'a> {
    /// The site.
    pub site: &'a Site,
    /// The charger.
    pub charger: &'a str,
    /// Its connector, if described.
    pub connector: Option<&'a ConnectorSpec>,
}

/// A CDR as the eMSP that pays it receives it (a credit CDR with `credit` and the id it cancels).
pub fn cdr(
    settings: &RoamingSettings,
    c: &Cdr,
    at: &CdrPlace<'_>,
    now: DateTime<Utc>,
) -> cpms_ocpi::cdrs::Cdr {
    let spot = Spot::of(&at.site.id, at.charger, c.evse_id, c.connector_id);
    let p = &c.pricing;
    let periods = p
        .periods
        .iter()
        .map(|period| ChargingPeriod {
            start_date_time: period.start_date_time,
            dimensions: period
                .dimensions
                .iter()
                .filter_map(|d| {
                    Some(CdrDimension {
                        kind: serde_json::from_value(serde_json::Value::String(d.kind.clone()))
                            .ok()?,
                        volume: d.volume,
                    })
                })
                .collect(),
            tariff_id: c.tariff_id.clone(),
        })
        .collect();
    let (standard, format, power) = match at.connector {
        Some(cs) => (self::standard(cs), self::format(cs), power_type(cs)),
        None => (
            "IEC_62196_T2".into(),
            ConnectorFormat::Socket,
            PowerType::Ac3Phase,
        ),
    };
    let credit = c.kind == CdrKind::Credit;
    let nonzero = |x: &cpms_domain::tariff::money::Price| (!x.excl_vat.is_zero()).then(|| price(x));
    cpms_ocpi::cdrs::Cdr {
        country_code: settings.country_code.clone(),
        party_id: settings.party_id.clone(),
        id: c.id.chars().take(39).collect(),
        start_date_time: c.start_date_time,
        end_date_time: c.end_date_time,
        session_id: Some(c.session_id.to_string().chars().take(36).collect()),
        cdr_token: cdr_token(
            settings,
            c.token.as_deref().unwrap_or(""),
            None,
            c.partner.as_deref(),
        ),
        auth_method: AuthMethod::Whitelist,
        authorization_reference: None,
        cdr_location: CdrLocation {
            id: at.site.id.clone(),
            name: Some(at.site.name.clone()),
            place: place(at.site),
            evse_uid: spot.evse_uid,
            evse_id: emi3_evse_id(settings, at.charger, c.evse_id.unwrap_or(1)),
            connector_id: spot.connector_id,
            connector_standard: standard,
            connector_format: format,
            connector_power_type: power,
        },
        meter_id: None,
        currency: p.currency.clone(),
        tariffs: Vec::new(),
        charging_periods: periods,
        total_cost: price(&p.total_cost),
        total_fixed_cost: nonzero(&p.total_fixed_cost),
        total_energy: p.total_energy,
        total_energy_cost: nonzero(&p.total_energy_cost),
        total_time: p.total_time,
        total_time_cost: nonzero(&p.total_time_cost),
        total_parking_time: (!p.total_parking_time.is_zero()).then_some(p.total_parking_time),
        total_parking_cost: nonzero(&p.total_parking_cost),
        remark: None,
        credit: credit.then_some(true),
        credit_reference_id: c.credits.clone(),
        last_updated: now,
    }
}

/// A tariff as partners see it (`last_updated` is when it was published, so a partner's `date_from`
/// finds a tariff whose audience changed).
pub fn tariff(
    settings: &RoamingSettings,
    t: &cpms_domain::tariff::Tariff,
    now: DateTime<Utc>,
) -> cpms_ocpi::tariffs::Tariff {
    use cpms_domain::tariff::Dimension;
    use cpms_ocpi::tariffs::{
        PriceComponent, TariffDimensionType, TariffElement, TariffRestrictions,
    };
    let dimension = |d: Dimension| match d {
        Dimension::Energy => TariffDimensionType::Energy,
        Dimension::Flat => TariffDimensionType::Flat,
        Dimension::Time => TariffDimensionType::Time,
        Dimension::ParkingTime => TariffDimensionType::ParkingTime,
    };
    let restrictions = |r: &cpms_domain::tariff::Restrictions| TariffRestrictions {
        start_time: r.start_time.map(|x| x.format("%H:%M").to_string()),
        end_time: r.end_time.map(|x| x.format("%H:%M").to_string()),
        start_date: r.start_date.map(|x| x.format("%Y-%m-%d").to_string()),
        end_date: r.end_date.map(|x| x.format("%Y-%m-%d").to_string()),
        min_kwh: r.min_kwh,
        max_kwh: r.max_kwh,
        min_current: r.min_current,
        max_current: r.max_current,
        min_power: r.min_power,
        max_power: r.max_power,
        min_duration: r.min_duration,
        max_duration: r.max_duration,
        day_of_week: r
            .day_of_week
            .iter()
            .filter_map(|d| serde_json::to_value(d).ok()?.as_str().map(str::to_string))
            .collect(),
        reservation: r.reservation.clone(),
    };
    cpms_ocpi::tariffs::Tariff {
        country_code: settings.country_code.clone(),
        party_id: settings.party_id.clone(),
        id: t.id.clone(),
        currency: t.terms.currency.clone(),
        kind: None,
        tariff_alt_text: Vec::new(),
        min_price: t.terms.min_price.as_ref().map(price),
        max_price: t.terms.max_price.as_ref().map(price),
        elements: t
            .terms
            .elements
            .iter()
            .map(|e| TariffElement {
                price_components: e
                    .price_components
                    .iter()
                    .map(|c| PriceComponent {
                        kind: dimension(c.dimension),
                        price: c.price,
                        vat: c.vat,
                        step_size: c.step_size,
                    })
                    .collect(),
                restrictions: e.restrictions.as_ref().map(restrictions),
            })
            .collect(),
        start_date_time: t.start_date_time,
        end_date_time: t.end_date_time,
        last_updated: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpms_domain::TenantId;
    use cpms_domain::charger::ConnectorState;

    fn settings() -> RoamingSettings {
        RoamingSettings {
            tenant: TenantId::default_tenant(),
            country_code: "DE".into(),
            party_id: "CPO".into(),
            name: "CPO".into(),
            website: None,
            updated_at: Utc::now(),
        }
    }

    fn with_states(states: &[ConnectorStatus]) -> Charger {
        let now = Utc::now();
        let mut c = Charger::register(
            TenantId::default_tenant(),
            cpms_domain::ChargerId::new("CP-1").unwrap(),
            now,
        );
        c.connectors = states
            .iter()
            .enumerate()
            .map(|(i, s)| ConnectorState {
                evse_id: 1,
                connector_id: i as u32 + 1,
                status: *s,
                ocpp_status: format!("{s:?}"),
                error_code: None,
                info: None,
                vendor_error_code: None,
                vendor_id: None,
                reported_at: now,
                received_at: now,
                meter: None,
            })
            .collect();
        c.connection = Some(cpms_domain::charger::Connection {
            id: "c1".into(),
            version: cpms_domain::OcppVersion::V16,
            connected_at: now,
        });
        c
    }

    #[test]
    fn an_evse_is_charging_when_a_connector_is_in_use_and_out_of_order_when_all_are_faulted() {
        use ConnectorStatus::*;
        assert_eq!(evse_status(&with_states(&[]), 1), EvseStatus::Unknown);
        assert_eq!(
            evse_status(&with_states(&[Available, Occupied]), 1),
            EvseStatus::Charging
        );
        assert_eq!(
            evse_status(&with_states(&[Available, Faulted]), 1),
            EvseStatus::Available
        );
        assert_eq!(
            evse_status(&with_states(&[Faulted]), 1),
            EvseStatus::Outoforder
        );
        assert_eq!(
            evse_status(&with_states(&[Unavailable]), 1),
            EvseStatus::Inoperative
        );
        assert_eq!(
            evse_status(&with_states(&[Reserved]), 1),
            EvseStatus::Reserved
        );
        let mut off = with_states(&[Available]);
        off.connection = None;
        assert_eq!(evse_status(&off, 1), EvseStatus::Unknown);
        off.enabled = false;
        assert_eq!(evse_status(&off, 1), EvseStatus::Inoperative);
    }

    #[test]
    fn evse_uids_fit_36_characters_and_emi3_ids_keep_letters_and_digits() {
        assert_eq!(evse_uid("CP-1", 2), "CP-1-2");
        let long = "A".repeat(48);
        let uid = evse_uid(&long, 1);
        assert!(uid.len() <= 36, "{uid}");
        assert_eq!(uid, evse_uid(&long, 1));
        assert_ne!(uid, evse_uid(&"B".repeat(48), 1));
        assert_eq!(emi3_evse_id(&settings(), "cp-1.a", 3), "DE*CPO*ECP1A*3");
    }

    #[test]
    fn a_connectors_current_follows_from_its_power_and_type() {
        let spec = |kw: i64, power_type| ConnectorSpec {
            connector_id: 1,
            standard: cpms_domain::charger::ConnectorStandard::Ccs2,
            format: cpms_domain::charger::ConnectorFormat::Cable,
            power_type,
            max_power_kw: Decimal::from(kw),
        };
        let now = Utc::now();
        let ac = connector(
            &spec(22, cpms_domain::charger::PowerType::Ac3Phase),
            &[],
            now,
        );
        assert_eq!((ac.max_voltage, ac.max_amperage), (230, 32));
        assert_eq!(ac.max_electric_power, Some(22000));
        let dc = connector(&spec(350, cpms_domain::charger::PowerType::Dc), &[], now);
        assert_eq!((dc.max_voltage, dc.max_amperage), (920, 380));
        assert_eq!(dc.standard, "IEC_62196_T2_COMBO");
    }
}
