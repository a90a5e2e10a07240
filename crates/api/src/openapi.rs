//! The OpenAPI 3 document, generated from the handlers' annotations and the JSON types.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::json;
use crate::routes::{contacts, conversations, groups, identity, mailbox, messages, node};

#[derive(OpenApi)]
#[openapi(
    info(title = "Courier node API", description = "The local API of a Courier node: identity, \
        contacts, conversations, attachments, private groups, transports, plugins, the mailbox, and live events on /v1/ws. \
        Every /v1 request carries `Authorization: Bearer TOKEN` (the token is in DATA_DIR/api.token)."),
    paths(
        identity::identity, identity::qr,
        contacts::list, contacts::add, contacts::rename, contacts::remove,
        contacts::safety_number, contacts::verify, contacts::timer, contacts::set_timer,
        contacts::receipts, contacts::set_receipts,
        conversations::list, conversations::messages, conversations::send, conversations::read,
        messages::get, messages::content, messages::delete,
        groups::list, groups::create, groups::get, groups::members, groups::invite,
        groups::answer, groups::posts, groups::post, groups::content, groups::leave,
        groups::remove, groups::dissolve, groups::set_timer,
        node::transports, node::plugins,
        mailbox::status, mailbox::pair, mailbox::unpair,
        crate::live::socket,
    ),
    components(schemas(json::Event)),
    modifiers(&Bearer),
    security(("bearer" = [])),
)]
struct Document;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as a value.
pub fn openapi() -> utoipa::openapi::OpenApi {
    Document::openapi()
}

/// `/v1/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}
