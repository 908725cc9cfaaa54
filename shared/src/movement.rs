//! The movement rule: one function that the server runs authoritatively and a client may run to
//! predict its own avatar. Same inputs, same result.

use crate::limits::{AVATAR_RADIUS, RUN_SPEED, WALK_SPEED};
use crate::quant::Point;
use serde::{Deserialize, Serialize};

/// An axis-aligned box on the floor plane: a wall, a desk, a door's trigger zone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Aabb {
    pub min: Point,
    pub max: Point,
}

impl Aabb {
    pub const fn new(x0: f32, y0: f32, x1: f32, y1: f32) -> Self {
        Aabb { min: Point::new(x0, y0), max: Point::new(x1, y1) }
    }

    /// This box grown by `r` on every side.
    pub fn expand(self, r: f32) -> Aabb {
        Aabb::new(self.min.x - r, self.min.y - r, self.max.x + r, self.max.y + r)
    }

    /// Whether `p` lies strictly inside the box.
    pub fn contains(self, p: Point) -> bool {
        p.x > self.min.x && p.x < self.max.x && p.y > self.min.y && p.y < self.max.y
    }

    pub fn center(self) -> Point {
        Point::new((self.min.x + self.max.x) / 2.0, (self.min.y + self.max.y) / 2.0)
    }
}

/// The speed cap for an input: walking, or running when `run` is set.
pub fn speed_cap(run: bool) -> f32 {
    if run { RUN_SPEED } else { WALK_SPEED }
}

/// Clamps a requested velocity to the cap. Non-finite requests become a stop.
pub fn clamp_velocity(requested: Point, run: bool) -> Point {
    if !requested.is_finite() {
        return Point::ZERO;
    }
    requested.clamp_length(speed_cap(run))
}

/// The velocity that walks from `pos` towards `target` at `speed` without overshooting in `dt`.
pub fn seek_velocity(pos: Point, target: Point, speed: f32, dt: f32) -> Point {
    let to = target - pos;
    let dist = to.length();
    if dist < 1e-3 || dt <= 0.0 {
        return Point::ZERO;
    }
    let v = (speed).min(dist / dt);
    to * (v / dist)
}

/// Moves an avatar at `pos` with velocity `vel` for `dt` seconds inside a room of `size`
/// (metres, walls implied on all four sides) with the given solid boxes.
///
/// The avatar is a square of half-side [`AVATAR_RADIUS`]; motion is split into sub-steps no
/// longer than half that, and each axis is resolved separately, so no speed tunnels through a
/// wall and an avatar slides along walls instead of sticking to them.
pub fn step(pos: Point, vel: Point, dt: f32, size: Point, solids: &[Aabb]) -> Point {
    if !vel.is_finite() || !pos.is_finite() || !dt.is_finite() || dt <= 0.0 {
        return pos;
    }
    let r = AVATAR_RADIUS;
    let travel = vel.length() * dt;
    let max_sub = r / 2.0;
    let n = ((travel / max_sub).ceil() as usize).clamp(1, 1024);
    let sub = dt / n as f32;
    let mut p = pos;
    for _ in 0..n {
        // x axis
        let nx = p.x + vel.x * sub;
        p.x = resolve_axis(p, nx, true, r, solids);
        // y axis
        let ny = p.y + vel.y * sub;
        p.y = resolve_axis(p, ny, false, r, solids);
        p.x = p.x.clamp(r, (size.x - r).max(r));
        p.y = p.y.clamp(r, (size.y - r).max(r));
    }
    p
}

/// Moves along one axis from `p` to `target`, stopping flush against the first solid in the way.
fn resolve_axis(p: Point, target: f32, x_axis: bool, r: f32, solids: &[Aabb]) -> f32 {
    let mut out = target;
    for s in solids {
        let e = s.expand(r);
        let moved = if x_axis { Point::new(out, p.y) } else { Point::new(p.x, out) };
        if !e.contains(moved) {
            continue;
        }
        let (from, lo, hi) = if x_axis { (p.x, e.min.x, e.max.x) } else { (p.y, e.min.y, e.max.y) };
        if from <= lo {
            out = lo;
        } else if from >= hi {
            out = hi;
        } else {
            // Already inside (should not happen for validated layouts): do not move deeper.
            out = from;
        }
    }
    out
}

/// Whether an avatar standing at `p` would overlap any solid.
pub fn blocked(p: Point, solids: &[Aabb]) -> bool {
    solids.iter().any(|s| s.expand(AVATAR_RADIUS).contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOM: Point = Point::new(20.0, 10.0);

    #[test]
    fn free_walk_moves_by_velocity_times_time() {
        let p = step(Point::new(5.0, 5.0), Point::new(1.0, 0.5), 1.0, ROOM, &[]);
        assert!((p.x - 6.0).abs() < 1e-4 && (p.y - 5.5).abs() < 1e-4, "{p:?}");
    }

    #[test]
    fn a_wall_stops_the_avatar_flush_against_it() {
        let wall = Aabb::new(10.0, 0.0, 10.5, 10.0);
        let p = step(Point::new(8.0, 5.0), Point::new(4.0, 0.0), 2.0, ROOM, &[wall]);
        assert!((p.x - (10.0 - AVATAR_RADIUS)).abs() < 1e-4, "{p:?}");
        assert!(!blocked(p, &[wall]));
    }

    #[test]
    fn no_speed_tunnels_through_a_thin_wall() {
        let wall = Aabb::new(10.0, 0.0, 10.05, 10.0);
        // 1000 m/s for 50 ms would jump 50 m in one naive step.
        let p = step(Point::new(8.0, 5.0), Point::new(1000.0, 0.0), 0.05, ROOM, &[wall]);
        assert!(p.x < 10.0, "{p:?}");
    }

    #[test]
    fn sliding_along_a_wall_keeps_the_free_axis() {
        let wall = Aabb::new(10.0, 0.0, 10.5, 10.0);
        let p = step(Point::new(9.7, 2.0), Point::new(1.0, 1.0), 1.0, ROOM, &[wall]);
        assert!((p.x - 9.7).abs() < 1e-4 && (p.y - 3.0).abs() < 1e-3, "{p:?}");
    }

    #[test]
    fn room_edges_are_walls() {
        let p = step(Point::new(1.0, 1.0), Point::new(-5.0, -5.0), 5.0, ROOM, &[]);
        assert_eq!(p, Point::new(AVATAR_RADIUS, AVATAR_RADIUS));
        let p = step(Point::new(19.0, 9.0), Point::new(5.0, 5.0), 5.0, ROOM, &[]);
        assert_eq!(p, Point::new(20.0 - AVATAR_RADIUS, 10.0 - AVATAR_RADIUS));
    }

    #[test]
    fn velocity_is_clamped_to_the_cap_and_nan_stops() {
        let v = clamp_velocity(Point::new(100.0, 0.0), false);
        assert!((v.length() - WALK_SPEED).abs() < 1e-5);
        let v = clamp_velocity(Point::new(100.0, 0.0), true);
        assert!((v.length() - RUN_SPEED).abs() < 1e-5);
        assert_eq!(clamp_velocity(Point::new(f32::NAN, 1.0), true), Point::ZERO);
    }

    #[test]
    fn seek_does_not_overshoot() {
        let v = seek_velocity(Point::new(0.0, 0.0), Point::new(0.05, 0.0), 2.0, 0.05);
        let p = Point::new(0.0, 0.0) + v * 0.05;
        assert!((p.x - 0.05).abs() < 1e-5, "{p:?}");
        assert_eq!(seek_velocity(Point::new(1.0, 1.0), Point::new(1.0, 1.0), 2.0, 0.05), Point::ZERO);
    }

    #[test]
    fn bad_numbers_do_not_move_or_poison_the_position() {
        let p0 = Point::new(3.0, 3.0);
        assert_eq!(step(p0, Point::new(f32::INFINITY, 0.0), 0.05, ROOM, &[]), p0);
        assert_eq!(step(p0, Point::new(1.0, 0.0), f32::NAN, ROOM, &[]), p0);
    }
}
