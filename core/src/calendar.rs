//! Calendar values: [`Date`] and [`Time`] of day, the proleptic Gregorian calendar, and the
//! clock of the services (Beijing time, UTC+8). The one place piaoju does date arithmetic.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

/// A calendar date (proleptic Gregorian). Serializes as ISO 8601 `"YYYY-MM-DD"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

/// A time of day, with or without seconds. Serializes as `"HH:MM"` or `"HH:MM:SS"`, as printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time {
    hour: u8,
    minute: u8,
    second: Option<u8>,
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl Date {
    /// The date, if it exists (years 1 to 9999).
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        let valid = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day);
        // Both fit in u8 once valid.
        valid.then_some(Date {
            year,
            month: month as u8,
            day: day as u8,
        })
    }

    /// Read a date as OCR prints it: `20250522`, `2025-05-22`, `2025/5/22`, `2025.05.22`,
    /// `2025年5月22日`. `None` unless it is a real date between the years 1900 and 2999.
    pub fn parse(raw: &str) -> Option<Date> {
        let s = raw.trim();
        let (y, m, d) = if s.len() == 8 && all_digits(s) {
            (&s[..4], &s[4..6], &s[6..])
        } else {
            let s = s.strip_suffix('日').unwrap_or(s);
            let mut parts = s.split(['-', '/', '.', '年', '月']);
            let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
            let shaped = parts.next().is_none()
                && y.len() == 4
                && (1..=2).contains(&m.len())
                && (1..=2).contains(&d.len());
            if !shaped || ![y, m, d].iter().all(|p| all_digits(p)) {
                return None;
            }
            (y, m, d)
        };
        let year: i32 = y.parse().ok()?;
        if !(1900..=2999).contains(&year) {
            return None;
        }
        Date::new(year, m.parse().ok()?, d.parse().ok()?)
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }
    /// The month, 1 to 12.
    pub fn month(self) -> u32 {
        u32::from(self.month)
    }
    /// The day of the month, from 1.
    pub fn day(self) -> u32 {
        u32::from(self.day)
    }

    /// Today in Beijing (UTC+8), the services' calendar.
    pub fn today_in_beijing() -> Date {
        BeijingTime::at(SystemTime::now()).date
    }
}

impl Time {
    /// The time, if valid (hour < 24, minute and second < 60).
    pub fn new(hour: u32, minute: u32, second: Option<u32>) -> Option<Time> {
        let valid = hour < 24 && minute < 60 && second.is_none_or(|s| s < 60);
        valid.then(|| Time {
            hour: hour as u8,
            minute: minute as u8,
            second: second.map(|s| s as u8),
        })
    }

    /// Read a time of day: `17:23`, `7:05`, `17:23:59`, `17：23`. `None` unless valid.
    pub fn parse(raw: &str) -> Option<Time> {
        let mut parts = raw.trim().split([':', '：']);
        let h = parts.next()?;
        let m = parts.next()?;
        let s = parts.next();
        if parts.next().is_some()
            || !(1..=2).contains(&h.len())
            || m.len() != 2
            || s.is_some_and(|s| s.len() != 2)
            || ![Some(h), Some(m), s]
                .iter()
                .flatten()
                .all(|p| all_digits(p))
        {
            return None;
        }
        Time::new(
            h.parse().ok()?,
            m.parse().ok()?,
            s.map(str::parse).transpose().ok()?,
        )
    }

    /// The hour, 0 to 23.
    pub fn hour(self) -> u32 {
        u32::from(self.hour)
    }
    /// The minute, 0 to 59.
    pub fn minute(self) -> u32 {
        u32::from(self.minute)
    }
    /// The second, when one was printed.
    pub fn second(self) -> Option<u32> {
        self.second.map(u32::from)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)?;
        if let Some(s) = self.second {
            write!(f, ":{s:02}")?;
        }
        Ok(())
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A moment as a Beijing (UTC+8) wall clock reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BeijingTime {
    pub date: Date,
    pub seconds_of_day: u32,
}

impl BeijingTime {
    pub fn at(t: SystemTime) -> BeijingTime {
        let secs = t
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .saturating_add(8 * 3600);
        let (days, rem) = (secs / 86_400, secs % 86_400);
        let (y, m, d) = civil_from_days(days as i64);
        BeijingTime {
            date: Date::new(y as i32, m, d).unwrap_or(Date {
                year: 1970,
                month: 1,
                day: 1,
            }),
            seconds_of_day: rem as u32,
        }
    }

    /// `yyyyMMddHHmmss`, the timestamp form of the ChinaUMS platform.
    pub fn compact(self) -> String {
        let s = self.seconds_of_day;
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            self.date.year,
            self.date.month,
            self.date.day,
            s / 3600,
            s % 3600 / 60,
            s % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_as_ocr_prints_them() {
        for (raw, want) in [
            ("20250522", Some("2025-05-22")),
            ("2020-11-19", Some("2020-11-19")),
            ("2020/1/9", Some("2020-01-09")),
            ("2020.11.19", Some("2020-11-19")),
            ("2020年11月19日", Some("2020-11-19")),
            ("2024-02-29", Some("2024-02-29")),
            ("2000-02-29", Some("2000-02-29")),
            ("1900-02-29", None),
            ("2023-02-29", None),
            ("20251322", None),
            ("2025-04-31", None),
            ("2025-5", None),
            ("2025-5-1-1", None),
            ("1899-12-31", None),
            ("２０２５-05-22", None),
            ("", None),
        ] {
            assert_eq!(
                Date::parse(raw).map(|d| d.to_string()).as_deref(),
                want,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn times_as_ocr_prints_them() {
        for (raw, want) in [
            ("17:23", Some("17:23")),
            ("7:05", Some("07:05")),
            ("17:23:59", Some("17:23:59")),
            ("17：23", Some("17:23")),
            ("24:00", None),
            ("12:60", None),
            ("12:00:60", None),
            ("1723", None),
            ("12:5", None),
            ("12:05:", None),
            ("1:2:3:4", None),
        ] {
            assert_eq!(
                Time::parse(raw).map(|t| t.to_string()).as_deref(),
                want,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn beijing_clock() {
        // 2025-05-22T02:15:30Z is 10:15:30 in Beijing.
        let t = UNIX_EPOCH + Duration::from_secs(1_747_880_130);
        assert_eq!(BeijingTime::at(t).compact(), "20250522101530");
        // 2024-12-31T16:00:00Z is already 2025 in Beijing.
        let t = UNIX_EPOCH + Duration::from_secs(1_735_660_800);
        assert_eq!(BeijingTime::at(t).compact(), "20250101000000");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert!(Date::today_in_beijing() > Date::new(2025, 1, 1).unwrap());
    }
}
