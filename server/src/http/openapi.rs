//! The OpenAPI document of `/api/v1`, generated from the handlers' annotations.

use super::{ops, queue, records, sessions, world};
use axum::Json;
use utoipa::OpenApi;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("session token")).build(),
            ),
        );
    }
}

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Madoguchi API", description = "Residents, staff and records of a Madoguchi virtual ward office."),
    paths(
        ops::healthz,
        sessions::create_guest_session,
        sessions::me,
        sessions::staff_login,
        sessions::logout,
        world::connect_token,
        world::ws_ticket,
        records::list_procedures,
        records::resident_list,
        records::resident_create,
        records::resident_read,
        records::resident_edit,
        records::resident_submit,
        records::resident_withdraw,
        records::staff_search,
        records::staff_create,
        records::staff_read,
        records::staff_edit,
        records::staff_status,
        records::staff_events,
        queue::departments,
        queue::my_tickets,
        queue::take_ticket,
        queue::cancel_ticket,
        queue::arrived,
        queue::desks,
        queue::staff_queue,
        queue::take_desk,
        queue::leave_desk,
        queue::heartbeat,
        queue::call_next,
        queue::recall,
        queue::no_show,
        queue::done,
        queue::transfer,
        queue::ticket_events,
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "sessions", description = "Guest and staff sessions"),
        (name = "resident", description = "A resident's own applications"),
        (name = "staff", description = "A clerk's department's applications"),
        (name = "world", description = "Entering the 3D office"),
        (name = "queue", description = "Queues and a resident's tickets (番号札)"),
    )
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`.
pub(super) async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
