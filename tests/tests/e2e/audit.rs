//! The audit trail against someone with write access to the database, on SQLite and
//! PostgreSQL: each kind of tampering is caught — by `audit verify` on its own where the
//! database still shows it, and by the signed checkpoints kept outside the database where a
//! careful rewrite leaves nothing inside it to see.

use madoguchi_server::records::audit::{EventFields, event_hash, link_hash};
use madoguchi_tests::{Backend, Harness, Store, on_both_backends};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

on_both_backends!(
    a_full_rewrite_passes_the_database_but_not_the_signed_checkpoints,
    an_event_rehashed_in_its_own_chain_breaks_the_office_wide_chain,
    a_truncated_tail_leaves_a_gap,
    a_rolled_back_head_is_caught,
    a_deleted_application_is_caught,
    ticket_events_cannot_be_changed,
);

/// An office with a checkpoint key, two applications (A: created and submitted; B: created,
/// the newest event), and a checkpoint of all three events written.
struct Office {
    h: Harness,
    checkpoints: PathBuf,
    public_key: String,
    a: String,
    b: String,
}

fn office(backend: Backend) -> Office {
    let store = Store::new(backend);
    let key = store.data_dir.join("audit.key");
    let out = store.cli(&["audit", "keygen", "--out", key.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let public_key = String::from_utf8_lossy(&out.stdout).lines().last().unwrap().trim().to_string();
    let checkpoints = store.data_dir.join("checkpoints.jsonl");
    let h = Harness::start_on(
        store,
        &[
            "--audit-key-file",
            key.to_str().unwrap(),
            "--audit-checkpoint-file",
            checkpoints.to_str().unwrap(),
            "--audit-checkpoint-secs",
            "1",
            "--always-open",
        ],
    );
    let resident = h.guest("Aiko");
    let form = json!({
        "full_name": "山田 花子", "full_name_kana": "ヤマダ ハナコ", "birth_date": "1990-04-01",
        "move_date": "2026-11-20", "previous_address": "大阪府大阪市北区1-1-1", "postal_code": "150-0001",
        "new_address": "東京都まどぐち区1-2-3", "household_role": "head"
    });
    let draft = || {
        let (s, v) = h.call(
            "POST",
            "/api/v1/applications",
            Some(&resident),
            Some(&json!({"procedure_id": "moving_in", "form_data": form})),
        );
        assert_eq!(s, 201, "{v}");
        v["reference"].as_str().unwrap().to_string()
    };
    let a = draft();
    assert_eq!(h.call("POST", &format!("/api/v1/applications/{a}/submit"), Some(&resident), None).0, 200);
    let b = draft();
    // Wait for the checkpoint of all three events.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&checkpoints).unwrap_or_default().contains("\"gseq\":3") {
        assert!(Instant::now() < deadline, "no checkpoint of 3 links written");
        std::thread::sleep(Duration::from_millis(100));
    }
    let o = Office { h, checkpoints, public_key, a, b };
    assert!(o.verify().is_ok() && o.verify_checkpoints().is_ok(), "intact at first");
    o
}

impl Office {
    /// `audit verify`: Ok(stdout) or Err(stderr).
    fn verify(&self) -> Result<String, String> {
        run(self.h.store.cli(&["audit", "verify"], ""))
    }

    /// `audit verify --since-checkpoint … --public-key …`.
    fn verify_checkpoints(&self) -> Result<String, String> {
        let file = self.checkpoints.to_str().unwrap();
        run(self.h.store.cli(&["audit", "verify", "--since-checkpoint", file, "--public-key", &self.public_key], ""))
    }

    /// Lets the database change what its triggers protect, as an attacker with its keys could.
    fn drop_protection(&self, backend: Backend) {
        let statements: &[&str] = match backend {
            Backend::Sqlite => &[
                "DROP TRIGGER application_events_no_update",
                "DROP TRIGGER application_events_no_delete",
                "DROP TRIGGER audit_log_no_update",
                "DROP TRIGGER audit_log_no_delete",
            ],
            Backend::Postgres => &[
                "ALTER TABLE application_events DISABLE TRIGGER application_events_no_change",
                "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
            ],
        };
        for s in statements {
            self.h.store.exec(s).unwrap();
        }
    }

    fn app_id(&self, reference: &str) -> String {
        self.h.store.rows(&format!("SELECT CAST(id AS TEXT) FROM applications WHERE reference = '{reference}'"))[0][0]
            .clone()
    }

    /// Rewrites the detail of event `seq` of application `reference` and its hash, and the
    /// application's head if it is the newest; returns the new hash.
    fn rewrite_event(&self, reference: &str, seq: i64, detail: &str) -> String {
        let id = self.app_id(reference);
        let r = &self.h.store.rows(&format!(
            "SELECT CAST(application_id AS TEXT), CAST(seq AS TEXT), CAST(at AS TEXT), actor_kind, actor_id, action,
                    prev_hash, state_hash, CAST(id AS TEXT) FROM application_events WHERE application_id = {id} AND seq = {seq}"
        ))[0];
        let hash = event_hash(&EventFields {
            application_id: r[0].parse().unwrap(),
            seq: r[1].parse().unwrap(),
            at: r[2].parse().unwrap(),
            actor_kind: &r[3],
            actor_id: &r[4],
            action: &r[5],
            detail,
            prev_hash: &r[6],
            state_hash: &r[7],
        });
        let event_id = &r[8];
        let exec = |sql: String| assert_eq!(self.h.store.exec(&sql).unwrap(), 1, "{sql}");
        exec(format!("UPDATE application_events SET detail = '{detail}', hash = '{hash}' WHERE id = {event_id}"));
        exec(format!("UPDATE applications SET head_hash = '{hash}' WHERE id = {id} AND event_count = {seq}"));
        hash
    }
}

fn run(out: std::process::Output) -> Result<String, String> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn a_full_rewrite_passes_the_database_but_not_the_signed_checkpoints(backend: Backend) {
    let o = office(backend);
    o.drop_protection(backend);
    // B's creation is the newest event: rewrite it, then its office-wide link and the head, so
    // every hash inside the database agrees again.
    let hash = o.rewrite_event(&o.b, 1, r#"{"forged":true}"#);
    let prev = o.h.store.rows("SELECT ghash FROM audit_log WHERE gseq = 2")[0][0].clone();
    let ghash = link_hash(&prev, 3, &hash);
    o.h.store.exec(&format!("UPDATE audit_log SET ghash = '{ghash}' WHERE gseq = 3")).unwrap();
    o.h.store.exec(&format!("UPDATE audit_head SET ghash = '{ghash}' WHERE id = 1")).unwrap();
    let inside = o.verify();
    assert!(inside.is_ok(), "a careful rewrite leaves nothing inside the database to see: {inside:?}");
    let err = o.verify_checkpoints().unwrap_err();
    assert!(err.contains("link 3 is not the one signed"), "{err}");
    // Nor can the checkpoints be rewritten to match: a line vouching for the new hash is not
    // signed by the office's key.
    let text = std::fs::read_to_string(&o.checkpoints).unwrap();
    let mut cp: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    cp["ghash"] = ghash.into();
    std::fs::write(&o.checkpoints, format!("{cp}\n")).unwrap();
    let err = o.verify_checkpoints().unwrap_err();
    assert!(err.contains("not signed by this key"), "{err}");
}

fn an_event_rehashed_in_its_own_chain_breaks_the_office_wide_chain(backend: Backend) {
    let o = office(backend);
    o.drop_protection(backend);
    // A's submission rewritten and rehashed, the application's head moved to match.
    o.rewrite_event(&o.a, 2, r#"{"after":"approved"}"#);
    let err = o.verify().unwrap_err();
    assert!(err.contains("office-wide link 2") && err.contains("does not follow"), "{err}");
}

fn a_truncated_tail_leaves_a_gap(backend: Backend) {
    let o = office(backend);
    o.drop_protection(backend);
    // A's submission deleted with its office-wide link, and A wound back to its first event.
    let id = o.app_id(&o.a);
    let first = o.h.store.rows(&format!("SELECT hash FROM application_events WHERE application_id = {id} AND seq = 1"))
        [0][0]
        .clone();
    let event =
        o.h.store
            .rows(&format!("SELECT CAST(id AS TEXT) FROM application_events WHERE application_id = {id} AND seq = 2"))
            [0][0]
            .clone();
    o.h.store.exec(&format!("DELETE FROM audit_log WHERE event_id = {event}")).unwrap();
    o.h.store.exec(&format!("DELETE FROM application_events WHERE id = {event}")).unwrap();
    o.h.store
        .exec(&format!(
            "UPDATE applications SET event_count = 1, head_hash = '{first}', status = 'draft' WHERE id = {id}"
        ))
        .unwrap();
    let err = o.verify().unwrap_err();
    assert!(err.contains("link 2 is missing"), "{err}");
}

fn a_rolled_back_head_is_caught(backend: Backend) {
    let o = office(backend);
    // No protection to drop: the application row is an ordinary table.
    let id = o.app_id(&o.a);
    let first = o.h.store.rows(&format!("SELECT hash FROM application_events WHERE application_id = {id} AND seq = 1"))
        [0][0]
        .clone();
    o.h.store.exec(&format!("UPDATE applications SET event_count = 1, head_hash = '{first}' WHERE id = {id}")).unwrap();
    let err = o.verify().unwrap_err();
    assert!(err.contains(&o.a) && err.contains("rolled back"), "{err}");
}

fn a_deleted_application_is_caught(backend: Backend) {
    let o = office(backend);
    o.drop_protection(backend);
    let delete = |reference: &str| {
        let id = o.app_id(reference);
        let events =
            o.h.store.rows(&format!("SELECT CAST(id AS TEXT) FROM application_events WHERE application_id = {id}"));
        for e in &events {
            o.h.store.exec(&format!("DELETE FROM audit_log WHERE event_id = {}", e[0])).unwrap();
        }
        o.h.store.exec(&format!("DELETE FROM application_events WHERE application_id = {id}")).unwrap();
        o.h.store.exec(&format!("DELETE FROM applications WHERE id = {id}")).unwrap();
    };
    // B, the newest, with its link, and the head wound back: nothing inside the database shows
    // it any more; the checkpoint of 3 links does.
    delete(&o.b);
    let link2 = o.h.store.rows("SELECT ghash FROM audit_log WHERE gseq = 2")[0][0].clone();
    o.h.store.exec(&format!("UPDATE audit_head SET gseq = 2, ghash = '{link2}' WHERE id = 1")).unwrap();
    assert!(o.verify().is_ok());
    let err = o.verify_checkpoints().unwrap_err();
    assert!(err.contains("cut back"), "{err}");
    // A, older: the office-wide chain lacks the links its head names.
    delete(&o.a);
    let err = o.verify().unwrap_err();
    assert!(err.contains("the office-wide head says 2 links") && err.contains("the chain has 0"), "{err}");
}

fn ticket_events_cannot_be_changed(backend: Backend) {
    let o = office(backend);
    let resident = o.h.guest("Bunta");
    let (s, v) = o.h.call("POST", "/api/v1/tickets", Some(&resident), Some(&json!({"department": "taxation"})));
    assert_eq!(s, 201, "{v}");
    let err = o.h.store.exec("UPDATE ticket_events SET detail = '{}'").unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    let err = o.h.store.exec("DELETE FROM ticket_events").unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    assert_eq!(o.h.store.rows("SELECT action FROM ticket_events"), vec![vec!["taken".to_string()]]);
}
