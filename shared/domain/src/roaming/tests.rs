//! Unit tests of the registration of roaming partners.

use chrono::{DateTime, TimeZone, Utc};

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap()
}

fn invited() -> (Partner, String) {
    Partner::invite(
        TenantId::default_tenant(),
        "Example eMSP".into(),
        "nl",
        "exa",
        vec![PartnerRole::Emsp],
        [7; 32],
        t0(),
    )
}

fn register(p: &mut Partner, update: bool, random: u8) -> Result<String, RegistrationError> {
    p.registered(
        update,
        ("NL", "EXA"),
        "token-b".into(),
        Connection {
            versions_url: "http://emsp/versions".into(),
            version: "2.2.1".into(),
            endpoints: vec![PartnerEndpoint {
                module: "cdrs".into(),
                role: "RECEIVER".into(),
                url: "http://emsp/2.2.1/cdrs".into(),
            }],
        },
        [random; 32],
        t0(),
    )
}

#[test]
fn token_a_registers_once_and_is_replaced_by_token_c() {
    // GIVEN an invited partner and its token A
    let (mut p, token_a) = invited();
    assert_eq!(p.id, "NL-EXA");
    assert!(token_a.len() <= 64);
    assert_eq!(p.token_use(&token_a), Some(TokenUse::Registration));
    assert_eq!(p.token_use("guess"), None);
    // WHEN it registers
    let token_c = register(&mut p, false, 1).unwrap();
    // THEN token C works for every module and token A no longer at all
    assert_eq!(p.token_use(&token_c), Some(TokenUse::Registered));
    assert_eq!(p.token_use(&token_a), None);
    assert_eq!(p.their_token.as_deref(), Some("token-b"));
    assert_eq!(
        p.endpoint("cdrs", "RECEIVER"),
        Some("http://emsp/2.2.1/cdrs")
    );
    // AND a second POST is refused; a PUT gives a new token C and retires the old one
    assert_eq!(
        register(&mut p, false, 2),
        Err(RegistrationError::AlreadyRegistered)
    );
    let token_c2 = register(&mut p, true, 3).unwrap();
    assert_ne!(token_c, token_c2);
    assert_eq!(p.token_use(&token_c), None);
    assert_eq!(p.token_use(&token_c2), Some(TokenUse::Registered));
}

#[test]
fn credentials_of_another_party_and_updates_before_registering_are_refused() {
    let (mut p, _) = invited();
    assert_eq!(
        register(&mut p, true, 1),
        Err(RegistrationError::NotRegistered)
    );
    let other = p.registered(
        false,
        ("DE", "XYZ"),
        "b".into(),
        Connection {
            versions_url: "http://x".into(),
            version: "2.2.1".into(),
            endpoints: vec![],
        },
        [1; 32],
        t0(),
    );
    assert!(matches!(other, Err(RegistrationError::OtherParty { .. })));
    assert_eq!(p.state, PartnerState::Invited);
}

#[test]
fn unregistering_ends_both_tokens_until_a_new_invitation() {
    let (mut p, _) = invited();
    let token_c = register(&mut p, false, 1).unwrap();
    p.unregistered(t0()).unwrap();
    assert_eq!(p.token_use(&token_c), None);
    assert_eq!(p.their_token, None);
    assert_eq!(p.unregistered(t0()), Err(RegistrationError::NotRegistered));
    let token_a = p.reinvite([9; 32], t0());
    assert_eq!(p.token_use(&token_a), Some(TokenUse::Registration));
    assert!(register(&mut p, false, 4).is_ok());
}

#[test]
fn registering_with_a_partner_turns_the_offered_token_into_its_token() {
    // GIVEN an invited partner whose token A we handed out
    let (mut p, token_a) = invited();
    // WHEN we offer it a token B for our registration with it
    let token_b = p.offer([9; 32], t0()).unwrap();
    // THEN token A no longer works, token B works for the handshake only
    assert_eq!(p.token_use(&token_a), None);
    assert_eq!(p.token_use(&token_b), Some(TokenUse::Registration));
    // WHEN it answers with the credentials of another party THEN nothing changes
    let conn = || Connection {
        versions_url: "http://emsp/versions".into(),
        version: "2.2.1".into(),
        endpoints: vec![],
    };
    assert!(matches!(
        p.connected(("DE", "XYZ"), "token-c".into(), conn(), t0()),
        Err(RegistrationError::OtherParty { .. })
    ));
    // WHEN it answers with its own THEN token B is its token for every module
    p.connected(("nl", "exa"), "token-c".into(), conn(), t0())
        .unwrap();
    assert_eq!(p.state, PartnerState::Registered);
    assert_eq!(p.token_use(&token_b), Some(TokenUse::Registered));
    assert_eq!(p.their_token.as_deref(), Some("token-c"));
    // AND a registered partner is not offered again
    assert_eq!(
        p.offer([1; 32], t0()),
        Err(RegistrationError::AlreadyRegistered)
    );
}

#[test]
fn parties_are_two_letters_and_three_letters_or_digits() {
    assert!(valid_party("nl", "EX1"));
    assert!(!valid_party("NLD", "EXA"));
    assert!(!valid_party("NL", "EX"));
    assert!(!valid_party("N1", "EXA"));
    assert!(!valid_party("NL", "E-A"));
}
