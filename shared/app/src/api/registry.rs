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

/// What the document says about one operation.
pub(crate) struct OpDoc {
    pub request: Option<Schema>,
    pub query: Option<Schema>,
    pub status: u16,
    pub response: Schema,
}

impl OpDoc {
    /// An operation answering `status` with `R`.
    pub fn returns<R: JsonSchema>(g: &mut SchemaGenerator, status: u16) -> Self {
        OpDoc {
            request: None,
            query: None,
            status,
            response: g.subschema_for::<R>(),
        }
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

    /// The OpenAPI document, with every path under `prefix`.
    pub fn document(&self, prefix: &str) -> Value {
        let settings = schemars::generate::SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = "/components/schemas".into();
        });
        let mut generator = settings.into_generator();
        let mut paths = Map::new();
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
                        let description = schema
                            .as_object_mut()
                            .and_then(|o| o.remove("description"))
                            .unwrap_or(Value::Null);
                        params.push(json!({
                            "name": name, "in": "query", "required": required.contains(&name.as_str()),
                            "description": description, "schema": schema,
                        }));
                    }
                }
            }
            let mut operation = json!({
                "summary": op.summary,
                "operationId": operation_id(&op.method, op.path),
                "parameters": params,
                "x-cpms-access": op.access.label(),
                "responses": {
                    doc.status.to_string(): {
                        "description": "success",
                        "content": {"application/json": {"schema": doc.response}},
                    },
                    "default": {
                        "description": "an RFC 9457 problem",
                        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                    },
                },
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
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": "cpms operator API",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "Operate a charger network: sites, chargers, tokens, sessions, commands to chargers, API keys, audit log. Authenticate with `Authorization: Bearer <API key>`; `x-cpms-access` on each operation names the least role it needs.",
            },
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
            },
            "security": [{"apiKey": []}],
        })
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
