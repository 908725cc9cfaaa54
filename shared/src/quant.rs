//! Positions on the floor plane, and their quantized wire form.
//!
//! The world is flat: `x` runs along a room's width, `y` along its depth, both in metres from
//! the room's corner. On the wire a position is two `i16` centimetre counts: ±327 m of range at
//! 1 cm resolution, which postcard's zig-zag varints send in 2–3 bytes each.

use serde::{Deserialize, Serialize};

/// A point on the floor, metres.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

impl Point {
    pub const ZERO: Point = Point { x: 0.0, y: 0.0 };

    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    pub fn length(self) -> f32 {
        (self.x * self.x + self.y * self.y).sqrt()
    }

    pub fn distance_squared(self, other: Point) -> f32 {
        let (dx, dy) = (self.x - other.x, self.y - other.y);
        dx * dx + dy * dy
    }

    pub fn distance(self, other: Point) -> f32 {
        self.distance_squared(other).sqrt()
    }

    /// This vector scaled down (never up) so its length is at most `max`.
    pub fn clamp_length(self, max: f32) -> Point {
        let len = self.length();
        if len > max && len > 0.0 { Point::new(self.x * max / len, self.y * max / len) } else { self }
    }

    pub fn is_finite(self) -> bool {
        self.x.is_finite() && self.y.is_finite()
    }
}

impl std::ops::Add for Point {
    type Output = Point;
    fn add(self, o: Point) -> Point {
        Point::new(self.x + o.x, self.y + o.y)
    }
}

impl std::ops::Sub for Point {
    type Output = Point;
    fn sub(self, o: Point) -> Point {
        Point::new(self.x - o.x, self.y - o.y)
    }
}

impl std::ops::Mul<f32> for Point {
    type Output = Point;
    fn mul(self, k: f32) -> Point {
        Point::new(self.x * k, self.y * k)
    }
}

/// A position on the wire: centimetres, saturating at the `i16` range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct QPos {
    pub x: i16,
    pub y: i16,
}

/// Largest error a quantization round trip may introduce, metres.
pub const QUANT_STEP: f32 = 0.01;

impl QPos {
    /// Quantizes `p` to the nearest centimetre; out-of-range and non-finite values saturate.
    pub fn from_point(p: Point) -> QPos {
        fn q(v: f32) -> i16 {
            // `as` saturates and maps NaN to 0, which is what a wire format wants.
            (v / QUANT_STEP).round() as i16
        }
        QPos { x: q(p.x), y: q(p.y) }
    }

    pub fn to_point(self) -> Point {
        Point::new(self.x as f32 * QUANT_STEP, self.y as f32 * QUANT_STEP)
    }
}

/// A velocity on the wire: centimetres per second. Used for movement input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QVel {
    pub x: i16,
    pub y: i16,
}

impl QVel {
    pub fn from_point(v: Point) -> QVel {
        let q = QPos::from_point(v);
        QVel { x: q.x, y: q.y }
    }

    pub fn to_point(self) -> Point {
        QPos { x: self.x, y: self.y }.to_point()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantization_round_trip_is_within_half_a_step() {
        let mut v = -300.0f32;
        while v < 300.0 {
            let p = Point::new(v, -v * 0.37);
            let back = QPos::from_point(p).to_point();
            assert!((back.x - p.x).abs() <= QUANT_STEP / 2.0 + 1e-4, "{p:?} -> {back:?}");
            assert!((back.y - p.y).abs() <= QUANT_STEP / 2.0 + 1e-4, "{p:?} -> {back:?}");
            v += 0.0137;
        }
    }

    #[test]
    fn quantization_saturates_and_maps_nan_to_zero() {
        assert_eq!(QPos::from_point(Point::new(1.0e9, -1.0e9)), QPos { x: i16::MAX, y: i16::MIN });
        assert_eq!(QPos::from_point(Point::new(f32::NAN, f32::INFINITY)), QPos { x: 0, y: i16::MAX });
    }

    #[test]
    fn clamp_length_only_shrinks() {
        assert_eq!(Point::new(3.0, 4.0).clamp_length(10.0), Point::new(3.0, 4.0));
        let c = Point::new(30.0, 40.0).clamp_length(5.0);
        assert!((c.length() - 5.0).abs() < 1e-5);
        assert!((c.x - 3.0).abs() < 1e-5);
    }
}
