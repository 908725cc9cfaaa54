//! The wait estimate: the mean of the department's last 20 service times (within a week) ×
//! position ÷ staffed desks; unknown without recent service times or without a staffed desk.

use super::model::QueueError;
use super::service::Queues;
use crate::db::now_ms;

/// Service times taken into the mean at most.
pub const SAMPLES: i64 = 20;
/// How far back service times count, ms.
pub const WINDOW_MS: i64 = 7 * 24 * 3_600_000;

/// The mean of `durations_ms` (negative ones, from clock steps, are left out); `None` if empty.
pub fn mean_ms(durations_ms: &[i64]) -> Option<f64> {
    let d: Vec<i64> = durations_ms.iter().copied().filter(|d| *d >= 0).collect();
    (!d.is_empty()).then(|| d.iter().sum::<i64>() as f64 / d.len() as f64)
}

/// Seconds of estimated wait for position `pos` with `desks` open desks.
pub fn wait_s(mean_ms: f64, pos: u32, desks: u32) -> u32 {
    (mean_ms * f64::from(pos) / f64::from(desks.max(1)) / 1000.0).ceil() as u32
}

/// The estimate for position `pos`: unknown without a mean or without an open desk.
pub fn estimate(mean_ms: Option<f64>, pos: u32, desks: u32) -> Option<u32> {
    if desks == 0 {
        return None;
    }
    mean_ms.map(|m| wait_s(m, pos, desks))
}

impl Queues {
    /// Mean service time of the department's recent served tickets, ms.
    pub(super) async fn mean_service_ms(&self, department: &str) -> Result<Option<f64>, QueueError> {
        let times = self.store().service_times(department, now_ms() - WINDOW_MS, SAMPLES).await?;
        Ok(mean_ms(&times))
    }

    /// Estimated wait for position `pos` in `department`.
    pub(super) async fn estimate(&self, department: &str, pos: u32) -> Result<Option<u32>, QueueError> {
        let desks = self.open_desks(department);
        if desks == 0 {
            return Ok(None);
        }
        Ok(estimate(self.mean_service_ms(department).await?, pos, desks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_scale_with_position_and_desks() {
        assert_eq!(wait_s(300_000.0, 1, 1), 300);
        assert_eq!(wait_s(300_000.0, 4, 2), 600);
        assert_eq!(wait_s(1.0, 1, 1), 1);
    }

    #[test]
    fn unknown_without_service_times_or_desks() {
        assert_eq!(estimate(None, 3, 2), None);
        assert_eq!(estimate(Some(60_000.0), 3, 0), None);
        assert_eq!(estimate(Some(60_000.0), 3, 1), Some(180));
        assert_eq!(mean_ms(&[]), None);
        assert_eq!(mean_ms(&[-5, 100, 300]), Some(200.0), "a negative duration is a clock step, not a sample");
    }
}
