//! The operator's files under `assets/` that the server reads at start: the office (departments,
//! hours) and its room layouts, validated, with errors that name the file and the field.

use anyhow::Context;
use madoguchi_shared::layout::Office;
use std::path::Path;

/// Reads and validates `office.toml` and `layouts/*.toml` under `assets`.
pub fn load_office(assets: &Path) -> anyhow::Result<Office> {
    let office_path = assets.join("office.toml");
    let office_text = std::fs::read_to_string(&office_path)
        .with_context(|| format!("cannot read {} (set --assets or MADOGUCHI_ASSETS)", office_path.display()))?;
    let dir = assets.join("layouts");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut rooms = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        rooms.push((p.display().to_string(), text));
    }
    Ok(Office::parse((&office_path.display().to_string(), &office_text), &rooms)?)
}
