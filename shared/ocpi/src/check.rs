//! Checks of what a partner sends against the specification's field rules (lengths of `string(n)` and
//! `CiString(n)`, the characters of party ids and country codes), collected into one 2001 message.

/// Problems found so far.
#[derive(Debug, Default)]
pub struct Check {
    problems: Vec<String>,
}

impl Check {
    /// Nothing found yet.
    pub fn new() -> Self {
        Check::default()
    }

    /// `value` has at most `max` characters (`string(n)`).
    pub fn len(&mut self, field: &str, value: &str, max: usize) -> &mut Self {
        if value.chars().count() > max {
            self.problems
                .push(format!("{field}: at most {max} characters"));
        }
        self
    }

    /// The same for an optional field.
    pub fn len_opt(&mut self, field: &str, value: Option<&str>, max: usize) -> &mut Self {
        if let Some(v) = value {
            self.len(field, v, max);
        }
        self
    }

    /// `value` is a `CiString(max)`: 1 to `max` printable ASCII characters.
    pub fn ci(&mut self, field: &str, value: &str, max: usize) -> &mut Self {
        if value.is_empty()
            || value.len() > max
            || !value.bytes().all(|b| (0x20..0x7f).contains(&b))
        {
            self.problems
                .push(format!("{field}: 1 to {max} printable ASCII characters"));
        }
        self
    }

    /// A country code (two letters) and party id (three alphanumerics).
    pub fn party(&mut self, country_code: &str, party_id: &str) -> &mut Self {
        let p = crate::headers::PartyRef::new(country_code, party_id);
        if !p.is_valid() {
            self.problems.push(format!(
                "country_code and party_id: two letters and three letters or digits, not {country_code:?} and {party_id:?}"
            ));
        }
        self
    }

    /// A problem of the caller's own.
    pub fn fail(&mut self, problem: impl Into<String>) -> &mut Self {
        self.problems.push(problem.into());
        self
    }

    /// All is well, or the problems in one message.
    pub fn done(&mut self) -> Result<(), String> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(std::mem::take(&mut self.problems).join("; "))
        }
    }
}
