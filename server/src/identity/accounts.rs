//! What an admin does to staff accounts: list them, add one, change a name, department or
//! roles, disable and enable, reset a password. Every change is a `staff_events` row written in
//! the same transaction as the change (append-only: the database refuses to alter or remove
//! one). Disabling an account or resetting its password ends its sessions at once; changing its
//! roles or department ends the live connections opened with the old rights (the sessions
//! stay). Either way, after the commit, [`SessionEnds`] tells every live connection and desk.
//!
//! Two guards keep an office administrable: nobody disables themselves or takes away their own
//! admin role, and the last active admin can be neither disabled nor demoted.

use super::sessions::{self, EndReason, SessionEnds};
use super::staff::{
    By, StaffAccount, StaffError, account, check_department, check_password, hash_password, parse_roles, record_event,
    roles_text,
};
use crate::db::{Db, now_ms};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Every account, disabled ones too, by department and login.
pub async fn list(db: &Db) -> Result<Vec<StaffAccount>, StaffError> {
    let rows = sqlx::query(
        "SELECT id, login, display_name, department_id, roles, disabled_at FROM staff ORDER BY department_id, login",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.iter().map(account).collect::<Result<_, _>>()?)
}

/// One account by login, disabled or not.
pub async fn by_login(db: &Db, login: &str) -> Result<StaffAccount, StaffError> {
    let row =
        sqlx::query("SELECT id, login, display_name, department_id, roles, disabled_at FROM staff WHERE login = $1")
            .bind(login)
            .fetch_optional(&db.pool)
            .await?;
    row.as_ref().map(account).transpose()?.ok_or_else(|| StaffError::NoAccount(login.chars().take(64).collect()))
}

/// What an admin changes on an account; what is `None` stays.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct Change {
    pub display_name: Option<String>,
    pub department: Option<String>,
    /// clerk, supervisor, admin (at least one).
    pub roles: Option<Vec<String>>,
    pub disabled: Option<bool>,
}

/// One change to an account, as the admin screens and the API show it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountEvent {
    pub at: i64,
    /// The admin's login, or `command-line`.
    pub by: String,
    pub action: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

async fn active_admins(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<Vec<i64>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, roles FROM staff WHERE disabled_at IS NULL").fetch_all(&mut **tx).await?;
    let mut ids = Vec::new();
    for r in rows {
        let roles: String = r.try_get(1)?;
        if roles.split(',').any(|x| x == "admin") {
            ids.push(r.try_get(0)?);
        }
    }
    Ok(ids)
}

/// Applies `change` to the account `login`, as `by`; returns the account after it.
pub async fn change(
    db: &Db,
    ends: &SessionEnds,
    by: &StaffAccount,
    login: &str,
    change: Change,
) -> Result<StaffAccount, StaffError> {
    let before = by_login(db, login).await?;
    let mut after = before.clone();
    let mut what = serde_json::Map::new();
    if let Some(name) = change.display_name {
        let name: String = name.trim().chars().take(64).collect();
        if name.is_empty() {
            return Err(StaffError::BadName);
        }
        if name != before.display_name {
            what.insert("display_name".into(), serde_json::json!({"from": before.display_name, "to": name}));
            after.display_name = name;
        }
    }
    if let Some(dept) = change.department {
        check_department(db, &dept).await?;
        if dept != before.department_id {
            what.insert("department".into(), serde_json::json!({"from": before.department_id, "to": dept}));
            after.department_id = dept;
        }
    }
    if let Some(roles) = change.roles {
        if roles.is_empty() {
            return Err(StaffError::UnknownRole(String::new()));
        }
        let roles = parse_roles(&roles)?;
        if roles_text(&roles) != roles_text(&before.roles) {
            what.insert(
                "roles".into(),
                serde_json::json!({"from": roles_text(&before.roles), "to": roles_text(&roles)}),
            );
            after.roles = roles;
        }
    }
    if let Some(disabled) = change.disabled
        && disabled != before.disabled
    {
        what.insert("disabled".into(), serde_json::json!({"from": before.disabled, "to": disabled}));
        after.disabled = disabled;
    }
    if what.is_empty() {
        return Ok(before);
    }
    if before.id == by.id && (after.disabled || !after.is_admin()) {
        return Err(StaffError::Lockout("you cannot disable yourself or take away your own admin role"));
    }
    let mut tx = db.pool.begin().await?;
    if before.is_admin() && !before.disabled && (after.disabled || !after.is_admin()) {
        let admins = active_admins(&mut tx).await?;
        if admins.iter().all(|id| *id == before.id) {
            return Err(StaffError::Lockout("this is the last active admin; make another admin first"));
        }
    }
    sqlx::query(
        "UPDATE staff SET display_name = $1, department_id = $2, roles = $3,
         disabled_at = CASE WHEN $4 THEN COALESCE(disabled_at, $5) ELSE NULL END WHERE id = $6",
    )
    .bind(&after.display_name)
    .bind(&after.department_id)
    .bind(roles_text(&after.roles))
    .bind(after.disabled)
    .bind(now_ms())
    .bind(before.id)
    .execute(&mut *tx)
    .await?;
    let keys = sessions::keys_of_staff(&mut tx, before.id).await?;
    let reason = if after.disabled {
        end_sessions(&mut tx, before.id).await?;
        Some(EndReason::AccountEnded)
    } else if after.department_id != before.department_id || roles_text(&after.roles) != roles_text(&before.roles) {
        // A connection whose listener misses the notice below still finds the change here.
        sqlx::query("UPDATE sessions SET rights_changed_at = $1 WHERE principal_kind = 'staff' AND principal_id = $2")
            .bind(now_ms())
            .bind(before.id.to_string())
            .execute(&mut *tx)
            .await?;
        Some(EndReason::RightsChanged)
    } else {
        None
    };
    record_event(&mut tx, &By::Admin(by), before.id, "changed", &serde_json::Value::Object(what)).await?;
    tx.commit().await?;
    tracing::info!(login = %before.login, by = %by.login, "staff account changed");
    if let Some(reason) = reason {
        ends.publish(keys, Some(before.id), reason);
    }
    Ok(after)
}

async fn end_sessions(tx: &mut sqlx::Transaction<'_, sqlx::Any>, staff_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE principal_kind = 'staff' AND principal_id = $1")
        .bind(staff_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Sets a new password for `login` (the admin passes it on); its sessions end.
pub async fn reset_password(
    db: &Db,
    ends: &SessionEnds,
    by: &StaffAccount,
    login: &str,
    password: &str,
) -> Result<(), StaffError> {
    check_password(password)?;
    let target = by_login(db, login).await?;
    let hash = hash_password(password.to_string()).await?;
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE staff SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(target.id)
        .execute(&mut *tx)
        .await?;
    let keys = sessions::keys_of_staff(&mut tx, target.id).await?;
    end_sessions(&mut tx, target.id).await?;
    record_event(&mut tx, &By::Admin(by), target.id, "password_reset", &serde_json::json!({})).await?;
    tx.commit().await?;
    tracing::info!(login = %target.login, by = %by.login, "staff password reset");
    ends.publish(keys, Some(target.id), EndReason::AccountEnded);
    Ok(())
}

/// The changes to `login`'s account, oldest first.
pub async fn events(db: &Db, login: &str) -> Result<Vec<AccountEvent>, StaffError> {
    let target = by_login(db, login).await?;
    let rows = sqlx::query("SELECT at, actor_login, action, detail FROM staff_events WHERE staff_id = $1 ORDER BY id")
        .bind(target.id)
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| {
            let detail: String = r.try_get(3)?;
            Ok(AccountEvent {
                at: r.try_get(0)?,
                by: r.try_get(1)?,
                action: r.try_get(2)?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StaffError::from)
}

/// Whether the office has an active admin (else the first start prints a setup link).
pub async fn has_admin(db: &Db) -> Result<bool, StaffError> {
    let mut tx = db.pool.begin().await?;
    let any = !active_admins(&mut tx).await?.is_empty();
    tx.commit().await?;
    Ok(any)
}

#[cfg(test)]
mod tests {
    use super::super::sessions::{EndReason, SessionEnds, SessionKey, SessionListener, create_staff};
    use super::super::staff::{self, By};
    use super::{Change, change};
    use crate::db::{Db, database_url};
    use std::time::Duration;

    /// A live connection whose listener fell behind (more than the channel holds went by, the
    /// notice of the change among them) still ends when its account's rights changed after it
    /// began listening, and one that began after the change goes on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_listener_that_missed_the_notice_still_ends_on_a_change_of_rights() {
        let dir = std::env::temp_dir().join(format!("madoguchi-accounts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = Db::connect(&database_url(None, &dir).unwrap()).await.expect("the database");
        for dept in ["resident_registration", "insurance_pension"] {
            sqlx::query("INSERT INTO departments (id, ticket_prefix, name_ja, name_en) VALUES ($1, 'A', $1, $1)")
                .bind(dept)
                .execute(&db.pool)
                .await
                .expect("a department");
        }
        let add = |login: &'static str, role: &'static str| {
            let db = db.clone();
            async move {
                let roles = [role.to_string()];
                staff::add(&db, By::CommandLine, login, "", "resident_registration", &roles, "a-long-enough-password")
                    .await
                    .expect("an account")
            }
        };
        let admin = add("admin.one", "admin").await;
        let clerk = add("clerk.one", "clerk").await;
        let token = create_staff(&db, clerk.id).await.expect("a session");
        let ends = SessionEnds::default();
        let mut before = SessionListener::new(ends.subscribe(), SessionKey::of(&token));
        // Other sessions' ends, enough to push the notice out of the channel.
        let unrelated = |n: usize| {
            for _ in 0..n {
                ends.publish(vec![SessionKey::of("someone-else")], None, EndReason::Expired);
            }
        };
        tokio::time::sleep(Duration::from_millis(2)).await;

        let moved = Change { department: Some("insurance_pension".into()), ..Default::default() };
        change(&db, &ends, &admin, "clerk.one", moved).await.expect("moved");
        unrelated(300);
        let reason = tokio::time::timeout(Duration::from_secs(5), before.ended(&db)).await;
        assert_eq!(reason.ok(), Some(EndReason::RightsChanged), "the change was missed live but found in the table");

        // A connection opened with the new rights goes on, even after falling behind.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let mut after = SessionListener::new(ends.subscribe(), SessionKey::of(&token));
        unrelated(300);
        let reason = tokio::time::timeout(Duration::from_millis(300), after.ended(&db)).await;
        assert!(reason.is_err(), "a connection opened after the change goes on: {reason:?}");
    }
}
