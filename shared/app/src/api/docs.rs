//! `/docs`: the interactive API reference (Swagger UI 5.32.0, embedded in the binary: no CDN), reading
//! `/v1/openapi.json`; `/` leads there.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>cpms operator API</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="api-reference"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"##;

const INIT: &str = r##"window.ui = SwaggerUIBundle({
  url: "/v1/openapi.json",
  dom_id: "#api-reference",
  deepLinking: true,
  persistAuthorization: false,
  tryItOutEnabled: false
});
"##;

const BUNDLE: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js");
const CSS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui.css");

fn asset(body: &'static [u8], content_type: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    r
}

/// `GET /docs`.
pub(crate) async fn page() -> Response {
    let mut r = asset(PAGE.as_bytes(), "text/html; charset=utf-8");
    // Scripts and styles from this server only (Swagger UI sets inline styles; images are data: URLs).
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    r
}

/// `GET /docs/init.js`.
pub(crate) async fn init() -> Response {
    asset(INIT.as_bytes(), "text/javascript; charset=utf-8")
}

/// `GET /docs/swagger-ui-bundle.js`.
pub(crate) async fn bundle() -> Response {
    asset(BUNDLE, "text/javascript; charset=utf-8")
}

/// `GET /docs/swagger-ui.css`.
pub(crate) async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

/// `GET /`: the API reference.
pub(crate) async fn root() -> Redirect {
    Redirect::temporary("/docs")
}
