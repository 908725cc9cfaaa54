//! What makes a room read as a ward office, drawn from its layout: counters (a desk in the
//! department's colour, a chair behind it, a hanging sign and a queue display over it), the
//! information desk, benches, pillars, the floor guide board, and coloured lines on the floor
//! that lead from where one arrives to each department's counters. All of it is plain boxes made
//! in code (no model files to download). The pure parts (the lines, the guide's words) are here
//! for tests; `room` spawns the meshes.

use crate::i18n::Lang;
use bevy::prelude::*;
use madoguchi_shared::layout::{Counter, Office, Room};
use madoguchi_shared::path::find_path;
use madoguchi_shared::protocol::Look;
use madoguchi_shared::quant::Point;

/// Counter height, metres.
pub const DESK_HEIGHT: f32 = 1.0;
/// The hanging sign over a counter: bottom and top, metres.
pub const SIGN_SPAN: (f32, f32) = (2.0, 2.45);
/// The queue display over the sign: bottom and top, metres.
pub const DISPLAY_SPAN: (f32, f32) = (2.55, 2.9);

/// A resident's body colour ([`Look::PALETTE`]).
pub fn look_color(i: u8) -> Color {
    let [r, g, b] = Look::PALETTE[usize::from(i) % Look::PALETTE.len()];
    Color::srgb_u8(r, g, b)
}

/// Staff: a navy body with a white cap, unlike any resident's look.
pub const STAFF_COLOR: (f32, f32, f32) = (0.13, 0.22, 0.45);

/// A stable, distinct colour per department letter.
pub fn department_color(prefix: &str) -> Color {
    let hue = f32::from(prefix.bytes().next().unwrap_or(b'A').saturating_sub(b'A')) * 67.0 % 360.0;
    Color::hsl(hue, 0.55, 0.55)
}

/// A box: its floor rectangle `[x0, y0, x1, y1]` (layout metres), then its bottom and top
/// heights.
pub type Block = ([f32; 4], f32, f32);

/// The boxes of a counter's furniture besides the desk itself: the desk's top, the clerk's chair
/// (seat and back, behind where the clerk stands), the hanging sign and the queue display. The
/// desk's side towards the clerk is the side of `staff_spot`.
pub struct CounterParts {
    pub body: Block,
    pub top: Block,
    pub chair: [Block; 2],
    pub sign: Block,
    pub display: Block,
}

/// Where a counter's parts go.
pub fn counter_parts(c: &Counter) -> CounterParts {
    let [x0, y0, x1, y1] = c.desk;
    let [sx, sy] = c.staff_spot;
    // +1 when the clerk's side is towards larger y.
    let back = if sy >= (y0 + y1) / 2.0 { 1.0 } else { -1.0 };
    let seat_y = sy + back * 0.7;
    let span = |a: f32, b: f32| (a.min(b), a.max(b));
    let (s0, s1) = span(seat_y - 0.25, seat_y + 0.25);
    let (b0, b1) = span(seat_y + back * 0.22, seat_y + back * 0.3);
    let cx = (x0 + x1) / 2.0;
    let w = (x1 - x0).min(3.0) / 2.0;
    CounterParts {
        body: ([x0, y0, x1, y1], 0.0, DESK_HEIGHT - 0.06),
        top: ([x0 - 0.05, y0 - 0.08, x1 + 0.05, y1 + 0.04], DESK_HEIGHT - 0.06, DESK_HEIGHT),
        chair: [([sx - 0.25, s0, sx + 0.25, s1], 0.0, 0.47), ([sx - 0.25, b0, sx + 0.25, b1], 0.47, 1.0)],
        sign: ([cx - w, (y0 + y1) / 2.0 - 0.03, cx + w, (y0 + y1) / 2.0 + 0.03], SIGN_SPAN.0, SIGN_SPAN.1),
        display: ([cx - 0.7, (y0 + y1) / 2.0 - 0.04, cx + 0.7, (y0 + y1) / 2.0 + 0.04], DISPLAY_SPAN.0, DISPLAY_SPAN.1),
    }
}

/// One line on the floor: the department's ticket prefix (its colour) and the points it runs
/// through, from where one arrives in the room.
#[derive(Debug, Clone, PartialEq)]
pub struct FloorLine {
    pub prefix: String,
    pub points: Vec<Point>,
}

/// The floor lines of `room`: for each department (in the office's order) with a counter in this
/// room, a line from the room's first spawn (where one arrives) to the resident's spot of its
/// first counter here; for one whose counters are in the room a door leads to, a line to that
/// door. The lines follow the same route planning as walking.
pub fn floor_lines(office: &Office, room: &Room) -> Vec<FloorLine> {
    let Some(start) = room.file.spawns.first().map(|s| Point::new(s.at[0], s.at[1])) else { return Vec::new() };
    let mut lines = Vec::new();
    for d in &office.departments {
        let here = room.file.counters.iter().find(|c| c.department == d.id);
        let to = match here {
            Some(c) => Some(Point::new(c.resident_spot[0], c.resident_spot[1])),
            None => room.file.doors.iter().find_map(|door| {
                let leads = office.rooms.iter().find(|r| r.file.id == door.to_room)?;
                leads.file.counters.iter().any(|c| c.department == d.id).then(|| {
                    let [x0, y0, x1, y1] = door.rect;
                    Point::new((x0 + x1) / 2.0, (y0 + y1) / 2.0)
                })
            }),
        };
        let Some(to) = to else { continue };
        let Some(path) = find_path(room.size, &room.solids, start, to) else { continue };
        let mut points = vec![start];
        points.extend(path);
        lines.push(FloorLine { prefix: d.ticket_prefix.clone(), points });
    }
    lines
}

/// The floor guide's lines under its title: each room, then each department with counters there
/// (its letter, its name in `lang`, its counters).
pub fn guide_lines(office: &Office, lang: Lang) -> Vec<String> {
    let mut out = Vec::new();
    for room in &office.rooms {
        let departments: Vec<String> = office
            .departments
            .iter()
            .filter_map(|d| {
                let counters: Vec<String> =
                    room.file.counters.iter().filter(|c| c.department == d.id).map(|c| c.id.to_uppercase()).collect();
                (!counters.is_empty())
                    .then(|| format!("  {} {}  {}", d.ticket_prefix, lang.name(&d.name), counters.join(" ")))
            })
            .collect();
        if departments.is_empty() {
            continue;
        }
        out.push(lang.name(&room.file.name).into_owned());
        out.extend(departments);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn office() -> Office {
        crate::office::embedded_office()
    }

    #[test]
    fn every_department_has_a_line_to_its_counters_in_each_room() {
        let o = office();
        for room in &o.rooms {
            let lines = floor_lines(&o, room);
            assert_eq!(lines.len(), o.departments.len(), "room {}: one line per department", room.file.id);
            for line in &lines {
                assert!(line.points.len() >= 2, "{line:?}");
                for p in &line.points {
                    assert!(p.x >= 0.0 && p.y >= 0.0 && p.x <= room.size.x && p.y <= room.size.y, "{line:?}");
                }
                let d = o.departments.iter().find(|d| d.ticket_prefix == line.prefix).unwrap();
                let end = *line.points.last().unwrap();
                match room.file.counters.iter().find(|c| c.department == d.id) {
                    Some(c) => {
                        let spot = Point::new(c.resident_spot[0], c.resident_spot[1]);
                        assert!((end.x - spot.x).hypot(end.y - spot.y) < 0.3, "{} ends at its counter: {line:?}", d.id);
                    }
                    None => assert!(room.door_at(end).is_some(), "{} ends at a door: {line:?}", d.id),
                }
            }
        }
    }

    #[test]
    fn the_guide_lists_every_department_and_counter_in_the_chosen_language() {
        let o = office();
        let ja = guide_lines(&o, Lang::Ja).join("\n");
        let en = guide_lines(&o, Lang::En).join("\n");
        for d in &o.departments {
            assert!(ja.contains(&d.name.ja), "{ja}");
            assert!(en.contains(&d.name.en), "{en}");
        }
        for (_, c) in o.counters() {
            assert!(ja.contains(&c.id.to_uppercase()), "{ja}");
        }
        assert!(ja.contains("窓口フロア") && en.contains("Service Counters"), "{ja}\n{en}");
    }

    #[test]
    fn looks_are_told_apart_from_each_other_and_from_staff() {
        let dist = |a: (f32, f32, f32), b: (f32, f32, f32)| {
            ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2) + (a.2 - b.2).powi(2)).sqrt()
        };
        let colors: Vec<(f32, f32, f32)> = Look::PALETTE
            .iter()
            .map(|[r, g, b]| (f32::from(*r) / 255.0, f32::from(*g) / 255.0, f32::from(*b) / 255.0))
            .collect();
        for (i, a) in colors.iter().enumerate() {
            assert!(dist(*a, STAFF_COLOR) > 0.3, "colour {i} is too near the staff's");
            for b in &colors[i + 1..] {
                assert!(dist(*a, *b) > 0.2, "{a:?} and {b:?} are too alike");
            }
        }
        let tr = crate::i18n::I18n::new(Lang::Ja);
        for w in Look::SHAPE_WORDS {
            assert!(tr.has(w), "{w}");
        }
    }

    #[test]
    fn the_chair_is_behind_the_desk_on_the_clerks_side() {
        let o = office();
        for (_, c) in o.counters() {
            let p = counter_parts(c);
            let desk_far = c.desk[3];
            assert!(p.chair[0].0[1] > desk_far && p.chair[1].0[1] > p.chair[0].0[1], "{c:?}");
            assert!(p.sign.1 > DESK_HEIGHT && p.display.1 > p.sign.2, "{c:?}");
        }
    }
}
