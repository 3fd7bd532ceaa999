//! Where a request body gives an array for what its schema says is an object. serde reads a struct
//! from a JSON array too (its fields by position), so `{"settings": [1, 2]}` would be taken for
//! `{"settings": {"a": 1, "b": 2}}`; the body's own JSON schema (the one the OpenAPI document shows)
//! is walked with the value to refuse that at any depth, for every body type at once.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::Value;

/// Deepest level looked at (bodies are at most 64 KiB; this bounds the walk).
const MAX_DEPTH: usize = 32;

static SCHEMAS: LazyLock<Mutex<HashMap<TypeId, Arc<Value>>>> = LazyLock::new(Default::default);

/// The JSON schema of `T` (made once per type).
fn schema<T: schemars::JsonSchema + 'static>() -> Arc<Value> {
    let mut cache = SCHEMAS.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(TypeId::of::<T>())
        .or_insert_with(|| {
            Arc::new(serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null))
        })
        .clone()
}

/// The path of the first array given where `T`'s schema wants an object, if any.
pub(crate) fn array_for_object<T: schemars::JsonSchema + 'static>(v: &Value) -> Option<String> {
    let root = schema::<T>();
    walk(v, &root, &root, "", 0)
}

fn resolve<'a>(s: &'a Value, root: &'a Value) -> &'a Value {
    let mut s = s;
    for _ in 0..8 {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap_or("");
                match root.get("$defs").and_then(|d| d.get(name)) {
                    Some(d) => s = d,
                    None => return s,
                }
            }
            None => return s,
        }
    }
    s
}

fn alternatives(s: &Value) -> Vec<&Value> {
    ["anyOf", "oneOf"]
        .iter()
        .filter_map(|k| s.get(*k).and_then(Value::as_array))
        .flatten()
        .collect()
}

fn is_null(s: &Value) -> bool {
    s.get("type").and_then(Value::as_str) == Some("null")
}

/// Whether `s` only takes objects.
fn wants_object(s: &Value, root: &Value) -> bool {
    let s = resolve(s, root);
    if s.get("type").and_then(Value::as_str) == Some("object") {
        return true;
    }
    let alts = alternatives(s);
    !alts.is_empty()
        && alts
            .iter()
            .filter(|a| !is_null(resolve(a, root)))
            .all(|a| wants_object(a, root))
}

/// Whether an object alternative fits `v` by its constant (tag) properties.
fn tag_fits(alt: &Value, v: &Value) -> bool {
    let Some(props) = alt.get("properties").and_then(Value::as_object) else {
        return true;
    };
    props.iter().all(|(k, p)| match p.get("const") {
        Some(c) => v.get(k) == Some(c),
        None => true,
    })
}

fn walk(v: &Value, s: &Value, root: &Value, path: &str, depth: usize) -> Option<String> {
    if depth > MAX_DEPTH {
        return None;
    }
    let s = resolve(s, root);
    if v.is_array() && wants_object(s, root) {
        return Some(if path.is_empty() {
            "/".into()
        } else {
            path.into()
        });
    }
    for alt in alternatives(s) {
        let alt = resolve(alt, root);
        if !is_null(alt)
            && tag_fits(alt, v)
            && let Some(p) = walk(v, alt, root, path, depth + 1)
        {
            return Some(p);
        }
    }
    for key in ["allOf"] {
        for part in s.get(key).and_then(Value::as_array).into_iter().flatten() {
            if let Some(p) = walk(v, part, root, path, depth + 1) {
                return Some(p);
            }
        }
    }
    match v {
        Value::Object(m) => {
            let props = s.get("properties").and_then(Value::as_object);
            let extra = s.get("additionalProperties").filter(|a| a.is_object());
            for (k, x) in m {
                let sub = props.and_then(|p| p.get(k)).or(extra);
                if let Some(sub) = sub
                    && let Some(p) = walk(x, sub, root, &format!("{path}/{k}"), depth + 1)
                {
                    return Some(p);
                }
            }
            None
        }
        Value::Array(items) => {
            let sub = s.get("items")?;
            items
                .iter()
                .enumerate()
                .find_map(|(i, x)| walk(x, sub, root, &format!("{path}/{i}"), depth + 1))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Inner {
        a: u32,
        b: Option<u32>,
    }

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Outer {
        one: Option<Inner>,
        many: Vec<Inner>,
        by_key: std::collections::BTreeMap<String, Inner>,
        list: Vec<u32>,
    }

    #[test]
    fn an_array_where_an_object_belongs_is_found_at_any_depth() {
        let ok =
            json!({"one": {"a": 1}, "many": [{"a": 2}], "by_key": {"x": {"a": 3}}, "list": [1, 2]});
        assert_eq!(array_for_object::<Outer>(&ok), None);
        let cases = [
            (
                json!({"one": [1, 2], "many": [], "by_key": {}, "list": []}),
                "/one",
            ),
            (
                json!({"many": [[1, 2]], "by_key": {}, "list": []}),
                "/many/0",
            ),
            (
                json!({"many": [], "by_key": {"x": [3]}, "list": []}),
                "/by_key/x",
            ),
        ];
        for (v, at) in cases {
            assert_eq!(array_for_object::<Outer>(&v).as_deref(), Some(at), "{v}");
        }
    }
}
