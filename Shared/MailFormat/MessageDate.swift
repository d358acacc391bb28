import Foundation

/// RFC 5322 §3.3 date-time in UTC (`Thu, 26 Nov 2026 10:00:00 +0000`), for trace headers and bounces.
///
/// Computed from the epoch seconds with the civil-calendar arithmetic rather than a DateFormatter: a
/// formatter per message cost about a seventh of the SMTP acceptance CPU, and a shared one is not
/// Sendable.
public enum MessageDate {
    private static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    public static func format(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = Self.civil(fromDays: days)
        let weekday = Self.weekdays[Int(((days % 7) + 7) % 7)]
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(weekday), \(two(day)) \(Self.months[Int(month - 1)]) \(year) "
            + "\(two(secondOfDay / 3600)):\(two(secondOfDay % 3600 / 60)):\(two(secondOfDay % 60)) +0000"
    }

    /// Days since 1970-01-01 to (year, month 1–12, day 1–31), proleptic Gregorian (the well-known
    /// era-based conversion: 400-year eras of 146,097 days, years starting in March).
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Reads an RFC 5322 §3.3 date-time, leniently (the obsolete forms of §4.3 too: two-digit years,
    /// zone names, no seconds, no weekday, comments); nil when it is not one (garbage
    /// and absurd years give nil, never a trap).
    public static func parse(_ text: String) -> Date? {
        guard let written = Self.components(text) else { return nil }
        let seconds = written.day * 86_400 + Int64(written.secondOfDay) - Int64(written.offset)
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    /// The calendar day as written in a date-time, as days since 1970-01-01, whatever its time and zone:
    /// what SEARCH SENTON and its kin compare (RFC 9051 §6.4.4, "disregarding time and timezone").
    public static func writtenDay(_ text: String) -> Int64? {
        Self.components(text)?.day
    }

    /// Days since 1970-01-01 of a civil date (month 1–12): the inverse of `civil(fromDays:)`.
    public static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// A date-time's parts as written: its day (days since the epoch of the date as written), the
    /// second of that day, and the zone's offset from UTC in seconds. Read with the standard library only
    /// (no Foundation string search or case mapping): SORT (DATE) reads one per message.
    private static func components(_ text: String) -> (day: Int64, secondOfDay: Int, offset: Int)? {
        var words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," })
        if let first = words.first, first.count >= 3, Self.weekdaysLowercased.contains(first.prefix(3).lowercased()) {
            words.removeFirst()
        }
        guard words.count >= 4, let day = Int(words[0]), (1...31).contains(day),
            let month = Self.monthsLowercased.firstIndex(of: words[1].prefix(3).lowercased()),
            var year = Int(words[2]), year >= 0
        else { return nil }
        if year < 50 { year += 2000 } else if year < 1000 { year += 1900 }
        guard year <= 9999 else { return nil }
        let time = words[3].split(separator: ":").map { Int($0) }
        guard time.count == 2 || time.count == 3, let hour = time[0], let minute = time[1], hour < 24, minute < 60 else { return nil }
        let second = time.count == 3 ? (time[2] ?? 0) : 0
        var offset = 0
        if words.count > 4 {
            let zone = words[4]
            if let hours = Self.namedZones[zone.uppercased()] {
                offset = hours * 3600
            } else if zone.count == 5, let sign = zone.first, sign == "+" || sign == "-", let value = Int(zone.dropFirst()) {
                guard value % 100 < 60 else { return nil }
                offset = (value / 100 * 3600 + value % 100 * 60) * (sign == "-" ? -1 : 1)
            }
        }
        let days = Self.days(year: Int64(year), month: Int64(month + 1), day: Int64(day))
        return (days, hour * 3600 + minute * 60 + min(second, 59), offset)
    }

    private static let weekdaysLowercased = Set(Self.weekdays.map { $0.lowercased() })
    private static let monthsLowercased = Self.months.map { $0.lowercased() }
    /// RFC 5322 §4.3's zone names, in hours from UTC.
    private static let namedZones = ["UT": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7]
}
