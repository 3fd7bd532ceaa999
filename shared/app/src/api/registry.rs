//! The route table: each route is registered once, with who may call it and the JSON shapes it takes and
//! gives, and both the axum router and the OpenAPI document are built from that one registration (the
//! schemas only when the document is first asked for, so start-up does no schema work). A route
//! cannot exist without being documented, nor be documented without existing.

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, on};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use super::ApiState;
use super::auth::{Access, require};

/// The body of a successful answer.
pub(crate) enum Body {
    /// JSON of this schema.
    Json(Schema),
    /// CSV text.
    Csv,
    /// Server-Sent Events.
    EventStream,
    /// No body (204).
    Empty,
}

/// What the document says about one operation.
pub(crate) struct OpDoc {
    pub request: Option<Schema>,
    pub query: Option<Schema>,
    /// Success statuses (the first is the usual one), all with `response`.
    pub statuses: Vec<u16>,
    pub response: Body,
}

impl OpDoc {
    /// An operation answering `status` with `R`.
    pub fn returns<R: JsonSchema>(g: &mut SchemaGenerator, status: u16) -> Self {
        OpDoc {
            request: None,
            query: None,
            statuses: vec![status],
            response: Body::Json(g.subschema_for::<R>()),
        }
    }

    /// An operation answering `204 No Content`.
    pub fn empty() -> Self {
        OpDoc {
            request: None,
            query: None,
            statuses: vec![204],
            response: Body::Empty,
        }
    }

    /// An operation answering `200` with CSV text.
    pub fn csv() -> Self {
        OpDoc {
            request: None,
            query: None,
            statuses: vec![200],
            response: Body::Csv,
        }
    }

    /// An operation answering `200` with a stream of Server-Sent Events.
    pub fn event_stream() -> Self {
        OpDoc {
            request: None,
            query: None,
            statuses: vec![200],
            response: Body::EventStream,
        }
    }

    /// Also answers `status` with the same body (e.g. `200` for a create that found the record).
    pub fn or(mut self, status: u16) -> Self {
        self.statuses.push(status);
        self
    }

    /// With a JSON body `B`.
    pub fn body<B: JsonSchema>(mut self, g: &mut SchemaGenerator) -> Self {
        self.request = Some(g.subschema_for::<B>());
        self
    }

    /// With query parameters `Q` (a struct; each field is one parameter).
    pub fn query<Q: JsonSchema>(mut self, g: &mut SchemaGenerator) -> Self {
        self.query = Some(g.root_schema_for::<Q>());
        self
    }
}

/// One documented operation.
pub(crate) struct Operation {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    /// Describes the operation's shapes; run only when the document is built (not at start-up).
    pub doc: fn(&mut SchemaGenerator) -> OpDoc,
}

/// Routes and their documentation, built together.
pub(crate) struct Api {
    router: Router<ApiState>,
    ops: Vec<Operation>,
}

impl Api {
    pub fn new() -> Self {
        Api {
            router: Router::new(),
            ops: Vec::new(),
        }
    }

    /// Registers `handler` for `method path`, callable with `access`.
    pub fn op<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        summary: &'static str,
        doc: fn(&mut SchemaGenerator) -> OpDoc,
        handler: H,
    ) -> Self
    where
        H: Handler<T, ApiState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
        let route =
            on(filter, handler).route_layer(axum::middleware::from_fn_with_state(access, require));
        self.router = self.router.route(path, route);
        self.ops.push(Operation {
            method,
            path,
            access,
            summary,
            doc,
        });
        self
    }

    /// The router.
    pub fn into_router(self) -> Router<ApiState> {
        self.router
    }

    /// The OpenAPI 3.1 document, with every path under `prefix`.
    pub fn document(&self, prefix: &str) -> Value {
        let settings = schemars::generate::SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = "/components/schemas".into();
        });
        let mut generator = settings.into_generator();
        let mut paths = Map::new();
        let mut tags: Vec<&str> = Vec::new();
        for op in &self.ops {
            let doc = (op.doc)(&mut generator);
            let mut params: Vec<Value> = path_params(op.path)
                .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
                .collect();
            if let Some(q) = &doc.query {
                let required: Vec<&str> = q
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if let Some(props) = q.get("properties").and_then(Value::as_object) {
                    for (name, schema) in props {
                        let mut schema = schema.clone();
                        let description =
                            schema.as_object_mut().and_then(|o| o.remove("description"));
                        let mut p = json!({
                            "name": name, "in": "query", "required": required.contains(&name.as_str()),
                            "schema": schema,
                        });
                        if let Some(d) = description {
                            p["description"] = d;
                        }
                        params.push(p);
                    }
                }
            }
            let tag = tag_of(op.path);
            if !tags.contains(&tag) {
                tags.push(tag);
            }
            let mut responses = Map::new();
            for status in &doc.statuses {
                let body = match &doc.response {
                    Body::Json(schema) => json!({
                        "description": status_text(*status),
                        "content": {"application/json": {"schema": schema}},
                    }),
                    Body::Csv => json!({
                        "description": status_text(*status),
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    }),
                    Body::EventStream => json!({
                        "description": status_text(*status),
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    }),
                    Body::Empty => json!({"description": status_text(*status)}),
                };
                responses.insert(status.to_string(), body);
            }
            responses.insert(
                "default".into(),
                json!({
                    "description": "an RFC 9457 problem (400 bad request, 401 no or bad key, 403 role too low, 404 not found, 409 conflict, 422 refused, 429 too many, 5xx)",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                }),
            );
            let mut operation = json!({
                "summary": op.summary,
                "operationId": operation_id(&op.method, op.path),
                "tags": [tag],
                "parameters": params,
                "x-cpms-access": op.access.label(),
                "responses": responses,
            });
            if op.access == Access::Public {
                operation["security"] = json!([]);
            }
            if let Some(body) = &doc.request {
                operation["requestBody"] = json!({
                    "required": true,
                    "content": {"application/json": {"schema": body}},
                });
            }
            let entry = paths
                .entry(format!("{prefix}{}", op.path))
                .or_insert_with(|| json!({}));
            entry[op.method.as_str().to_ascii_lowercase()] = operation;
        }
        let _ = generator.subschema_for::<super::Problem>();
        let schemas = Value::Object(generator.take_definitions(true));
        let mut doc = json!({
            "openapi": "3.1.0",
            "info": {
                "title": "cpms operator API",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "Operate a charger network: sites, chargers, tokens, sessions, commands to chargers, tariffs and billing, API keys, audit log. Authenticate with `Authorization: Bearer <API key>`; `x-cpms-access` on each operation names the least role it needs. Errors are RFC 9457 problems.",
            },
            "servers": [{"url": "/", "description": "this server"}],
            "tags": tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
            },
            "security": [{"apiKey": []}],
        });
        super::openapi_fix::tidy(&mut doc);
        doc
    }
}

/// The tag of a path: its first segment, with related resources together.
fn tag_of(path: &str) -> &'static str {
    let first = path
        .trim_start_matches('/')
        .split(['/', '.'])
        .next()
        .unwrap_or("");
    match first {
        "tenants" | "api-keys" => "tenants and keys",
        "sites" => "sites",
        "settings" => "settings",
        "chargers" if path.contains("/commands") => "commands",
        "chargers" if path.contains("/price") => "prices",
        "chargers" | "connection-attempts" => "chargers",
        "public" => "prices",
        "commands" => "commands",
        "tokens" => "tokens",
        "sessions" if path.contains("/bill") || path.contains("/cost") => "billing",
        "sessions" => "sessions",
        "tariffs" | "tariff-assignments" => "tariffs",
        "price-preview" => "prices",
        "cdrs" | "billing-runs" | "invoices" | "statements" | "subscriptions" => "billing",
        "audit" => "audit",
        _ => "meta",
    }
}

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "created",
        202 => "accepted: it goes on in the background",
        204 => "done; no content",
        _ => "success",
    }
}

fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn operation_id(method: &Method, path: &str) -> String {
    let mut id = method.as_str().to_ascii_lowercase();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.push_str(&seg.replace(['{', '}'], "").replace('-', "_"));
    }
    id
}
