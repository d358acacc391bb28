/// NOTIFY (RFC 5465 §3, §8): `NOTIFY NONE`, or `NOTIFY SET [STATUS] (filter events) ...`.
extension IMAPCommandParser {
    func notify(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPCommandKind {
        try s.space()
        switch try s.atom().uppercased() {
        case "NONE": return .notify(nil)
        case "SET": break
        default: throw IMAPSyntaxError("NOTIFY takes SET or NONE")
        }
        var request = IMAPNotifyRequest()
        var selectedNamed = false
        try s.space()
        if !s.peekIs("(") {
            guard try s.atom().uppercased() == "STATUS" else { throw IMAPSyntaxError("NOTIFY SET takes STATUS or event groups") }
            request.status = true
            try s.space()
        }
        repeat {
            try s.expect("(")
            try s.enter()
            defer { s.leave() }
            let filter = try s.atom().uppercased()
            var mailboxes: IMAPNotifyMailboxes?
            switch filter {
            case "SELECTED", "SELECTED-DELAYED":
                guard !selectedNamed else { throw IMAPSyntaxError("The selected mailbox is named twice") }
                selectedNamed = true
                request.delayedExpunges = filter == "SELECTED-DELAYED"
            case "INBOXES": mailboxes = .inboxes
            case "PERSONAL": mailboxes = .personal
            case "SUBSCRIBED": mailboxes = .subscribed
            case "SUBTREE", "MAILBOXES":
                try s.space()
                let names = s.peekIs("(")
                    ? try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) in try s.mailbox(utf8: self.utf8Enabled) }
                    : [try s.mailbox(utf8: self.utf8Enabled)]
                guard !names.isEmpty else { throw IMAPSyntaxError("\(filter) needs a mailbox") }
                mailboxes = filter == "SUBTREE" ? .subtree(names) : .mailboxes(names)
            default:
                throw IMAPSyntaxError("Unknown NOTIFY mailbox filter")
            }
            try s.space()
            var events: Set<IMAPNotifyEvent> = []
            if !s.peekIs("(") {
                // NONE: no events for these mailboxes, as if they were not named.
                guard try s.atom().uppercased() == "NONE" else { throw IMAPSyntaxError("Events are a list or NONE") }
            } else {
                try s.expect("(")
                try s.enter()
                defer { s.leave() }
                repeat {
                    guard events.count < 64 else { throw IMAPSyntaxError("Too many events") }
                    let event = IMAPNotifyEvent(name: try s.atom())
                    events.insert(event)
                    // `MessageNew (fetch items)`, for the selected mailbox only (RFC 5465 §5.1).
                    var items = s
                    if event == .messageNew, items.take(" "), items.peekIs("(") {
                        guard mailboxes == nil else { throw IMAPSyntaxError("FETCH items go with the selected mailbox only") }
                        s = items
                        request.newMessageItems = try self.fetchAttributes(&s)
                    }
                } while s.take(" ")
                try s.expect(")")
            }
            if let mailboxes {
                if !events.isEmpty { request.groups.append(IMAPNotifyGroup(mailboxes: mailboxes, events: events)) }
            } else {
                request.selectedEvents = events
                // RFC 5465 §5: new messages and expunges go together for the selected mailbox, since a
                // client told of one cannot keep sequence numbers without the other; flag changes need both.
                let messageNew = events.contains(.messageNew)
                guard messageNew == events.contains(.messageExpunge) else {
                    throw IMAPSyntaxError("MessageNew and MessageExpunge go together")
                }
                guard messageNew || !(events.contains(.flagChange) || events.contains(.annotationChange)) else {
                    throw IMAPSyntaxError("FlagChange needs MessageNew and MessageExpunge")
                }
            }
            try s.expect(")")
            guard request.groups.count < 100 else { throw IMAPSyntaxError("Too many NOTIFY groups") }
        } while s.take(" ")
        return .notify(request)
    }
}
