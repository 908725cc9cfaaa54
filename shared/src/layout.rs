//! Office layouts: the departments, the rooms, their walls, doors, spawn points and counters.
//!
//! Layouts are operator-edited TOML files (`assets/office.toml` and `assets/layouts/*.toml`).
//! The same parsed [`Office`] drives server collision and client rendering. Everything is
//! validated at load: a bad file is refused with an error that names the file and the field.

use crate::hours::{Hours, HoursFile, parse_offset};
use crate::limits::AVATAR_RADIUS;
use crate::movement::{Aabb, blocked};
use crate::quant::Point;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// A name in the languages every sign must carry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Names {
    pub ja: String,
    pub en: String,
    /// やさしい日本語 (easy Japanese: kana, short words, spaces between them), for residents
    /// still learning Japanese. Optional: clients fall back to `ja`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub easy: Option<String>,
    /// Simplified Chinese, Korean and Vietnamese. Optional: a missing one shows as Japanese with
    /// the English beside it ([`crate::i18n::Lang::name`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ko: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vi: Option<String>,
}

/// A department of the ward office (課).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    /// Stable id used in records and counters, e.g. `resident_registration`.
    pub id: String,
    /// The letter on its tickets (番号札), e.g. `A` for "A-012".
    pub ticket_prefix: String,
    pub name: Names,
    /// Opening hours, if not the office's.
    #[serde(default)]
    pub hours: Option<HoursFile>,
}

/// Where a new arrival appears.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub room: String,
    pub spawn: String,
}

/// `assets/office.toml`: the office as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeFile {
    pub name: Names,
    pub entry: Entry,
    /// Local time's offset from UTC, e.g. `+09:00`.
    #[serde(default = "default_offset")]
    pub utc_offset: String,
    /// Opening hours of every department that does not give its own.
    pub hours: HoursFile,
    #[serde(rename = "department")]
    pub departments: Vec<Department>,
}

fn default_offset() -> String {
    "+09:00".into()
}

/// A named point where avatars appear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spawn {
    pub id: String,
    pub at: [f32; 2],
}

/// A wall: an axis-aligned box `[x0, y0, x1, y1]` in metres. Every kind blocks the way alike;
/// the kind says how the client draws it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wall {
    pub rect: [f32; 4],
    #[serde(default)]
    pub kind: WallKind,
    /// A sign on it (e.g. the information desk's name).
    #[serde(default)]
    pub label: Option<Names>,
}

/// What a [`Wall`] is in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WallKind {
    /// A wall, full height.
    #[default]
    Wall,
    /// A low partition (between counters).
    Partition,
    /// A desk (the information desk): counter height, with its label as a sign.
    Desk,
    /// A waiting bench.
    Bench,
    /// A pillar.
    Pillar,
    /// A floor guide board: the client writes the office's departments and where they are on it.
    Guide,
}

/// A doorway: stepping into `rect` takes you to `to_spawn` in `to_room`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Door {
    pub id: String,
    pub rect: [f32; 4],
    pub to_room: String,
    pub to_spawn: String,
    pub label: Names,
}

/// A counter desk of a department: residents stand at `resident_spot`, the clerk at `staff_spot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counter {
    pub id: String,
    pub department: String,
    pub desk: [f32; 4],
    pub resident_spot: [f32; 2],
    pub staff_spot: [f32; 2],
}

/// One room file in `assets/layouts/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomFile {
    pub id: String,
    pub name: Names,
    /// Width (x) and depth (y), metres. The room's edges are walls.
    pub size: [f32; 2],
    #[serde(default, rename = "spawn")]
    pub spawns: Vec<Spawn>,
    #[serde(default, rename = "wall")]
    pub walls: Vec<Wall>,
    #[serde(default, rename = "door")]
    pub doors: Vec<Door>,
    #[serde(default, rename = "counter")]
    pub counters: Vec<Counter>,
}

/// A validated room, with its collision solids precomputed.
#[derive(Debug, Clone, PartialEq)]
pub struct Room {
    pub file: RoomFile,
    /// Index of this room in [`Office::rooms`]; its id on the wire.
    pub index: u16,
    pub size: Point,
    /// Walls and counter desks: what avatars collide with.
    pub solids: Vec<Aabb>,
    /// Door trigger zones, parallel to `file.doors`.
    pub door_zones: Vec<Aabb>,
    /// Where each door leads: room index and arrival point, parallel to `file.doors`.
    pub door_targets: Vec<(u16, Point)>,
}

impl Room {
    pub fn id(&self) -> &str {
        &self.file.id
    }

    pub fn spawn(&self, id: &str) -> Option<Point> {
        self.file.spawns.iter().find(|s| s.id == id).map(|s| point(s.at))
    }

    /// The door whose trigger zone `p` stands in, if any.
    pub fn door_at(&self, p: Point) -> Option<&Door> {
        self.door_zones.iter().position(|z| z.contains(p)).map(|i| &self.file.doors[i])
    }

    /// Where the door `p` stands in leads: room index and arrival point.
    pub fn door_target_at(&self, p: Point) -> Option<(u16, Point)> {
        self.door_zones.iter().position(|z| z.contains(p)).and_then(|i| self.door_targets.get(i).copied())
    }
}

/// The whole validated office.
#[derive(Debug, Clone, PartialEq)]
pub struct Office {
    pub name: Names,
    pub departments: Vec<Department>,
    pub rooms: Vec<Room>,
    /// Room index and position where arrivals appear.
    pub entry_room: u16,
    pub entry_point: Point,
    /// Minutes east of UTC of the office's local time.
    pub utc_offset_min: i32,
    /// Opening hours, parallel to `departments`.
    pub hours: Vec<Hours>,
}

impl Office {
    pub fn room_index(&self, id: &str) -> Option<u16> {
        self.rooms.iter().position(|r| r.file.id == id).map(|i| i as u16)
    }

    pub fn room(&self, index: u16) -> Option<&Room> {
        self.rooms.get(index as usize)
    }

    pub fn department(&self, id: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.id == id)
    }

    /// A department's opening hours.
    pub fn hours_of(&self, department: &str) -> Option<&Hours> {
        self.departments.iter().position(|d| d.id == department).and_then(|i| self.hours.get(i))
    }

    /// A counter by id, with the room it stands in.
    pub fn counter(&self, id: &str) -> Option<(&Room, &Counter)> {
        self.rooms.iter().find_map(|r| r.file.counters.iter().find(|c| c.id == id).map(|c| (r, c)))
    }

    /// Every counter, with its room.
    pub fn counters(&self) -> impl Iterator<Item = (&Room, &Counter)> {
        self.rooms.iter().flat_map(|r| r.file.counters.iter().map(move |c| (r, c)))
    }

    /// Opens every department all day, every day (demonstrations, tests).
    pub fn set_always_open(&mut self) {
        for h in &mut self.hours {
            *h = Hours::always();
        }
    }

    /// Parses and validates an office from file contents. `office` and each room are
    /// `(file name, text)`; the names appear in errors.
    pub fn parse(office: (&str, &str), rooms: &[(String, String)]) -> Result<Office, LayoutError> {
        let (office_name, office_text) = office;
        let file: OfficeFile = toml::from_str(office_text).map_err(|e| LayoutError::parse(office_name, &e))?;
        validate_departments(office_name, &file.departments)?;
        let utc_offset_min = parse_offset(&file.utc_offset).ok_or_else(|| {
            LayoutError::field(
                office_name,
                "utc_offset",
                format!("\"{}\" is not an offset such as +09:00", file.utc_offset),
            )
        })?;
        let default_hours =
            Hours::from_file(&file.hours).map_err(|(f, m)| LayoutError::field(office_name, format!("hours.{f}"), m))?;
        let mut hours = Vec::new();
        for (i, d) in file.departments.iter().enumerate() {
            hours.push(match &d.hours {
                Some(h) => Hours::from_file(h)
                    .map_err(|(f, m)| LayoutError::field(office_name, format!("department[{i}].hours.{f}"), m))?,
                None => default_hours.clone(),
            });
        }
        let mut parsed = Vec::new();
        for (name, text) in rooms {
            let room: RoomFile = toml::from_str(text).map_err(|e| LayoutError::parse(name, &e))?;
            parsed.push((name.as_str(), room));
        }
        if parsed.is_empty() {
            return Err(LayoutError::field(office_name, "rooms", "no room layouts were found"));
        }
        if parsed.len() > u16::MAX as usize {
            return Err(LayoutError::field(office_name, "rooms", "too many rooms"));
        }
        check_room_ids(&parsed, &file.departments)?;
        let mut out = Vec::new();
        for (index, (name, r)) in parsed.iter().enumerate() {
            out.push(validate_room(name, r.clone(), index as u16)?);
        }
        link_doors(&parsed, &mut out)?;
        let Some(entry_room) = out.iter().position(|r| r.file.id == file.entry.room) else {
            return Err(LayoutError::field(
                office_name,
                "entry.room",
                format!("no room has id \"{}\"", file.entry.room),
            ));
        };
        let Some(entry_point) = out[entry_room].spawn(&file.entry.spawn) else {
            return Err(LayoutError::field(
                office_name,
                "entry.spawn",
                format!("room \"{}\" has no spawn \"{}\"", file.entry.room, file.entry.spawn),
            ));
        };
        if out[entry_room].door_at(entry_point).is_some() {
            return Err(LayoutError::field(office_name, "entry.spawn", "the entry spawn lies inside a door"));
        }
        Ok(Office {
            name: file.name,
            departments: file.departments,
            rooms: out,
            entry_room: entry_room as u16,
            entry_point,
            utc_offset_min,
            hours,
        })
    }
}

/// Room ids and counter ids are unique across the office, and every counter names a department.
fn check_room_ids(parsed: &[(&str, RoomFile)], departments: &[Department]) -> Result<(), LayoutError> {
    let dept_ids: HashSet<&str> = departments.iter().map(|d| d.id.as_str()).collect();
    let mut room_ids: HashMap<&str, &str> = HashMap::new();
    let mut counter_ids: HashMap<&str, &str> = HashMap::new();
    for (name, r) in parsed {
        check_id(name, "id", &r.id)?;
        if let Some(other) = room_ids.insert(r.id.as_str(), name) {
            return Err(LayoutError::field(name, "id", format!("room id \"{}\" is also used by {other}", r.id)));
        }
        for (i, c) in r.counters.iter().enumerate() {
            if let Some(other) = counter_ids.insert(c.id.as_str(), name) {
                return Err(LayoutError::field(
                    name,
                    format!("counter[{i}].id"),
                    format!("counter id \"{}\" is also used in {other}", c.id),
                ));
            }
            if !dept_ids.contains(c.department.as_str()) {
                let mut known: Vec<&str> = dept_ids.iter().copied().collect();
                known.sort_unstable();
                return Err(LayoutError::field(
                    name,
                    format!("counter[{i}].department"),
                    format!("unknown department \"{}\" (known: {})", c.department, known.join(", ")),
                ));
            }
        }
    }
    Ok(())
}

/// Each door's target: doors must lead somewhere real, and arrival points must not be inside a
/// door.
fn link_doors(parsed: &[(&str, RoomFile)], out: &mut [Room]) -> Result<(), LayoutError> {
    let mut targets = Vec::new();
    for (name, r) in parsed {
        let mut room_targets = Vec::new();
        for (i, d) in r.doors.iter().enumerate() {
            let Some(target) = out.iter().find(|t| t.file.id == d.to_room) else {
                return Err(LayoutError::field(
                    name,
                    format!("door[{i}].to_room"),
                    format!("no room has id \"{}\"", d.to_room),
                ));
            };
            let Some(at) = target.spawn(&d.to_spawn) else {
                return Err(LayoutError::field(
                    name,
                    format!("door[{i}].to_spawn"),
                    format!("room \"{}\" has no spawn \"{}\"", d.to_room, d.to_spawn),
                ));
            };
            if target.door_at(at).is_some() {
                return Err(LayoutError::field(
                    name,
                    format!("door[{i}].to_spawn"),
                    format!("spawn \"{}\" lies inside a door of room \"{}\"", d.to_spawn, d.to_room),
                ));
            }
            room_targets.push((target.index, at));
        }
        targets.push(room_targets);
    }
    for (room, t) in out.iter_mut().zip(targets) {
        room.door_targets = t;
    }
    Ok(())
}

/// A layout file that cannot be used, with the file and the field at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}: {field}: {message}")]
pub struct LayoutError {
    pub file: String,
    pub field: String,
    pub message: String,
}

impl LayoutError {
    fn field(file: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        LayoutError { file: file.to_string(), field: field.into(), message: message.into() }
    }

    fn parse(file: &str, e: &toml::de::Error) -> Self {
        // toml names the offending key and line in its message.
        LayoutError { file: file.to_string(), field: "(syntax)".into(), message: e.to_string().trim().to_string() }
    }
}

fn point(a: [f32; 2]) -> Point {
    Point::new(a[0], a[1])
}

fn check_id(file: &str, field: &str, id: &str) -> Result<(), LayoutError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(LayoutError::field(file, field, format!("\"{id}\" is not a valid id (1-64 of a-z, 0-9, _ and -)")))
    }
}

fn check_names(file: &str, field: &str, n: &Names) -> Result<(), LayoutError> {
    if n.ja.trim().is_empty() {
        return Err(LayoutError::field(file, format!("{field}.ja"), "must not be empty"));
    }
    if n.en.trim().is_empty() {
        return Err(LayoutError::field(file, format!("{field}.en"), "must not be empty"));
    }
    Ok(())
}

fn validate_departments(file: &str, ds: &[Department]) -> Result<(), LayoutError> {
    if ds.is_empty() {
        return Err(LayoutError::field(file, "department", "at least one department is required"));
    }
    let mut ids = HashSet::new();
    let mut prefixes = HashSet::new();
    for (i, d) in ds.iter().enumerate() {
        check_id(file, &format!("department[{i}].id"), &d.id)?;
        check_names(file, &format!("department[{i}].name"), &d.name)?;
        if !ids.insert(d.id.as_str()) {
            return Err(LayoutError::field(file, format!("department[{i}].id"), format!("\"{}\" appears twice", d.id)));
        }
        let p = &d.ticket_prefix;
        if p.len() != 1 || !p.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(LayoutError::field(
                file,
                format!("department[{i}].ticket_prefix"),
                format!("\"{p}\" must be one letter A-Z"),
            ));
        }
        if !prefixes.insert(p.as_str()) {
            return Err(LayoutError::field(
                file,
                format!("department[{i}].ticket_prefix"),
                format!("\"{p}\" is used by another department"),
            ));
        }
    }
    Ok(())
}

/// Largest room side, metres: positions must fit the wire's `i16` centimetres.
const MAX_ROOM_SIDE: f32 = 300.0;

fn validate_room(file: &str, r: RoomFile, index: u16) -> Result<Room, LayoutError> {
    check_names(file, "name", &r.name)?;
    let [w, d] = r.size;
    if !(w.is_finite() && d.is_finite() && w >= 2.0 && d >= 2.0 && w <= MAX_ROOM_SIDE && d <= MAX_ROOM_SIDE) {
        return Err(LayoutError::field(
            file,
            "size",
            format!("{w} x {d} must be between 2 and {MAX_ROOM_SIDE} metres"),
        ));
    }
    let size = Point::new(w, d);
    let rect = |field: String, a: [f32; 4]| -> Result<Aabb, LayoutError> {
        let [x0, y0, x1, y1] = a;
        if !a.iter().all(|v| v.is_finite()) || x0 >= x1 || y0 >= y1 {
            return Err(LayoutError::field(
                file,
                field,
                format!("{a:?} must be [x0, y0, x1, y1] with x0 < x1 and y0 < y1"),
            ));
        }
        if x0 < 0.0 || y0 < 0.0 || x1 > w || y1 > d {
            return Err(LayoutError::field(file, field, format!("{a:?} lies outside the room ({w} x {d})")));
        }
        Ok(Aabb::new(x0, y0, x1, y1))
    };
    let mut solids = Vec::new();
    for (i, wall) in r.walls.iter().enumerate() {
        solids.push(rect(format!("wall[{i}].rect"), wall.rect)?);
    }
    for (i, c) in r.counters.iter().enumerate() {
        check_id(file, &format!("counter[{i}].id"), &c.id)?;
        solids.push(rect(format!("counter[{i}].desk"), c.desk)?);
    }
    let mut door_zones = Vec::new();
    let mut door_ids = HashSet::new();
    for (i, door) in r.doors.iter().enumerate() {
        check_id(file, &format!("door[{i}].id"), &door.id)?;
        check_names(file, &format!("door[{i}].label"), &door.label)?;
        if !door_ids.insert(door.id.as_str()) {
            return Err(LayoutError::field(file, format!("door[{i}].id"), format!("\"{}\" appears twice", door.id)));
        }
        let zone = rect(format!("door[{i}].rect"), door.rect)?;
        // An avatar centre must be able to enter the zone: it cannot get closer than its radius
        // to the room's edge, nor into a solid.
        let reachable = zone.max.x > AVATAR_RADIUS
            && zone.min.x < w - AVATAR_RADIUS
            && zone.max.y > AVATAR_RADIUS
            && zone.min.y < d - AVATAR_RADIUS
            && !blocked(zone.center(), &solids);
        if !reachable {
            return Err(LayoutError::field(
                file,
                format!("door[{i}].rect"),
                "an avatar cannot reach this door (it is blocked or hugs the room edge too closely)",
            ));
        }
        door_zones.push(zone);
    }
    let place = |field: String, at: [f32; 2]| -> Result<(), LayoutError> {
        let p = point(at);
        let inside = p.is_finite()
            && p.x >= AVATAR_RADIUS
            && p.y >= AVATAR_RADIUS
            && p.x <= w - AVATAR_RADIUS
            && p.y <= d - AVATAR_RADIUS;
        if !inside {
            return Err(LayoutError::field(file, field, format!("{at:?} lies outside the walkable room")));
        }
        if blocked(p, &solids) {
            return Err(LayoutError::field(file, field, format!("{at:?} lies inside a wall or desk")));
        }
        Ok(())
    };
    if r.spawns.is_empty() {
        return Err(LayoutError::field(file, "spawn", "a room needs at least one spawn point"));
    }
    let mut spawn_ids = HashSet::new();
    for (i, s) in r.spawns.iter().enumerate() {
        check_id(file, &format!("spawn[{i}].id"), &s.id)?;
        if !spawn_ids.insert(s.id.as_str()) {
            return Err(LayoutError::field(file, format!("spawn[{i}].id"), format!("\"{}\" appears twice", s.id)));
        }
        place(format!("spawn[{i}].at"), s.at)?;
    }
    for (i, c) in r.counters.iter().enumerate() {
        place(format!("counter[{i}].resident_spot"), c.resident_spot)?;
        place(format!("counter[{i}].staff_spot"), c.staff_spot)?;
    }
    Ok(Room { file: r, index, size, solids, door_zones, door_targets: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFICE: &str = r#"
name = { ja = "テスト区役所", en = "Test Ward Office" }
entry = { room = "a", spawn = "in" }
hours = { days = ["mon", "tue", "wed", "thu", "fri"], open = "08:30", close = "17:15" }
[[department]]
id = "tax"
ticket_prefix = "E"
name = { ja = "課税課", en = "Taxation" }
"#;

    const ROOM_A: &str = r#"
id = "a"
name = { ja = "A", en = "A" }
size = [10.0, 10.0]
[[spawn]]
id = "in"
at = [5.0, 5.0]
[[door]]
id = "to-b"
rect = [9.0, 4.0, 10.0, 6.0]
to_room = "b"
to_spawn = "in"
label = { ja = "B へ", en = "To B" }
"#;

    const ROOM_B: &str = r#"
id = "b"
name = { ja = "B", en = "B" }
size = [10.0, 10.0]
[[spawn]]
id = "in"
at = [2.0, 5.0]
[[counter]]
id = "e1"
department = "tax"
desk = [4.0, 8.0, 6.0, 8.6]
resident_spot = [5.0, 7.2]
staff_spot = [5.0, 9.3]
"#;

    fn rooms(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn a_valid_office_parses() {
        let o = Office::parse(("office.toml", OFFICE), &rooms(&[("a.toml", ROOM_A), ("b.toml", ROOM_B)])).unwrap();
        assert_eq!(o.rooms.len(), 2);
        assert_eq!(o.entry_point, Point::new(5.0, 5.0));
        assert_eq!(o.rooms[1].solids.len(), 1);
        assert_eq!(o.rooms[0].door_at(Point::new(9.5, 5.0)).unwrap().to_room, "b");
        assert_eq!(o.rooms[0].door_target_at(Point::new(9.5, 5.0)), Some((1, Point::new(2.0, 5.0))));
        assert_eq!(o.utc_offset_min, 540);
        assert_eq!(o.hours_of("tax").unwrap().describe(), "mon-fri 08:30-17:15");
        assert_eq!(o.counter("e1").unwrap().0.id(), "b");
    }

    #[test]
    fn bad_hours_name_the_department() {
        let bad = OFFICE.replace(
            "name = { ja = \"課税課\", en = \"Taxation\" }",
            "name = { ja = \"課税課\", en = \"Taxation\" }\nhours = { days = [\"mon\"], open = \"17:00\", close = \"09:00\" }",
        );
        let e = Office::parse(("office.toml", &bad), &rooms(&[("a.toml", ROOM_A), ("b.toml", ROOM_B)])).unwrap_err();
        assert_eq!(e.field, "department[0].hours.close");
    }

    #[test]
    fn an_unknown_department_names_file_and_field() {
        let bad = ROOM_B.replace("department = \"tax\"", "department = \"nope\"");
        let e = Office::parse(("office.toml", OFFICE), &rooms(&[("a.toml", ROOM_A), ("b.toml", &bad)])).unwrap_err();
        assert_eq!(e.file, "b.toml");
        assert_eq!(e.field, "counter[0].department");
        assert!(e.message.contains("nope"), "{e}");
    }

    #[test]
    fn a_door_to_nowhere_is_refused() {
        let bad = ROOM_A.replace("to_room = \"b\"", "to_room = \"zz\"");
        let e = Office::parse(("office.toml", OFFICE), &rooms(&[("a.toml", &bad), ("b.toml", ROOM_B)])).unwrap_err();
        assert_eq!((e.file.as_str(), e.field.as_str()), ("a.toml", "door[0].to_room"));
    }

    #[test]
    fn a_spawn_inside_a_desk_is_refused() {
        let bad = ROOM_B.replace("at = [2.0, 5.0]", "at = [5.0, 8.3]");
        let e = Office::parse(("office.toml", OFFICE), &rooms(&[("a.toml", ROOM_A), ("b.toml", &bad)])).unwrap_err();
        assert_eq!(e.field, "spawn[0].at");
    }

    #[test]
    fn a_missing_field_is_a_syntax_error_naming_the_key() {
        let bad = ROOM_A.replace("size = [10.0, 10.0]\n", "");
        let e = Office::parse(("office.toml", OFFICE), &rooms(&[("a.toml", &bad), ("b.toml", ROOM_B)])).unwrap_err();
        assert_eq!(e.file, "a.toml");
        assert!(e.message.contains("size"), "{e}");
    }

    #[test]
    fn a_wall_outside_the_room_is_refused() {
        let bad = format!("{ROOM_A}\n[[wall]]\nrect = [8.0, 1.0, 12.0, 2.0]\n");
        let e = Office::parse(("office.toml", OFFICE), &rooms(&[("a.toml", &bad), ("b.toml", ROOM_B)])).unwrap_err();
        assert_eq!(e.field, "wall[0].rect");
    }
}
