//! Paths around walls for click-to-move. The server plans once per click, then walks the avatar
//! waypoint by waypoint with the ordinary movement rule ([`crate::movement::step`]).
//!
//! Most clicks have a clear straight line and cost one segment test per solid. Otherwise A* runs
//! on a grid of free cells and the cell path is pulled tight, so only the corners remain.

use crate::limits::AVATAR_RADIUS;
use crate::movement::{Aabb, blocked};
use crate::quant::Point;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Grid cell side, metres: fine enough for a 0.8 m doorway, coarse enough to keep the grid small.
pub const CELL: f32 = 0.25;
/// Clearance kept from solids beyond [`AVATAR_RADIUS`], metres, so the movement rule's
/// axis-by-axis sub-steps do not catch a corner that a planned segment only grazes.
pub const MARGIN: f32 = 0.05;
/// Most cells along one side of the grid (64 m at [`CELL`]); a larger room gets coarser cells
/// rather than a larger grid, so memory and time stay bounded.
pub const MAX_GRID_SIDE: usize = 256;
/// Largest room side we plan in, metres (what layouts allow); a larger room gets `None`.
pub const MAX_ROOM_SIDE: f32 = 300.0;
/// Most cells one search expands. When reached, the path leads to the cell nearest the target
/// found so far; the next click plans again from there.
pub const MAX_EXPANSIONS: usize = 32_768;
/// How far around a point, in cells, we look for a free cell it can see.
const SNAP_CELLS: usize = 4;

/// Plans a walk from `from` to `to` in a room of `size` with the given `solids` (walls, desks;
/// the room's edges are walls too).
///
/// Returns the waypoints after `from`. The last one is `to` when `to` is free and reachable;
/// otherwise it is the reachable spot nearest `to` (a click on a desk stops in front of it, on
/// the walker's side). A target outside the room is first pulled inside its edges. A clear
/// straight line gives `[to]` without building a grid.
///
/// Returns `None` when `from` or `to` is not finite, when the room's size is not finite or not
/// within (0.7 m, [`MAX_ROOM_SIDE`]], or when nothing is reachable (no free cell near `from`).
pub fn find_path(size: Point, solids: &[Aabb], from: Point, to: Point) -> Option<Vec<Point>> {
    let (r, lo) = (AVATAR_RADIUS, AVATAR_RADIUS + MARGIN);
    let usable = |v: f32| v.is_finite() && v > 2.0 * lo && v <= MAX_ROOM_SIDE;
    if !from.is_finite() || !to.is_finite() || !usable(size.x) || !usable(size.y) {
        return None;
    }
    // Where the movement rule can put a centre: inside the room's edges.
    let inside = |p: Point| Point::new(p.x.clamp(r, size.x - r), p.y.clamp(r, size.y - r));
    let (from, goal) = (inside(from), inside(to));
    let goal_free = !blocked(goal, solids);
    if goal_free && clear(solids, from, goal) {
        return Some(vec![goal]);
    }
    let grid = Grid::new(size, solids);
    let start = grid.snap(from, false)?;
    let target = grid.snap(goal, true)?;
    let (cells, reached) = grid.search(start, target, goal);
    let mut pts: Vec<Point> = cells.iter().map(|&k| grid.centre(k)).collect();
    if reached && goal_free && pts.last().is_some_and(|&c| clear(solids, c, goal)) {
        pts.push(goal);
    }
    Some(pull(solids, from, &pts))
}

/// Whether an avatar can walk straight from `a` to `b` without touching a solid grown by the
/// margin. An end already within the margin (an avatar flush against a wall) is only held to the
/// bare radius of that solid, so it may still walk along or away from it.
fn clear(solids: &[Aabb], a: Point, b: Point) -> bool {
    solids.iter().all(|s| {
        let e = s.expand(AVATAR_RADIUS + MARGIN);
        let e = if e.contains(a) || e.contains(b) { s.expand(AVATAR_RADIUS) } else { e };
        !hits(a, b, e)
    })
}

/// Whether segment `a`-`b` passes through the open box `e` (touching its edge does not count).
fn hits(a: Point, b: Point, e: Aabb) -> bool {
    // NaN or inverted boxes have no inside; `contains` agrees.
    if !(e.min.x <= e.max.x && e.min.y <= e.max.y) {
        return false;
    }
    let (mut t0, mut t1) = (0.0f32, 1.0f32);
    for (p, d, lo, hi) in [(a.x, b.x - a.x, e.min.x, e.max.x), (a.y, b.y - a.y, e.min.y, e.max.y)] {
        if d == 0.0 {
            if !(p > lo && p < hi) {
                return false;
            }
        } else {
            let (u, v) = ((lo - p) / d, (hi - p) / d);
            t0 = t0.max(u.min(v));
            t1 = t1.min(u.max(v));
        }
    }
    t0 < t1
}

/// Walks the cell path from `from`, keeping only the points where a straight line must bend.
fn pull(solids: &[Aabb], from: Point, pts: &[Point]) -> Vec<Point> {
    let (mut out, mut anchor, mut i) = (Vec::new(), from, 0);
    while i < pts.len() {
        let mut j = i;
        while j + 1 < pts.len() && clear(solids, anchor, pts[j + 1]) {
            j += 1;
        }
        anchor = pts[j];
        out.push(anchor);
        i = j + 1;
    }
    out
}

/// Free cells of a room: a cell is free when an avatar centred on it keeps [`MARGIN`] from every
/// solid and from the room's edges.
struct Grid<'a> {
    solids: &'a [Aabb],
    cell: f32,
    nx: usize,
    ny: usize,
    free: Vec<bool>,
}

impl<'a> Grid<'a> {
    fn new(size: Point, solids: &'a [Aabb]) -> Self {
        let cell = CELL.max(size.x.max(size.y) / MAX_GRID_SIDE as f32);
        let nx = ((size.x / cell).ceil() as usize).clamp(1, MAX_GRID_SIDE);
        let ny = ((size.y / cell).ceil() as usize).clamp(1, MAX_GRID_SIDE);
        let mut g = Grid { solids, cell, nx, ny, free: vec![false; nx * ny] };
        let lo = AVATAR_RADIUS + MARGIN;
        for k in 0..nx * ny {
            let c = g.centre(k);
            g.free[k] = c.x >= lo && c.y >= lo && c.x <= size.x - lo && c.y <= size.y - lo;
        }
        // A solid is grown by more than half a cell, so no step between neighbouring cell centres
        // (diagonals included) can cross it unseen, however coarse the grid.
        let grow = lo.max(0.51 * cell);
        let span = |a: f32, b: f32, n: usize| {
            let idx = |v: f32| (v.max(0.0) as usize).min(n - 1);
            (idx((a / cell - 0.5).floor()), idx((b / cell - 0.5).ceil()))
        };
        for s in solids {
            let e = s.expand(grow);
            let ((i0, i1), (j0, j1)) = (span(e.min.x, e.max.x, nx), span(e.min.y, e.max.y, ny));
            for j in j0..=j1 {
                for i in i0..=i1 {
                    if e.contains(g.centre(j * nx + i)) {
                        g.free[j * nx + i] = false;
                    }
                }
            }
        }
        g
    }

    fn centre(&self, k: usize) -> Point {
        Point::new(((k % self.nx) as f32 + 0.5) * self.cell, ((k / self.nx) as f32 + 0.5) * self.cell)
    }

    /// The free cell nearest `p` that `p` can walk straight to. Failing that, for a target
    /// (`anywhere`), the nearest free cell of the room; for a start, `None`.
    fn snap(&self, p: Point, anywhere: bool) -> Option<usize> {
        let nearest = |it: &mut dyn Iterator<Item = usize>| {
            it.filter(|&k| self.free[k])
                .map(|k| (self.centre(k).distance_squared(p), k))
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
                .map(|(_, k)| k)
        };
        let ci = ((p.x / self.cell) as usize).min(self.nx - 1);
        let cj = ((p.y / self.cell) as usize).min(self.ny - 1);
        let is = ci.saturating_sub(SNAP_CELLS)..=(ci + SNAP_CELLS).min(self.nx - 1);
        let js = cj.saturating_sub(SNAP_CELLS)..=(cj + SNAP_CELLS).min(self.ny - 1);
        let window = js.flat_map(|j| is.clone().map(move |i| j * self.nx + i));
        let mut seen = window.filter(|&k| self.free[k] && clear(self.solids, p, self.centre(k)));
        nearest(&mut seen).or_else(|| if anywhere { nearest(&mut (0..self.free.len())) } else { None })
    }

    /// A* over 8 neighbours (no cutting corners) from `start` to `goal`. Returns the cell path
    /// and whether it reached `goal`; if not, it leads to the expanded cell nearest `target`.
    fn search(&self, start: usize, goal: usize, target: Point) -> (Vec<usize>, bool) {
        let (nx, ny, n) = (self.nx, self.ny, self.free.len());
        // Integer costs (10 per straight step, 14 per diagonal) order the heap exactly.
        let h = |k: usize| {
            let (dx, dy) = ((k % nx).abs_diff(goal % nx), (k / nx).abs_diff(goal / nx));
            10 * dx.max(dy) + 4 * dx.min(dy)
        };
        let (mut g, mut parent, mut closed) = (vec![usize::MAX; n], vec![usize::MAX; n], vec![false; n]);
        let mut heap = BinaryHeap::new();
        g[start] = 0;
        heap.push(Reverse((h(start), start)));
        let (mut best, mut best_d, mut expanded) = (start, f32::INFINITY, 0);
        while let Some(Reverse((_, k))) = heap.pop() {
            if std::mem::replace(&mut closed[k], true) {
                continue;
            }
            let d = self.centre(k).distance_squared(target);
            if k == goal || d < best_d {
                (best, best_d) = (k, d);
            }
            expanded += 1;
            if k == goal || expanded >= MAX_EXPANSIONS {
                break;
            }
            let (x, y) = ((k % nx) as isize, (k / nx) as isize);
            let free = |x: isize, y: isize| {
                x >= 0 && y >= 0 && x < nx as isize && y < ny as isize && self.free[y as usize * nx + x as usize]
            };
            for (dx, dy) in [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)] {
                let diagonal = dx != 0 && dy != 0;
                if !free(x + dx, y + dy) || (diagonal && !(free(x + dx, y) && free(x, y + dy))) {
                    continue;
                }
                let m = (y + dy) as usize * nx + (x + dx) as usize;
                let ng = g[k] + if diagonal { 14 } else { 10 };
                if ng < g[m] {
                    (g[m], parent[m]) = (ng, k);
                    heap.push(Reverse((ng + h(m), m)));
                }
            }
        }
        let (mut path, mut k) = (vec![best], best);
        while parent[k] != usize::MAX {
            k = parent[k];
            path.push(k);
        }
        path.reverse();
        (path, best == goal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::RUN_SPEED;
    use crate::movement::{seek_velocity, step};

    const ROOM: Point = Point::new(20.0, 10.0);

    /// Walks `path` from `from` with the movement rule at the server's 20 Hz, running (the
    /// longest sub-steps); fails if a waypoint is not reached in twice the straight-line time.
    fn walk(size: Point, solids: &[Aabb], from: Point, path: &[Point]) -> Result<(), String> {
        let (dt, mut p) = (0.05, from);
        for &w in path {
            let budget = 20 + (2.0 * p.distance(w) / RUN_SPEED / dt) as usize;
            for _ in 0..budget {
                p = step(p, seek_velocity(p, w, RUN_SPEED, dt), dt, size, solids);
            }
            if p.distance(w) > 0.02 {
                return Err(format!("stuck at {p:?} on the way to {w:?} ({from:?} via {path:?})"));
            }
        }
        Ok(())
    }

    /// A tiny deterministic RNG (xorshift32), so the tests need no dependency.
    struct Rng(u32);
    impl Rng {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 17;
            self.0 ^= self.0 << 5;
            self.0
        }
        fn unit(&mut self) -> f32 {
            (self.next() >> 8) as f32 / (1u32 << 24) as f32
        }
    }

    #[test]
    fn a_clear_line_is_one_waypoint() {
        let desk = [Aabb::new(8.0, 6.0, 12.0, 7.0)];
        let to = Point::new(18.0, 2.0);
        assert_eq!(find_path(ROOM, &desk, Point::new(2.0, 3.0), to), Some(vec![to]));
    }

    #[test]
    fn a_wall_is_passed_through_its_doorway_and_the_walk_does_not_stick() {
        // A wall across the room with a 1.2 m gap between y = 4 and y = 5.2.
        let walls = [Aabb::new(10.0, 0.0, 10.2, 4.0), Aabb::new(10.0, 5.2, 10.2, 10.0)];
        let to = Point::new(17.0, 2.0);
        // The second start stands flush against the wall, as sliding leaves an avatar.
        for from in [Point::new(3.0, 8.0), Point::new(10.0 - AVATAR_RADIUS, 8.0)] {
            let path = find_path(ROOM, &walls, from, to).unwrap();
            assert_eq!(path.last(), Some(&to), "{path:?}");
            assert!(path.len() >= 2, "a straight line would cross the wall: {path:?}");
            walk(ROOM, &walls, from, &path).unwrap();
            let pts: Vec<Point> = std::iter::once(from).chain(path.iter().copied()).collect();
            let crossings: Vec<f32> = (pts.windows(2))
                .filter(|w| (w[0].x - 10.1) * (w[1].x - 10.1) < 0.0)
                .map(|w| w[0].y + (w[1].y - w[0].y) * (10.1 - w[0].x) / (w[1].x - w[0].x))
                .collect();
            assert_eq!(crossings.len(), 1, "{path:?}");
            assert!(crossings[0] > 4.0 + AVATAR_RADIUS && crossings[0] < 5.2 - AVATAR_RADIUS, "{path:?}");
        }
    }

    #[test]
    fn a_click_on_a_desk_stops_in_front_of_it() {
        // A counter line across the room: the desk is only reachable from below.
        let solids = [Aabb::new(0.0, 6.0, 8.0, 6.8), Aabb::new(8.0, 6.0, 12.0, 6.8), Aabb::new(12.0, 6.0, 20.0, 6.8)];
        let from = Point::new(3.0, 2.0);
        // The click is nearer the desk's far (staff) side, which cannot be reached.
        let path = find_path(ROOM, &solids, from, Point::new(10.0, 6.6)).unwrap();
        let end = *path.last().unwrap();
        assert!(!blocked(end, &solids) && end.y < 6.0 - AVATAR_RADIUS && end.y > 6.0 - 1.0, "{path:?}");
        assert!((end.x - 10.0).abs() < 0.3, "{path:?}");
        walk(ROOM, &solids, from, &path).unwrap();
    }

    #[test]
    fn an_enclosed_target_gives_the_nearest_reachable_spot() {
        let pen = [
            Aabb::new(12.0, 3.0, 16.0, 3.2),
            Aabb::new(12.0, 6.8, 16.0, 7.0),
            Aabb::new(12.0, 3.0, 12.2, 7.0),
            Aabb::new(15.8, 3.0, 16.0, 7.0),
        ];
        let from = Point::new(2.0, 5.0);
        let path = find_path(ROOM, &pen, from, Point::new(14.0, 5.0)).expect("some spot is reachable");
        let end = *path.last().unwrap();
        // In front of the pen's west wall, outside it.
        assert!(end.x < 12.0 - AVATAR_RADIUS && end.x > 11.0 && (end.y - 5.0).abs() < 0.3, "{path:?}");
        walk(ROOM, &pen, from, &path).unwrap();
        // A coarse grid (a 300 m room has 1.2 m cells) must still see a thin wall.
        let (big, split) = (Point::new(300.0, 300.0), [Aabb::new(150.0, 0.0, 150.1, 300.0)]);
        let path = find_path(big, &split, Point::new(1.0, 1.0), Point::new(299.0, 299.0)).unwrap();
        assert!(path.iter().all(|p| p.x < 150.0 - AVATAR_RADIUS), "{path:?}");
        walk(big, &split, Point::new(1.0, 1.0), &path).unwrap();
    }

    #[test]
    fn paths_in_the_real_layouts_can_be_walked() {
        let office = crate::layout::Office::parse(
            ("office.toml", include_str!("../../assets/office.toml")),
            &[
                ("layouts/lobby.toml".into(), include_str!("../../assets/layouts/lobby.toml").into()),
                ("layouts/counters.toml".into(), include_str!("../../assets/layouts/counters.toml").into()),
            ],
        )
        .unwrap();
        let mut rng = Rng(0x9e37_79b9);
        for room in &office.rooms {
            let (size, solids) = (room.size, &room.solids[..]);
            let mut free = || loop {
                let p = Point::new(rng.unit() * size.x, rng.unit() * size.y);
                let r = AVATAR_RADIUS;
                if p.x >= r && p.y >= r && p.x <= size.x - r && p.y <= size.y - r && !blocked(p, solids) {
                    return p;
                }
            };
            let mut detours = 0;
            for _ in 0..60 {
                let (from, to) = (free(), free());
                let path = find_path(size, solids, from, to).unwrap();
                walk(size, solids, from, &path).unwrap();
                detours += usize::from(path.len() > 1);
                // Only the counter line (y 16 to 16.8) divides a room: staff side from residents'.
                let same_side = (from.y < 16.0) == (to.y < 16.0) || room.id() == "lobby";
                assert_eq!(path.last() == Some(&to), same_side, "{}: {from:?} -> {to:?}: {path:?}", room.id());
                assert_eq!(path.last().unwrap().y < 16.0, from.y < 16.0, "{path:?}");
            }
            assert!(detours > 0, "{}: no pair needed a detour; the test proves little", room.id());
        }
    }

    #[test]
    fn hostile_numbers_do_not_panic() {
        let mut rng = Rng(12345);
        let num = |rng: &mut Rng| match rng.next() % 6 {
            0 => f32::from_bits(rng.next()),
            1 => {
                [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, f32::MAX, f32::MIN_POSITIVE][rng.next() as usize % 6]
            }
            2 => -rng.unit() * 50.0,
            _ => rng.unit() * 80.0,
        };
        for _ in 0..400 {
            let size = if rng.next().is_multiple_of(4) { Point::new(num(&mut rng), num(&mut rng)) } else { ROOM };
            let solids: Vec<Aabb> = (0..rng.next() % 8)
                .map(|_| Aabb::new(num(&mut rng), num(&mut rng), num(&mut rng), num(&mut rng)))
                .collect();
            let (from, to) = (Point::new(num(&mut rng), num(&mut rng)), Point::new(num(&mut rng), num(&mut rng)));
            if let Some(path) = find_path(size, &solids, from, to) {
                let r = AVATAR_RADIUS - 1e-4;
                let inside = |p: &Point| p.x >= r && p.y >= r && p.x <= size.x - r && p.y <= size.y - r;
                assert!(path.iter().all(inside), "{size:?} {path:?}");
                assert!(path.len() <= 4 * MAX_GRID_SIDE, "{path:?}");
            }
        }
        assert_eq!(find_path(ROOM, &[], Point::new(f32::NAN, 1.0), Point::new(2.0, 2.0)), None);
        assert_eq!(find_path(Point::new(1e9, 10.0), &[], Point::new(1.0, 1.0), Point::new(2.0, 2.0)), None);
    }

    #[test]
    fn a_detour_keeps_only_the_corners_and_stays_short() {
        // A long wall from the south edge: going round its north end is an L-shaped detour.
        let size = Point::new(20.0, 20.0);
        let wall = [Aabb::new(5.0, 0.0, 5.4, 15.0)];
        let (from, to) = (Point::new(2.0, 2.0), Point::new(10.0, 2.0));
        let path = find_path(size, &wall, from, to).unwrap();
        assert!(path.len() <= 4, "{path:?}");
        assert_eq!(path.last(), Some(&to));
        // The shortest walk hugs the wall's grown corners (4.7, 15.3) and (5.7, 15.3).
        let (c1, c2) = (Point::new(4.7, 15.3), Point::new(5.7, 15.3));
        let best = from.distance(c1) + c1.distance(c2) + c2.distance(to);
        let len: f32 = std::iter::once(from).chain(path.iter().copied()).zip(&path).map(|(a, &b)| a.distance(b)).sum();
        assert!(len >= best - 0.01 && len <= 1.1 * best, "{len} vs {best}: {path:?}");
        walk(size, &wall, from, &path).unwrap();
    }
}
