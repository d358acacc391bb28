import IMAPProtocol
import Logging
import MailStore
import NIOCore
import ServerSupport

/// NOTIFY (RFC 5465): the command, and the wait for the client's next command during which what it
/// asked for is told as it happens.
extension IMAPSession {
    /// NOTIFY SET replaces what the session is told; NOTIFY NONE ends it. A refused request leaves the
    /// earlier one in force.
    func notify(_ tag: String, _ request: IMAPNotifyRequest?, account: AccountID, state: inout State) async throws -> Next {
        guard let request else {
            state.notifier = nil
            return try await self.completed(tag, "NOTIFY completed", state: &state)
        }
        let unsupported = request.allEvents.filter { !IMAPNotifier.supportedEvents.contains($0) }
        guard unsupported.isEmpty else {
            // RFC 5465 §3.1: BADEVENT lists the events this server can tell.
            let names = unsupported.map(\.name).sorted().joined(separator: " ")
            return self.no(tag, .badEvent(IMAPNotifier.supportedEvents.map(\.name)), "Events not supported: \(names)", state)
        }
        var notifier = IMAPNotifier(request: request, account: account)
        guard let lines = try await notifier.start(
            store: self.store, selected: state.selected?.mailbox.id, status: request.status, condstore: state.condstore)
        else {
            return self.no(tag, .notificationOverflow, "Too many mailboxes to watch", state)
        }
        state.notifier = notifier
        return try await self.completed(tag, "NOTIFY completed", untagged: lines, state: &state)
    }

    /// The client's next frame, with NOTIFY's responses sent meanwhile as the process's change watcher
    /// says something of the account changed (in this process or another). The selection and what
    /// NOTIFY last told are lent to the task that tells, and come back when the frame has arrived.
    func nextFrameNotifying(
        state: inout State, connection: Connection, frames: inout NIOAsyncChannelInboundStream<IMAPFrame>.AsyncIterator
    ) async throws -> IMAPFrame? {
        guard let notifier = state.notifier.take() else { return try await frames.next() }
        let logger = connection.context.logger
        let subscription: IMAPChangeWatcher.Subscription
        do {
            subscription = try await self.watcher.watch(.account(notifier.account))
        } catch {
            // Told at the next wait that can watch: the changes are read from the store, not kept.
            logger.warning("cannot watch for NOTIFY", metadata: ["error": "\(error)"])
            state.notifier = notifier
            return try await frames.next()
        }
        defer { subscription.cancel() }
        let store = self.store
        let outbound = connection.outbound
        let encoder = Self.encoder(state)
        let condstore = state.condstore
        let newMessages = NewMessageFetch(
            items: notifier.request.newMessageItems, utf8: state.utf8 || state.rev2, streamedMessageBytes: self.streamedMessageBytes)
        let start = state.selected.take()
        let (session, saved) = (self, state.savedSearch)
        let teller = Task { () -> (IMAPSelection?, IMAPNotifier) in
            var selection = start
            var notifier = notifier
            var notifications = subscription.changes.makeAsyncIterator()
            // A first look at once: what changed while the last command ran is told now.
            repeat {
                var output = ByteBuffer()
                do {
                    if var current = selection.take() {
                        defer { selection = current }
                        if !notifier.request.selectedEvents.isEmpty {
                            let largest = current.largestUID
                            let lines = try await Self.synchronise(
                                &current, store: store, expungesAllowed: !notifier.request.delayedExpunges)
                            for line in lines { encoder.write(line, into: &output) }
                            try await newMessages.write(after: largest, in: current, store: store, into: &output)
                            if !current.updatingSearches.isEmpty {
                                for line in try await session.updates(of: &current, saved: saved) { encoder.write(line, into: &output) }
                            }
                            if let closingReply = current.closingReply {
                                encoder.write(closingReply, into: &output)
                                try? await outbound.write(.sendAndClose(output))
                                return (selection, notifier)
                            }
                        }
                    }
                    for line in try await notifier.changes(store: store, selected: selection?.mailbox.id, condstore: condstore) {
                        encoder.write(line, into: &output)
                    }
                } catch {
                    // What could not be read is read again at the next change or command.
                    logger.warning("cannot read what changed for NOTIFY", metadata: ["error": "\(error)"])
                }
                if output.readableBytes > 0 { try? await outbound.write(.send(output)) }
            } while await notifications.next() != nil
            return (selection, notifier)
        }
        let frame = try await frames.next()
        subscription.cancel()
        (state.selected, state.notifier) = await teller.value
        return frame
    }

    /// The FETCH items a client asked to be sent with each new message of the selected mailbox
    /// (`MessageNew (items)`, RFC 5465 §5.1), as a UID FETCH of them would answer, without setting \Seen.
    struct NewMessageFetch: Sendable {
        let items: [IMAPFetchAttribute]
        let utf8: Bool
        let streamedMessageBytes: Int64

        func write(after largest: UInt32, in selection: IMAPSelection, store: MailStore, into output: inout ByteBuffer) async throws {
            guard !self.items.isEmpty, selection.largestUID > largest else { return }
            let response = IMAPFetchResponse(self.items, byUID: true, utf8: self.utf8)
            let listed = try await IMAPSession.messagesWithContent(
                in: selection.mailbox.id, uids: (largest + 1)...selection.largestUID, content: response.content,
                largest: self.streamedMessageBytes, store: store)
            for (message, content) in listed {
                // A message too large to hold is left for the client to fetch (it has its EXISTS).
                guard let number = selection.sequenceNumber(of: message.uid), response.content != .whole || content != nil else { continue }
                _ = response.write(
                    number: number, message: message, content: content, flags: selection.shown(message.flags, of: message.uid),
                    announceFlags: false, into: &output)
            }
        }
    }
}
