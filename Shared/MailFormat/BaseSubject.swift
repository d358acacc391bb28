/// The base subject of a message (RFC 5256 §2.1), what SORT SUBJECT and THREAD compare: the subject
/// with encoded words decoded, white space collapsed, and reply and forward markers taken off —
/// leading `Re:`, `Fw:`, `Fwd:` (with `[list]` blobs before or inside them), trailing `(fwd)`, and a
/// `[Fwd: …]` wrapper — upper-cased so that it compares as i;ascii-casemap does.
public enum BaseSubject {
    public static func of(_ subject: String) -> String {
        // (1) Decoded, with every run of white space one space.
        var text = EncodedWords.decode(subject)
            .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }).joined(separator: " ")
        // Bounded: each round takes something off, and a subject is short.
        for _ in 0..<1000 {
            // (2) Trailing "(fwd)" and white space.
            while true {
                let trimmed = Self.trimmingTrailingSpace(text)
                if trimmed.lowercased().hasSuffix("(fwd)") {
                    text = String(trimmed.dropLast(5))
                } else {
                    text = trimmed
                    break
                }
            }
            // (3) and (4): leaders (blobs and re/fw/fwd colons) and a lone leading blob, until none is left.
            var changed = true
            while changed {
                changed = false
                let withoutSpace = Self.trimmingLeadingSpace(text)
                if withoutSpace.count != text.count { text = withoutSpace; changed = true }
                if let rest = Self.droppingLeader(text) {
                    text = rest
                    changed = true
                } else if let rest = Self.droppingBlob(text), !Self.trimmingLeadingSpace(rest).isEmpty {
                    text = rest
                    changed = true
                }
            }
            // (5) "[fwd: … ]" around the whole: its inside, from (2) again.
            let lowered = text.lowercased()
            if lowered.hasPrefix("[fwd:") && lowered.hasSuffix("]") && text.count >= 6 {
                text = String(text.dropFirst(5).dropLast())
                continue
            }
            break
        }
        return text.uppercased()
    }

    /// Whether the subject marks a reply or forward (a `Re:`/`Fw:`/`Fwd:` leader, a `(fwd)` trailer or a
    /// `[Fwd: …]` wrapper): THREAD=REFERENCES puts such a thread under one of the same base subject
    /// that is not one (RFC 5256 §4 step 6).
    public static func isReplyOrForward(_ subject: String) -> Bool {
        let text = Self.trimmingTrailingSpace(Self.trimmingLeadingSpace(
            EncodedWords.decode(subject).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" })
                .joined(separator: " ")))
        let lowered = text.lowercased()
        return Self.droppingLeader(text) != nil || lowered.hasSuffix("(fwd)") || (lowered.hasPrefix("[fwd:") && lowered.hasSuffix("]"))
    }

    /// `*subj-blob ("re" / "fw" / "fwd") *WSP [subj-blob] ":"` at the start: the text after it, or nil.
    private static func droppingLeader(_ text: String) -> String? {
        var rest = Substring(text)
        while let afterBlob = Self.droppingBlob(String(rest)) { rest = Substring(afterBlob) }
        let lowered = rest.lowercased()
        var marker = 0
        if lowered.hasPrefix("fwd") { marker = 3 } else if lowered.hasPrefix("fw") || lowered.hasPrefix("re") { marker = 2 }
        guard marker > 0 else { return nil }
        rest = rest.dropFirst(marker)
        rest = rest.drop(while: { $0 == " " || $0 == "\t" })
        if let afterBlob = Self.droppingBlob(String(rest)) { rest = Substring(afterBlob) }
        guard rest.first == ":" else { return nil }
        return String(rest.dropFirst())
    }

    /// `"[" *BLOBCHAR "]" *WSP` at the start (BLOBCHAR: anything but `[` and `]`): the text after it, or nil.
    private static func droppingBlob(_ text: String) -> String? {
        guard text.first == "[", let close = text.firstIndex(of: "]") else { return nil }
        let inside = text[text.index(after: text.startIndex)..<close]
        guard !inside.contains("[") else { return nil }
        return String(text[text.index(after: close)...].drop(while: { $0 == " " || $0 == "\t" }))
    }

    private static func trimmingLeadingSpace(_ text: String) -> String {
        String(text.drop(while: { $0 == " " || $0 == "\t" }))
    }

    private static func trimmingTrailingSpace(_ text: String) -> String {
        var text = Substring(text)
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return String(text)
    }
}
