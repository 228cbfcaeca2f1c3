public import TetherCore

extension Session {
    /// ``Session/next(into:)`` bounded in time, for tests: appends what arrives to `buffer` and
    /// returns the interruption, or throws ``DeadlineExceeded`` when nothing arrived within
    /// `seconds`, so a subscriber that was never woken fails its test instead of hanging the run.
    public func next(into buffer: inout [Event], within seconds: Double) async throws -> Interruption? {
        let (interruption, events) = try await withDeadline(seconds, "waiting for events for client \(clientID)") {
            var arrived: [Event] = []
            let interruption = try await self.next(into: &arrived)
            return (interruption, arrived)
        }
        buffer += events
        return interruption
    }
}
