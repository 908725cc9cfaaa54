//! Opening hours: when a department takes tickets, and when it next opens.
//!
//! Times are the office's local time at a fixed UTC offset (Japan keeps no daylight saving).
//! Plain arithmetic on Unix milliseconds, so it builds for wasm too and needs no time zone data.

use serde::{Deserialize, Serialize};

/// Days of the week, as written in `office.toml`.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

const DAY_MS: i64 = 86_400_000;

/// Opening hours as written in `office.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursFile {
    /// Days it opens: `mon` … `sun`.
    pub days: Vec<String>,
    /// Local opening time, `HH:MM`.
    pub open: String,
    /// Local closing time, `HH:MM`, after `open`. Tickets are refused from this minute.
    pub close: String,
    /// Local dates (`YYYY-MM-DD`) it stays closed although the weekday is open (holidays).
    #[serde(default)]
    pub closed_dates: Vec<String>,
}

/// Validated opening hours.
#[derive(Debug, Clone, PartialEq)]
pub struct Hours {
    /// Bit `i` set: open on `WEEKDAYS[i]`.
    pub days: u8,
    /// Minutes after local midnight.
    pub open: u16,
    pub close: u16,
    pub closed_dates: Vec<String>,
}

/// A local date and time of day, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i64,
    pub month: u8,
    pub day: u8,
    /// 0 = Monday.
    pub weekday: u8,
    pub minute_of_day: u16,
}

impl LocalTime {
    /// The local time at `unix_ms` for an offset of `offset_min` minutes east of UTC.
    pub fn at(unix_ms: i64, offset_min: i32) -> LocalTime {
        let local = unix_ms + i64::from(offset_min) * 60_000;
        let days = local.div_euclid(DAY_MS);
        let ms = local.rem_euclid(DAY_MS);
        let (year, month, day) = civil_from_days(days);
        // 1970-01-01 was a Thursday (index 3).
        let weekday = (days + 3).rem_euclid(7) as u8;
        LocalTime { year, month, day, weekday, minute_of_day: (ms / 60_000) as u16 }
    }

    /// `YYYY-MM-DD`.
    pub fn date(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// `HH:MM`.
    pub fn clock(&self) -> String {
        format!("{:02}:{:02}", self.minute_of_day / 60, self.minute_of_day % 60)
    }
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses `+09:00`, `-05:30` or `Z` into minutes east of UTC.
pub fn parse_offset(s: &str) -> Option<i32> {
    if s == "Z" || s == "+00:00" {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let m = parse_clock(rest)?;
    (m <= 14 * 60).then_some(sign * i32::from(m))
}

/// Parses `HH:MM` (00:00 to 24:00) into minutes.
pub fn parse_clock(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

impl Hours {
    /// Every day, all day: for demonstrations and tests (`--always-open`).
    pub fn always() -> Hours {
        Hours { days: 0x7F, open: 0, close: 24 * 60, closed_dates: Vec::new() }
    }

    /// Validates hours from a file; the error names the field at fault.
    pub fn from_file(f: &HoursFile) -> Result<Hours, (String, String)> {
        let mut days = 0u8;
        for (i, d) in f.days.iter().enumerate() {
            let Some(bit) = WEEKDAYS.iter().position(|w| w == d) else {
                return Err((format!("days[{i}]"), format!("\"{d}\" is not one of {}", WEEKDAYS.join(", "))));
            };
            days |= 1 << bit;
        }
        let open = parse_clock(&f.open).ok_or(("open".to_string(), format!("\"{}\" is not HH:MM", f.open)))?;
        let close = parse_clock(&f.close).ok_or(("close".to_string(), format!("\"{}\" is not HH:MM", f.close)))?;
        if close <= open {
            return Err(("close".into(), format!("{} is not after {}", f.close, f.open)));
        }
        for (i, d) in f.closed_dates.iter().enumerate() {
            if !valid_date(d) {
                return Err((format!("closed_dates[{i}]"), format!("\"{d}\" is not YYYY-MM-DD")));
            }
        }
        Ok(Hours { days, open, close, closed_dates: f.closed_dates.clone() })
    }

    fn open_on(&self, t: &LocalTime) -> bool {
        self.days & (1 << t.weekday) != 0 && !self.closed_dates.iter().any(|d| *d == t.date())
    }

    /// Whether tickets are taken at `unix_ms`.
    pub fn is_open(&self, unix_ms: i64, offset_min: i32) -> bool {
        let t = LocalTime::at(unix_ms, offset_min);
        self.open_on(&t) && (self.open..self.close).contains(&t.minute_of_day)
    }

    /// When it next opens after `unix_ms` (Unix ms), looking up to 60 days ahead; `None` if it
    /// never does. If it is open now, the start of the next opening after this one.
    pub fn next_opening(&self, unix_ms: i64, offset_min: i32) -> Option<i64> {
        let off = i64::from(offset_min) * 60_000;
        let local_midnight = (unix_ms + off).div_euclid(DAY_MS) * DAY_MS - off;
        (0..=60).map(|d| local_midnight + d * DAY_MS).find_map(|midnight| {
            let start = midnight + i64::from(self.open) * 60_000;
            (start > unix_ms && self.open_on(&LocalTime::at(start, offset_min))).then_some(start)
        })
    }

    /// The days and times, for people: `mon-fri 08:30-17:15`.
    pub fn describe(&self) -> String {
        let days: Vec<&str> = (0..7).filter(|i| self.days & (1 << i) != 0).map(|i| WEEKDAYS[i]).collect();
        let clock = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        let days = match days.as_slice() {
            ["mon", "tue", "wed", "thu", "fri"] => "mon-fri".to_string(),
            ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] => "daily".to_string(),
            d => d.join(","),
        };
        format!("{days} {}-{}", clock(self.open), clock(self.close))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-26 (a Thursday) 10:00 in Tokyo is 01:00 UTC.
    const THU_10_JST: i64 = 1_795_654_800_000;
    const JST: i32 = 9 * 60;

    fn weekdays() -> Hours {
        Hours::from_file(&HoursFile {
            days: ["mon", "tue", "wed", "thu", "fri"].map(String::from).to_vec(),
            open: "08:30".into(),
            close: "17:15".into(),
            closed_dates: vec!["2026-11-27".into()],
        })
        .unwrap()
    }

    #[test]
    fn local_time_and_dates() {
        let t = LocalTime::at(THU_10_JST, JST);
        assert_eq!((t.date().as_str(), t.weekday, t.clock().as_str()), ("2026-11-26", 3, "10:00"));
        assert_eq!(LocalTime::at(0, 0).date(), "1970-01-01");
        assert_eq!(LocalTime::at(951_782_400_000, 0).date(), "2000-02-29");
        // Just before midnight UTC is already tomorrow in Tokyo.
        assert_eq!(LocalTime::at(THU_10_JST + 14 * 3_600_000, JST).date(), "2026-11-27");
    }

    #[test]
    fn open_closed_and_next_opening() {
        let h = weekdays();
        assert!(h.is_open(THU_10_JST, JST));
        let evening = THU_10_JST + 8 * 3_600_000; // 18:00
        assert!(!h.is_open(evening, JST));
        // Friday is a closed date, so the next opening is Monday 08:30.
        let next = h.next_opening(evening, JST).unwrap();
        let t = LocalTime::at(next, JST);
        assert_eq!((t.date().as_str(), t.clock().as_str()), ("2026-11-30", "08:30"));
        // Before opening, the same day.
        let early = THU_10_JST - 2 * 3_600_000;
        assert!(!h.is_open(early, JST));
        assert_eq!(LocalTime::at(h.next_opening(early, JST).unwrap(), JST).clock(), "08:30");
        assert_eq!(h.describe(), "mon-fri 08:30-17:15");
        assert!(Hours::always().is_open(evening, JST));
        let never = Hours { days: 0, ..Hours::always() };
        assert_eq!(never.next_opening(evening, JST), None);
    }

    #[test]
    fn bad_hours_name_the_field() {
        let mut f =
            HoursFile { days: vec!["mon".into()], open: "9:00".into(), close: "17:00".into(), closed_dates: vec![] };
        assert_eq!(Hours::from_file(&f).unwrap_err().0, "open");
        f.open = "18:00".into();
        assert_eq!(Hours::from_file(&f).unwrap_err().0, "close");
        f.open = "09:00".into();
        f.days.push("funday".into());
        assert_eq!(Hours::from_file(&f).unwrap_err().0, "days[1]");
        assert_eq!(parse_offset("+09:00"), Some(540));
        assert_eq!(parse_offset("-05:30"), Some(-330));
        assert_eq!(parse_offset("09:00"), None);
    }
}
