//! Pagination of GET lists: `offset`, `limit`, `date_from` (inclusive) and `date_to` (exclusive) in,
//! `Link: <...>; rel="next"`, `X-Total-Count` and `X-Limit` out.

use chrono::{DateTime, Utc};

/// The most objects this server puts in one page (a larger `limit` is lowered to it).
pub const MAX_LIMIT: usize = 100;

/// A page asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageParams {
    /// Objects to skip.
    pub offset: usize,
    /// Most objects to return (at most [`MAX_LIMIT`]).
    pub limit: usize,
    /// Only objects last updated at or after this.
    pub date_from: Option<DateTime<Utc>>,
    /// Only objects last updated before this.
    pub date_to: Option<DateTime<Utc>>,
}

impl Default for PageParams {
    fn default() -> Self {
        PageParams {
            offset: 0,
            limit: MAX_LIMIT,
            date_from: None,
            date_to: None,
        }
    }
}

impl PageParams {
    /// Reads them from a query string (`offset=0&limit=10&date_from=...`); a value that does not read,
    /// or a parameter given twice, is an error naming it (answered 2001). Unknown parameters are left
    /// to the caller.
    pub fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut p = PageParams::default();
        let mut seen = Vec::new();
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let k = k.as_ref();
            if ["offset", "limit", "date_from", "date_to"].contains(&k) {
                if seen.iter().any(|x: &String| x == k) {
                    return Err(format!("{k} is given twice"));
                }
                seen.push(k.to_string());
            }
            match k {
                "offset" => {
                    p.offset = v
                        .parse()
                        .map_err(|_| format!("offset: {v:?} is not a whole number"))?
                }
                "limit" => {
                    let l: usize = v
                        .parse()
                        .map_err(|_| format!("limit: {v:?} is not a whole number"))?;
                    p.limit = l.min(MAX_LIMIT);
                }
                "date_from" | "date_to" => {
                    let t = cpms_ocpp::datetime::parse(&v)
                        .ok_or_else(|| format!("{k}: {v:?} is not an RFC 3339 date-time"))?;
                    if k == "date_from" {
                        p.date_from = Some(t);
                    } else {
                        p.date_to = Some(t);
                    }
                }
                _ => {}
            }
        }
        if let (Some(f), Some(t)) = (p.date_from, p.date_to)
            && f > t
        {
            return Err("date_from is after date_to".into());
        }
        Ok(p)
    }

    /// Whether an object last updated at `t` is in the asked period.
    pub fn covers(&self, t: DateTime<Utc>) -> bool {
        self.date_from.is_none_or(|f| t >= f) && self.date_to.is_none_or(|to| t < to)
    }

    /// The `Link` header of the next page of a list of `total` objects at `base` (the list's URL
    /// without a query), when there is one.
    pub fn next_link(&self, base: &str, total: usize) -> Option<String> {
        let next = self.offset.checked_add(self.limit)?;
        if self.limit == 0 || next >= total {
            return None;
        }
        let mut q = format!("offset={next}&limit={}", self.limit);
        for (k, v) in [("date_from", self.date_from), ("date_to", self.date_to)] {
            if let Some(t) = v {
                q.push_str(&format!(
                    "&{k}={}",
                    cpms_ocpp::datetime::format(&t).replace('+', "%2B")
                ));
            }
        }
        Some(format!("<{base}?{q}>; rel=\"next\""))
    }
}

/// The URL of a `Link` header's `rel="next"`, when it has one.
pub fn next_from_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next");
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_string())
    })
}
