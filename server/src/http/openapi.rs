//! The OpenAPI document of `/api/v1`, generated from the handlers' annotations.

use super::{accounts, consult, ops, queue, records, sessions, signin, world};
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

/// Responses every operation of a kind can give, added to each so the document lists every
/// status the API really returns (`tests/tests/e2e/openapi_contract.rs` checks that against a live
/// server): `401` where a session is required, `400` where there is a body or a parameter
/// (malformed JSON, a wrong content type, an id that is not a number, an unknown status), `404` where a path names
/// something, and `429` (with `Retry-After`) where the operation is rate-limited. Each is an
/// [`super::error::ErrorBody`]. The guest-session body is optional (defaults apply).
struct CommonResponses;

/// Operations that are rate-limited per address, session or resident.
const RATE_LIMITED: &[(&str, &str)] = &[
    ("post", "/api/v1/sessions/guest"),
    ("post", "/api/v1/staff/login"),
    ("post", "/api/v1/world/connect-token"),
    ("post", "/api/v1/world/ws-ticket"),
    ("post", "/api/v1/tickets"),
    ("post", "/api/v1/consultations/{id}/join"),
    ("post", "/api/v1/consultations/join-by-code"),
    ("post", "/api/v1/consultations/page-link"),
];

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, ResponseBuilder};
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [
                ("get", item.get.as_mut()),
                ("post", item.post.as_mut()),
                ("patch", item.patch.as_mut()),
                ("put", item.put.as_mut()),
                ("delete", item.delete.as_mut()),
            ];
            for (method, op) in ops {
                let Some(op) = op else { continue };
                let responses = &mut op.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses.entry(status.to_string()).or_insert_with(|| error(description));
                };
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    add("401", "no valid session");
                    add("403", "not for this kind of session, role or department (see `code`)");
                }
                if op.request_body.is_some() {
                    add("400", "malformed body");
                }
                if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                    add("400", "malformed parameter");
                }
                if path.contains('{') {
                    add("400", "malformed path parameter");
                    add("404", "not found (or not yours)");
                }
                if RATE_LIMITED.contains(&(method, path.as_str())) {
                    add("429", "too many requests; see Retry-After");
                }
                if (method, path.as_str()) == ("post", "/api/v1/sessions/guest")
                    && let Some(body) = op.request_body.as_mut()
                {
                    body.required = Some(Required::False);
                }
            }
        }
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
        records::check_form,
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
        consult::start,
        consult::staff_view,
        consult::end,
        consult::add_application,
        consult::invite,
        consult::current,
        consult::join,
        consult::join_by_code,
        consult::page_link,
        signin::providers,
        signin::start_api,
        signin::handoff,
        queue::overview,
        accounts::list,
        accounts::add,
        accounts::read,
        accounts::change,
        accounts::reset_password,
        accounts::events,
    ),
    modifiers(&BearerScheme, &CommonResponses),
    tags(
        (name = "sessions", description = "Guest and staff sessions"),
        (name = "resident", description = "A resident's own applications"),
        (name = "staff", description = "A clerk's department's applications"),
        (name = "world", description = "Entering the 3D office"),
        (name = "queue", description = "Queues and a resident's tickets (番号札)"),
        (name = "consultations", description = "Video consultations at the counter"),
        (name = "supervisor", description = "A department's live overview"),
        (name = "admin", description = "Staff accounts"),
    )
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`: the document, with the office's departments (known at start,
/// from `office.toml`) as the only values a department field takes.
pub(super) async fn openapi(
    axum::extract::State(s): axum::extract::State<super::state::HttpState>,
) -> Json<utoipa::openapi::OpenApi> {
    let mut doc = ApiDoc::openapi();
    let ids: Vec<serde_json::Value> =
        s.queues.office().departments.iter().map(|d| serde_json::Value::String(d.id.clone())).collect();
    known_departments(&mut doc, &ids);
    Json(doc)
}

/// Every `department` field of a request takes one of `ids`.
fn known_departments(doc: &mut utoipa::openapi::OpenApi, ids: &[serde_json::Value]) {
    use utoipa::openapi::{RefOr, Schema};
    let Some(components) = doc.components.as_mut() else { return };
    for name in ["TakeRequest", "TransferRequest", "NewAccount", "Change"] {
        if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name)
            && let Some(RefOr::T(Schema::Object(field))) = object.properties.get_mut("department")
        {
            field.enum_values = Some(ids.to_vec());
        }
    }
}
