import NIOCore
import TetherCore
import struct Foundation.Date

/// Publishes over the socket: decoded and authorized on the event loop as they arrive, answered
/// in arrival order. Every publish waiting when the previous batch finished goes to the relay as
/// one batch, so a producer that pipelines publishes is group-committed instead of paying a
/// store round trip each. At most ``maxQueuedPublishes`` wait; then reading pauses until there
/// is room.
extension WebSocketConnectionHandler {
    /// A publish as the reader decoded it, waiting for its batch.
    enum PublishItem: Sendable {
        case draft(EventDraft, id: String?)
        case refused(RelayError, id: String?)
    }

    func enqueuePublish(_ bytes: [UInt8], members: [(key: String, value: Range<Int>)], id: String?) {
        do throws(RelayError) {
            try relay.gate.authorize(peer.token, for: .produce)
            guard bytes.count <= decoder.limits.maxBodyBytes else {
                throw RelayError(.tooLarge, "the publish frame is \(bytes.count) bytes; the limit is \(decoder.limits.maxBodyBytes)")
            }
            backlog.append(.draft(try decoder.draft(bytes, members: members, now: Date()), id: id))
        } catch {
            backlog.append(.refused(error, id: id))
        }
        publishNext()
    }

    /// Starts a batch with everything queued, unless one is with the relay already. No task:
    /// the relay's publish queue calls back when the store has answered, and the replies hop
    /// back to this loop.
    private func publishNext() {
        guard !publishing, !backlog.isEmpty else { return }
        publishing = true
        let items = backlog
        backlog.removeAll(keepingCapacity: true)
        resumeReading()
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        PublishBatch.publish(items[...], relay: relay, address: peer.address) { replies in
            loop.execute {
                let handler = bound.value
                handler.publishing = false
                guard case .streaming = handler.phase else { return }
                for reply in replies { handler.send(reply, flush: false) }
                handler.context.flush()
                handler.publishNext()
            }
        }
    }
}

/// The part of publishing that waits for the relay.
enum PublishBatch {
    typealias PublishItem = WebSocketConnectionHandler.PublishItem

    /// Hands `items` to the relay, runs of drafts as one batch each, one after the other; calls
    /// `completion` with the replies in order (`soFar` first).
    static func publish(
        _ items: ArraySlice<PublishItem>, relay: Relay, address: String, soFar: [[UInt8]] = [],
        completion: @escaping @Sendable ([[UInt8]]) -> Void
    ) {
        var replies = soFar
        var index = items.startIndex
        while index < items.endIndex {
            if case .refused(let error, let id) = items[index] {
                relay.counters.countRefused(error.code)
                replies.append(RelayFrame.error(error, id: id))
                index += 1
                continue
            }
            var drafts: [EventDraft] = []
            var ids: [String?] = []
            while index < items.endIndex, case .draft(let draft, let id) = items[index] {
                drafts.append(draft)
                ids.append(id)
                index += 1
            }
            do {
                try relay.gate.admitPublish(events: drafts.count, address: address)
            } catch {
                replies.append(contentsOf: ids.map { RelayFrame.error(error.error, id: $0) })
                continue
            }
            let before = replies
            let rest = items[index...]
            relay.publish(drafts) { [ids] outcome in
                var replies = before
                switch outcome {
                case .success(let sequences):
                    replies.append(contentsOf: zip(ids, sequences).map { RelayFrame.published(id: $0, seq: $1) })
                case .failure(let error):
                    for id in ids {
                        relay.counters.countRefused(error.code)
                        replies.append(RelayFrame.error(error, id: id))
                    }
                }
                publish(rest, relay: relay, address: address, soFar: replies, completion: completion)
            }
            return
        }
        completion(replies)
    }
}
