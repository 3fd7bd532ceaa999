//! Tidies the generated OpenAPI document into the form generators and validators take: boolean schemas
//! (`true` for "any JSON") become `{}`, enumerations written as `oneOf` of `const` become `enum` (their
//! descriptions kept as a list), and rustdoc links in descriptions become plain code.

use serde_json::{Map, Value, json};

/// Tidies every schema of the document in place.
pub(crate) fn tidy(doc: &mut Value) {
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for s in schemas.values_mut() {
            schema(s);
        }
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for op in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|m| m.values_mut())
    {
        if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
            for p in params {
                if let Some(s) = p.get_mut("schema") {
                    schema(s);
                }
                if let Some(Value::String(d)) = p.get_mut("description") {
                    *d = plain(d);
                }
            }
        }
        let content_schemas = |c: &mut Value| {
            if let Some(c) = c.as_object_mut() {
                c.values_mut()
                    .filter_map(|b| b.get_mut("schema"))
                    .for_each(schema);
            }
        };
        if let Some(c) = op.pointer_mut("/requestBody/content") {
            content_schemas(c);
        }
        if let Some(rs) = op.get_mut("responses").and_then(Value::as_object_mut) {
            rs.values_mut()
                .filter_map(|r| r.get_mut("content"))
                .for_each(content_schemas);
        }
    }
}

/// Tidies one schema and the schemas inside it.
fn schema(v: &mut Value) {
    match v {
        Value::Bool(true) => {
            *v = json!({});
            return;
        }
        Value::Bool(false) => {
            *v = json!({"not": {}});
            return;
        }
        Value::Object(_) => {}
        _ => return,
    }
    let Value::Object(o) = v else { return };
    if let Some(Value::String(d)) = o.get_mut("description") {
        *d = plain(d);
    }
    enum_of_consts(o);
    for key in [
        "items",
        "additionalProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
    ] {
        if let Some(s) = o.get_mut(key) {
            schema(s);
        }
    }
    for key in ["oneOf", "anyOf", "allOf", "prefixItems"] {
        if let Some(Value::Array(a)) = o.get_mut(key) {
            a.iter_mut().for_each(schema);
        }
    }
    for key in ["properties", "patternProperties", "$defs"] {
        if let Some(Value::Object(m)) = o.get_mut(key) {
            m.values_mut().for_each(schema);
        }
    }
}

/// `{"oneOf": [{"const": "a", "description": ...}, ...]}` as `{"enum": ["a", ...]}`.
fn enum_of_consts(o: &mut Map<String, Value>) {
    let Some(Value::Array(variants)) = o.get("oneOf") else {
        return;
    };
    let plain_const = |v: &Value| {
        v.as_object().is_some_and(|m| {
            m.contains_key("const")
                && m.keys()
                    .all(|k| matches!(k.as_str(), "const" | "type" | "description"))
        })
    };
    if variants.is_empty() || !variants.iter().all(plain_const) {
        return;
    }
    let values: Vec<Value> = variants.iter().map(|v| v["const"].clone()).collect();
    let types: Vec<&Value> = variants.iter().filter_map(|v| v.get("type")).collect();
    let notes: Vec<String> = variants
        .iter()
        .filter_map(|v| {
            let d = v.get("description")?.as_str()?;
            Some(format!(
                "- `{}`: {}",
                v["const"].as_str().unwrap_or_default(),
                plain(d)
            ))
        })
        .collect();
    let ty = types
        .first()
        .filter(|t| types.iter().all(|x| x == *t))
        .map(|t| (*t).clone());
    o.remove("oneOf");
    o.insert("enum".into(), Value::Array(values));
    if let Some(t) = ty {
        o.insert("type".into(), t);
    }
    if !notes.is_empty() {
        let head = o
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let text = if head.is_empty() {
            notes.join("\n")
        } else {
            format!("{head}\n\n{}", notes.join("\n"))
        };
        o.insert("description".into(), Value::String(text));
    }
}

/// A description with rustdoc links (`` [`Name`] ``, `` [`text`](path) ``) as plain code.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("[`") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find("`]") {
            Some(j) => {
                out.push_str(&after[..j + 1]);
                rest = &after[j + 2..];
                // A link target after it: `(...)` without spaces.
                if let Some(target) = rest.strip_prefix('(')
                    && let Some(k) = target.find(')')
                    && !target[..k].contains(' ')
                {
                    rest = &target[k + 1..];
                }
            }
            None => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_enums_and_links_are_tidied() {
        let mut s = json!({"description": "See [`crate::Foo`] and [`bar`](crate::bar).", "properties": {
            "any": true,
            "state": {"oneOf": [{"const": "a", "type": "string", "description": "A."},
                                 {"const": "b", "type": "string"}]}}});
        schema(&mut s);
        assert_eq!(s["description"], "See `crate::Foo` and `bar`.");
        assert_eq!(s["properties"]["any"], json!({}));
        assert_eq!(s["properties"]["state"]["enum"], json!(["a", "b"]));
        assert_eq!(s["properties"]["state"]["type"], "string");
        assert_eq!(s["properties"]["state"]["description"], "- `a`: A.");
    }
}
