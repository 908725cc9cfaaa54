//! The records service: the operations on applications that change something, each publishing
//! [`OfficeEvent::Application`] once its transaction has committed, so that whoever shows the
//! application (a running consultation) shows it as it is now. Reads go to `applications`
//! directly.

use super::applications::{self, ApplicationView, RecordError, Status};
use super::audit::Actor;
use super::catalog::Catalog;
use crate::db::Db;
use crate::events::{OfficeEvent, OfficeEvents};
use serde_json::Value;
use std::sync::Arc;

/// Cheap to clone; one per office.
#[derive(Clone)]
pub struct Records {
    db: Db,
    catalog: Arc<Catalog>,
    events: OfficeEvents,
    /// The office's time zone (minutes east of UTC), which reference numbers' years follow.
    utc_offset_min: i32,
}

impl Records {
    pub fn new(db: Db, catalog: Arc<Catalog>, events: OfficeEvents, utc_offset_min: i32) -> Records {
        Records { db, catalog, events, utc_offset_min }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn changed(&self, reference: &str) {
        self.events.publish(OfficeEvent::Application { reference: reference.to_string() });
    }

    /// A new draft (see [`applications::create`]).
    pub async fn create(
        &self,
        actor: &Actor,
        procedure_id: &str,
        resident_id: Option<&str>,
        form: &Value,
    ) -> Result<ApplicationView, RecordError> {
        let view =
            applications::create(&self.db, &self.catalog, actor, procedure_id, resident_id, form, self.utc_offset_min)
                .await?;
        self.changed(&view.reference);
        Ok(view)
    }

    /// A new draft made by a clerk in consultation `consultation`, linked to it.
    pub async fn create_in_consultation(
        &self,
        actor: &Actor,
        procedure_id: &str,
        resident_id: &str,
        form: &Value,
        consultation: i64,
    ) -> Result<ApplicationView, RecordError> {
        let view = applications::create_in_consultation(
            &self.db,
            &self.catalog,
            actor,
            procedure_id,
            Some(resident_id),
            form,
            self.utc_offset_min,
            Some(consultation),
        )
        .await?;
        self.changed(&view.reference);
        Ok(view)
    }

    /// One of the resident's applications brought into consultation `consultation`.
    pub async fn link_to_consultation(
        &self,
        actor: &Actor,
        reference: &str,
        resident_id: &str,
        consultation: i64,
    ) -> Result<ApplicationView, RecordError> {
        let (_, view) =
            applications::link_to_consultation(&self.db, actor, reference, resident_id, consultation).await?;
        self.changed(&view.reference);
        Ok(view)
    }

    /// The form data replaced (see [`applications::edit`]).
    pub async fn edit(&self, actor: &Actor, reference: &str, form: &Value) -> Result<ApplicationView, RecordError> {
        let view = applications::edit(&self.db, &self.catalog, actor, reference, form).await?;
        self.changed(&view.reference);
        Ok(view)
    }

    /// The application moved to `to` (see [`applications::change_status`]).
    pub async fn change_status(
        &self,
        actor: &Actor,
        reference: &str,
        to: Status,
        note: Option<&str>,
    ) -> Result<ApplicationView, RecordError> {
        let view = applications::change_status(&self.db, &self.catalog, actor, reference, to, note).await?;
        self.changed(&view.reference);
        Ok(view)
    }
}
