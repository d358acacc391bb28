import Foundation
import MailFormat
import Testing

@Suite("RFC 5322 dates")
struct MessageDateTests {
    @Test("known instants, leap days and century boundaries")
    func known() {
        #expect(MessageDate.format(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 +0000")
        #expect(MessageDate.format(Date(timeIntervalSince1970: 951_782_400)) == "Tue, 29 Feb 2000 00:00:00 +0000")
        #expect(MessageDate.format(Date(timeIntervalSince1970: 1_798_761_599.9)) == "Thu, 31 Dec 2026 23:59:59 +0000")
        #expect(MessageDate.format(Date(timeIntervalSince1970: -1)) == "Wed, 31 Dec 1969 23:59:59 +0000")
    }

    @Test("agrees with Foundation's formatter over many instants")
    func agreesWithFoundation() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            // 1900 to 2200.
            let date = Date(timeIntervalSince1970: Double(Int64.random(in: -2_208_988_800...7_258_118_400, using: &generator)))
            #expect(MessageDate.format(date) == formatter.string(from: date))
        }
    }

    @Test("parse reads what format writes, the obsolete forms, and refuses garbage (M12)")
    func parse() {
        for seconds: Int64 in [0, 951_782_400, 1_770_453_000, 4_102_444_799, -86_400] {
            let date = Date(timeIntervalSince1970: Double(seconds))
            #expect(MessageDate.parse(MessageDate.format(date)) == date, "\(seconds)")
        }
        let reference = Date(timeIntervalSince1970: 1_770_453_000)  // 2026-02-07 08:30:00 UTC
        #expect(MessageDate.parse("Sat, 7 Feb 2026 09:30:00 +0100") == reference)
        #expect(MessageDate.parse("7 Feb 2026 03:30 EST") == reference)
        #expect(MessageDate.parse("Saturday, 07 feb 26 08:30:00 GMT") == reference)
        for garbage in ["", "yesterday", "32 Feb 2026 10:00:00 +0000", "7 Foo 2026 10:00:00 +0000", "7 Feb 99999 10:00:00 +0000",
                        "7 Feb 2026 25:00:00 +0000", "7 Feb 2026 10:00:00 +9999", "7 Feb 2026"] {
            #expect(MessageDate.parse(garbage) == nil, "\(garbage)")
        }
    }

    @Test("the day as written, whatever the time and zone (SEARCH SENTON)")
    func writtenDay() {
        let march25 = MessageDate.days(year: 2007, month: 3, day: 25)
        #expect(MessageDate.writtenDay("Sun, 25 Mar 2007 00:00:00 +0200") == march25)
        #expect(MessageDate.writtenDay("Sun, 25 Mar 2007 23:59:59 -1100") == march25)
        #expect(MessageDate.writtenDay("Sat, 24 Mar 2007 23:30:00 -0500") == march25 - 1)
        #expect(MessageDate.writtenDay("1 Jan 1970 00:00 GMT") == 0)
        #expect(MessageDate.writtenDay("garbage") == nil)
    }
}
