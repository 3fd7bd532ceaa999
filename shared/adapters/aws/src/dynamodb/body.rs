//! A record's body in its item. DynamoDB bills every write by the started KiB of the whole item, and a
//! charger's messages rewrite its session and add a samples item each time, so a body of more than
//! [`DEFLATE_FROM`] bytes is stored deflated in the binary attribute `z` (JSON compresses three to five
//! times: the same field and measurand names over and over); smaller ones stay JSON text in `d`. Both
//! read back the same.

use std::io::{Read, Write};

use aws_sdk_dynamodb::types::AttributeValue;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

use super::Item;

/// Bodies from this size on are deflated.
pub(crate) const DEFLATE_FROM: usize = 300;

/// Bodies are inflated to at most this (an item holds at most 400 KB).
const MAX_BODY: u64 = 4 * 1024 * 1024;

/// The attribute holding `json`.
pub(crate) fn attribute(json: String) -> (String, AttributeValue) {
    if json.len() >= DEFLATE_FROM {
        let mut enc = DeflateEncoder::new(Vec::with_capacity(json.len() / 3), Compression::fast());
        if enc.write_all(json.as_bytes()).is_ok()
            && let Ok(z) = enc.finish()
            && z.len() < json.len()
        {
            return ("z".into(), AttributeValue::B(z.into()));
        }
    }
    ("d".into(), AttributeValue::S(json))
}

/// Inflates a `z` body.
pub fn inflate(z: &[u8]) -> Result<String, String> {
    let mut out = String::new();
    DeflateDecoder::new(z)
        .take(MAX_BODY)
        .read_to_string(&mut out)
        .map_err(|e| format!("deflated body: {e}"))?;
    Ok(out)
}

/// The JSON body of an item (`None` when it has none).
pub fn json(item: &Item) -> Option<Result<String, String>> {
    match (item.get("d"), item.get("z")) {
        (Some(AttributeValue::S(s)), _) => Some(Ok(s.clone())),
        (_, Some(AttributeValue::B(b))) => Some(inflate(b.as_ref())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bodies_stay_text_and_large_ones_read_back_deflated() {
        let small = r#"{"a":1}"#.to_string();
        assert_eq!(attribute(small.clone()).0, "d");
        let large = serde_json::to_string(&vec![
            serde_json::json!({"measurand": "Energy.Active.Import.Register", "unit": "Wh", "value": 1});
            20
        ])
        .unwrap();
        let (name, value) = attribute(large.clone());
        assert_eq!(name, "z");
        let AttributeValue::B(z) = &value else {
            panic!("binary")
        };
        assert!(
            z.as_ref().len() * 4 < large.len(),
            "{} of {}",
            z.as_ref().len(),
            large.len()
        );
        let item = Item::from([(name, value)]);
        assert_eq!(json(&item), Some(Ok(large)));
        assert!(inflate(b"not deflate").is_err());
        assert_eq!(json(&Item::new()), None);
    }
}
