//! The `madoguchi-server` subcommands other than `serve`: checking the assets, migrating,
//! adding a staff member, and the audit trail's checks and keys.

use super::config::{self, AuditCommand, Command, StaffCommand};
use super::{load_catalog, open_db, runtime};
use crate::assets::load_office;
use crate::identity::staff;
use crate::records::{self, audit};
use anyhow::Context;

/// Runs a command of the `madoguchi-server` binary.
pub fn run(cli: config::Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => super::serve::serve(cli.serve, cli.db),
        Command::CheckAssets => {
            let office = load_office(&cli.serve.assets)?;
            let catalog = load_catalog(&cli.serve.assets, &office)?;
            println!(
                "{}: {} departments, {} rooms ({}), {} procedures",
                office.name.en,
                office.departments.len(),
                office.rooms.len(),
                office.rooms.iter().map(|r| r.id()).collect::<Vec<_>>().join(", "),
                catalog.len()
            );
            Ok(())
        }
        Command::Migrate => {
            let office = load_office(&cli.serve.assets)?;
            let db = runtime()?.block_on(open_db(&cli.db, &office))?;
            println!("database is up to date ({})", db.backend.as_str());
            Ok(())
        }
        Command::Staff(StaffCommand::Add { login, department, roles, display_name }) => {
            let office = load_office(&cli.serve.assets)?;
            let mut password = String::new();
            std::io::stdin().read_line(&mut password).context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']);
            let account = runtime()?.block_on(async {
                let db = open_db(&cli.db, &office).await?;
                anyhow::Ok(
                    staff::add(&db, staff::By::CommandLine, &login, &display_name, &department, &roles, password)
                        .await?,
                )
            })?;
            let roles: Vec<_> = account.roles.iter().map(|r| r.as_str()).collect();
            println!("added {} ({}, {})", account.login, account.department_id, roles.join(", "));
            Ok(())
        }
        Command::Audit(AuditCommand::Keygen { out }) => {
            let public = records::checkpoint::keygen(&out).map_err(anyhow::Error::msg)?;
            println!("new audit checkpoint key in {}; its public key (give it to the auditor):", out.display());
            println!("{public}");
            Ok(())
        }
        Command::Audit(AuditCommand::Verify { since_checkpoint, public_key }) => {
            let office = load_office(&cli.serve.assets)?;
            let key = match (&since_checkpoint, public_key, &cli.serve.records.audit_key_file) {
                (None, ..) => None,
                (Some(_), Some(hex_key), _) => {
                    Some(records::checkpoint::public_key(&hex_key).map_err(anyhow::Error::msg)?)
                }
                (Some(_), None, Some(file)) => {
                    Some(records::checkpoint::load_key(file).map_err(anyhow::Error::msg)?.verifying_key())
                }
                (Some(_), None, None) => anyhow::bail!("--since-checkpoint needs --public-key (or --audit-key-file)"),
            };
            let (verdict, checkpoints) = runtime()?.block_on(async {
                let db = open_db(&cli.db, &office).await?;
                let verdict = audit::verify(&db).await?;
                let checkpoints = match (&since_checkpoint, &key) {
                    (Some(file), Some(key)) => {
                        Some(records::checkpoint::verify_file(&db, file, key).await.map_err(anyhow::Error::msg)?)
                    }
                    _ => None,
                };
                anyhow::Ok((verdict, checkpoints))
            })?;
            if let Some(cp) = checkpoints {
                match cp {
                    records::checkpoint::CheckpointVerdict::Holds { checkpoints, newest_gseq } => println!(
                        "checkpoints hold: {checkpoints} signed checkpoints; nothing up to link {newest_gseq} has changed"
                    ),
                    records::checkpoint::CheckpointVerdict::Broken(why) => {
                        anyhow::bail!("audit checkpoints BROKEN: {why}")
                    }
                }
            }
            match verdict {
                audit::Verdict::Intact { applications, events } => {
                    println!("audit trail intact: {applications} applications, {events} events");
                    Ok(())
                }
                audit::Verdict::Broken { reference, seq, reason } => {
                    anyhow::bail!("audit trail BROKEN at application {reference}, event {seq}: {reason}")
                }
            }
        }
    }
}
