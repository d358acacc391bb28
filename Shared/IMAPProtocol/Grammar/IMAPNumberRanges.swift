/// Sets of UIDs or sequence numbers as IMAP writes them (`1:3,5,7:8`, RFC 9051 §9 sequence-set), made
/// from numbers without listing more than they hold.
public enum IMAPNumberRanges {
    /// The numbers as ascending ranges of consecutive ones (duplicates and order do not matter).
    public static func ranges(of numbers: [UInt32]) -> [ClosedRange<UInt32>] {
        Self.runs(of: Set(numbers).sorted())
    }

    /// The numbers in the order given, each run of consecutive ascending ones as a range (ESORT's
    /// ALL keeps the sort order: `3:5,1`).
    public static func runs(of numbers: [UInt32]) -> [ClosedRange<UInt32>] {
        var ranges: [ClosedRange<UInt32>] = []
        for number in numbers {
            if let last = ranges.last, last.upperBound &+ 1 == number {
                ranges[ranges.count - 1] = last.lowerBound...number
            } else {
                ranges.append(number...number)
            }
        }
        return ranges
    }

    /// The parts of `ranges` (ascending, apart) that hold none of `present` (ascending): what is gone
    /// from a span, found without enumerating the span.
    public static func gaps(in ranges: [ClosedRange<UInt32>], excluding present: [UInt32]) -> [ClosedRange<UInt32>] {
        var gaps: [ClosedRange<UInt32>] = []
        for range in ranges {
            var next = range.lowerBound
            var exhausted = false
            var index = Self.firstIndex(in: present, notBelow: range.lowerBound)
            while index < present.count, present[index] <= range.upperBound {
                if present[index] > next { gaps.append(next...(present[index] - 1)) }
                if present[index] == UInt32.max {
                    exhausted = true
                    break
                }
                next = present[index] + 1
                index += 1
            }
            if !exhausted, next <= range.upperBound { gaps.append(next...range.upperBound) }
        }
        return gaps
    }

    /// `1:3,5` for the ranges.
    public static func text(_ ranges: [ClosedRange<UInt32>]) -> String {
        ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound):\($0.upperBound)" }.joined(separator: ",")
    }

    /// The first index of an ascending array whose number is at least `value` (binary search).
    private static func firstIndex(in sorted: [UInt32], notBelow value: UInt32) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] >= value { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
