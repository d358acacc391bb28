import IMAPProtocol
import Testing

@Suite("IMAP number ranges")
struct IMAPNumberRangesTests {
    @Test("numbers become ranges of consecutive ones, in any order and with repeats")
    func ranges() {
        #expect(IMAPNumberRanges.ranges(of: [7, 1, 2, 3, 5, 8, 2]) == [1...3, 5...5, 7...8])
        #expect(IMAPNumberRanges.text(IMAPNumberRanges.ranges(of: [7, 1, 2, 3, 5, 8])) == "1:3,5,7:8")
        #expect(IMAPNumberRanges.ranges(of: []).isEmpty)
        #expect(IMAPNumberRanges.ranges(of: [UInt32.max, UInt32.max - 1]) == [(UInt32.max - 1)...UInt32.max])
        // In the order given (ESORT's ALL): only ascending runs join.
        #expect(IMAPNumberRanges.text(IMAPNumberRanges.runs(of: [3, 4, 5, 1, 9, 8])) == "3:5,1,9,8")
    }

    @Test("gaps: what of a span is not present, found without enumerating the span")
    func gaps() {
        #expect(IMAPNumberRanges.gaps(in: [1...10], excluding: [2, 3, 7]) == [1...1, 4...6, 8...10])
        #expect(IMAPNumberRanges.gaps(in: [1...3, 8...9], excluding: [1, 2, 3, 9, 20]) == [8...8])
        #expect(IMAPNumberRanges.gaps(in: [5...5], excluding: []) == [5...5])
        // A span of four billion UIDs with a handful present: a few ranges, at once.
        #expect(IMAPNumberRanges.gaps(in: [1...UInt32.max], excluding: [1, UInt32.max]) == [2...(UInt32.max - 1)])
    }
}
