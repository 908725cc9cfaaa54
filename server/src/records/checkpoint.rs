//! Signed checkpoints of the office-wide audit chain, kept outside the database.
//!
//! A chain inside the database proves nothing to someone who can rewrite the database: they can
//! rehash everything. So every few minutes the server signs the office-wide head (number of
//! links, newest link's hash, time) with an Ed25519 key it reads from a file — never from or
//! into the database — and appends the signed line to a checkpoint file (one JSON object a
//! line, fsynced). Ship that file off the machine (an append-only bucket, a log server, the
//! auditor's mailbox). `audit verify --since-checkpoint FILE --public-key HEX` then checks every
//! line's signature with the public key, and that the database's chain still has, at each
//! checkpoint's link, the hash that was signed: nothing up to the newest checkpoint was changed,
//! removed or rehashed. The private key stays with the server (readable by its service account
//! only, kept out of database backups); the public key goes to whoever audits.

use super::audit;
use crate::db::Db;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// One signed checkpoint: the office-wide chain had `gseq` links, the newest `ghash`, at `at`
/// (ms since the epoch).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    pub gseq: i64,
    pub ghash: String,
    pub at: i64,
    /// The signer's public key, hex (for reading; verification uses the key the auditor gives).
    pub public_key: String,
    /// Ed25519 signature of [`message`], hex.
    pub signature: String,
}

/// What is signed.
fn message(gseq: i64, ghash: &str, at: i64) -> Vec<u8> {
    format!("madoguchi audit checkpoint v1\n{gseq}\n{ghash}\n{at}").into_bytes()
}

/// Reads a signing key: a file holding its 32-byte seed as 64 hex digits.
pub fn load_key(path: &Path) -> Result<SigningKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let seed = hex::decode(text.trim()).map_err(|e| format!("{}: not hex: {e}", path.display()))?;
    let seed: [u8; 32] =
        seed.try_into().map_err(|_| format!("{}: a key is 32 bytes (64 hex digits)", path.display()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Makes a new key in a new file `path` (readable by its owner only); returns its public key.
pub fn keygen(path: &Path) -> Result<String, String> {
    let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    writeln!(f, "{}", hex::encode(key.to_bytes())).and_then(|_| f.sync_all()).map_err(|e| e.to_string())?;
    Ok(hex::encode(key.verifying_key().to_bytes()))
}

/// A public key from 64 hex digits.
pub fn public_key(hex_key: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = hex::decode(hex_key.trim())
        .map_err(|e| format!("public key: not hex: {e}"))?
        .try_into()
        .map_err(|_| "a public key is 32 bytes (64 hex digits)".to_string())?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("public key: {e}"))
}

/// Signs the head `gseq`/`ghash` at `at`.
pub fn sign(key: &SigningKey, gseq: i64, ghash: &str, at: i64) -> Checkpoint {
    Checkpoint {
        gseq,
        ghash: ghash.into(),
        at,
        public_key: hex::encode(key.verifying_key().to_bytes()),
        signature: hex::encode(key.sign(&message(gseq, ghash, at)).to_bytes()),
    }
}

/// Whether `cp` was signed by `key`.
pub fn signed_by(cp: &Checkpoint, key: &VerifyingKey) -> bool {
    let Ok(sig) = hex::decode(&cp.signature) else { return false };
    let Ok(sig) = Signature::from_slice(&sig) else { return false };
    key.verify(&message(cp.gseq, &cp.ghash, cp.at), &sig).is_ok()
}

/// Appends `cp` to the file at `path` as one line, and waits until it is on disk.
pub fn append(path: &Path, cp: &Checkpoint) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let mut line = serde_json::to_string(cp).map_err(std::io::Error::other)?;
    line.push('\n');
    f.write_all(line.as_bytes())?;
    f.sync_data()
}

/// Signs the current head into `path` if it moved past `last` (the gseq of the last checkpoint
/// written); returns the new last.
pub async fn write_if_moved(db: &Db, key: &SigningKey, path: &Path, last: Option<i64>) -> Result<Option<i64>, String> {
    let (gseq, ghash) = audit::global_head(db).await.map_err(|e| e.to_string())?;
    if last == Some(gseq) {
        return Ok(last);
    }
    let cp = sign(key, gseq, &ghash, crate::db::now_ms());
    append(path, &cp).map_err(|e| format!("{}: {e}", path.display()))?;
    tracing::info!(gseq, path = %path.display(), "audit checkpoint written");
    Ok(Some(gseq))
}

/// Writes a checkpoint now and then every `every` while the head moves, on the current runtime.
pub fn spawn_writer(db: Db, key: SigningKey, path: std::path::PathBuf, every: Duration) {
    tokio::spawn(async move {
        let mut last = None;
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match write_if_moved(&db, &key, &path, last).await {
                Ok(l) => last = l,
                Err(e) => tracing::error!(error = %e, "could not write an audit checkpoint"),
            }
        }
    });
}

/// What checking a checkpoint file against the database found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointVerdict {
    /// Every line is signed by the key and the chain still holds each signed link.
    Holds {
        checkpoints: usize,
        newest_gseq: i64,
    },
    Broken(String),
}

/// Checks every line of the checkpoint file at `path` against `key` and the database.
pub async fn verify_file(db: &Db, path: &Path, key: &VerifyingKey) -> Result<CheckpointVerdict, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (head, _) = audit::global_head(db).await.map_err(|e| e.to_string())?;
    let mut newest = 0i64;
    let mut count = 0;
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let n = i + 1;
        let Ok(cp) = serde_json::from_str::<Checkpoint>(line) else {
            return Ok(CheckpointVerdict::Broken(format!("checkpoint line {n} is not a checkpoint")));
        };
        if !signed_by(&cp, key) {
            return Ok(CheckpointVerdict::Broken(format!("checkpoint line {n} is not signed by this key")));
        }
        if cp.gseq < newest {
            return Ok(CheckpointVerdict::Broken(format!(
                "checkpoint line {n} goes back from link {newest} to {}",
                cp.gseq
            )));
        }
        if cp.gseq > head {
            return Ok(CheckpointVerdict::Broken(format!(
                "checkpoint line {n} signed {} links, the database has {head}: the chain was cut back",
                cp.gseq
            )));
        }
        if cp.gseq > 0 {
            let stored = audit::link_at(db, cp.gseq).await.map_err(|e| e.to_string())?;
            if stored.as_deref() != Some(cp.ghash.as_str()) {
                return Ok(CheckpointVerdict::Broken(format!(
                    "checkpoint line {n}: link {} is not the one signed: something up to it was changed",
                    cp.gseq
                )));
            }
        }
        newest = cp.gseq;
        count += 1;
    }
    if count == 0 {
        return Ok(CheckpointVerdict::Broken(format!("{}: no checkpoints", path.display())));
    }
    Ok(CheckpointVerdict::Holds { checkpoints: count, newest_gseq: newest })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_with_its_key_only_and_covers_every_field() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let cp = sign(&key, 42, "abc", 1000);
        assert!(signed_by(&cp, &key.verifying_key()));
        assert!(!signed_by(&cp, &other.verifying_key()));
        for changed in [
            Checkpoint { gseq: 43, ..cp.clone() },
            Checkpoint { ghash: "abd".into(), ..cp.clone() },
            Checkpoint { at: 1001, ..cp.clone() },
        ] {
            assert!(!signed_by(&changed, &key.verifying_key()), "{changed:?}");
        }
        assert_eq!(public_key(&cp.public_key).unwrap(), key.verifying_key());
    }

    #[test]
    fn keys_round_trip_through_their_file_which_is_private() {
        let dir = std::env::temp_dir().join(format!("madoguchi-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.key");
        let _ = std::fs::remove_file(&path);
        let public = keygen(&path).unwrap();
        assert!(keygen(&path).is_err(), "an existing key is never overwritten");
        let key = load_key(&path).unwrap();
        assert_eq!(hex::encode(key.verifying_key().to_bytes()), public);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
