import Foundation
import Testing
import TetherTesting

/// Who gets a Socket.IO session on a relay with subscriber tokens, and what a refused or
/// abandoned one costs: tokenless handshakes wait in their own small pool and cannot take the
/// slots of token holders; a refused handshake allocates nothing; binary packets are refused
/// before anything is kept for them. Real relay, python-socketio where a stock client matters.
@Suite("Socket.IO admission", .serialized)
struct SocketIOAdmissionTests {
    static let token = "sub-secret-0123456789"
    static let tokens = ["TETHER_AUTH_SUBSCRIBER_TOKENS": token]

    static func connect(_ relay: RelayProcess, _ transport: String, header: String? = nil, auth: String? = nil) async throws -> [String: Any] {
        try await SocketIOEndToEndTests.runClient("token_connect.py", [relay.baseURL, transport, header ?? "-", auth ?? "-"])
    }

    static func errorCode(_ summary: [String: Any]) -> String? {
        ((summary["connect_error"] as? [String: Any])?["data"] as? [String: Any])?["code"] as? String
    }

    /// Waits until `series` reads `value` (at most `timeout` seconds); returns the last reading.
    static func awaitMetric(_ relay: RelayProcess, _ series: String, _ value: Double, timeout: Double = 30) async throws -> Double? {
        let deadline = Date().addingTimeInterval(timeout)
        var reading = try await relay.metric(series)
        while reading != value, Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
            reading = try await relay.metric(series)
        }
        return reading
    }

    @Test(arguments: ["polling", "websocket"])
    func aBearerHeaderOnTheHandshakeAuthenticatesAStockClient(transport: String) async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"], environment: Self.tokens)
        let header = try await Self.connect(relay, transport, header: Self.token)
        #expect(header["connected"] as? Bool == true && header["established"] as? Bool == true, "\(header)")
        let payload = try await Self.connect(relay, transport, auth: Self.token)
        #expect(payload["connected"] as? Bool == true && payload["established"] as? Bool == true, "\(payload)")
        // A wrong header is refused at the handshake, before a session exists.
        let wrong = try await Self.connect(relay, transport, header: "not-the-token")
        #expect(wrong["connected"] as? Bool == false && Self.errorCode(wrong) == "forbidden", "\(wrong)")
        // No token at all: the advice in the refusal is what works.
        let none = try await Self.connect(relay, transport)
        #expect(none["connected"] as? Bool == false && Self.errorCode(none) == "unauthorized", "\(none)")
        let message = (none["connect_error"] as? [String: Any])?["message"] as? String ?? ""
        #expect(message.contains("Authorization: Bearer"), "\(message)")
        #expect(try await Self.awaitMetric(relay, #"tether_connection_slots{pool="pending"}"#, 0) == 0)
        #expect(await relay.terminate() == 0)
    }

    @Test func tokenlessHandshakesCannotTakeTheSlotsOfTokenHolders() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"], environment: Self.tokens.merging([
            "TETHER_LIMITS_MAX_CONNECTIONS": "4",
            "TETHER_LIMITS_MAX_PENDING_CONNECTIONS": "40",
            "TETHER_LIMITS_MAX_PENDING_CONNECTIONS_PER_ADDRESS": "40",
            "TETHER_LIMITS_PENDING_TIMEOUT": "3",
        ]) { $1 })
        let engine = EngineIOPolling(relay)
        // 40 handshakes without a token, never followed by CONNECT: the pending pool is full...
        for _ in 0..<40 {
            #expect(try await engine.handshake().sid != nil)
        }
        #expect(try await relay.metric(#"tether_connection_slots{pool="pending"}"#) == 40)
        let past = try await engine.handshake()
        #expect(past.status == 503 && past.sid == nil, "\(past)")
        #expect(past.body.contains(#""code":"server_busy""#) && past.body.contains("limits.max-pending-connections"), "\(past.body)")
        // ...but the main pool is untouched: clients with the token in the handshake get in.
        #expect(try await relay.metric(#"tether_connection_slots{pool="authenticated"}"#) == 0)
        for transport in ["polling", "websocket"] {
            let holder = try await Self.connect(relay, transport, header: Self.token)
            #expect(holder["connected"] as? Bool == true && holder["established"] as? Bool == true, "\(transport): \(holder)")
        }
        // The abandoned sessions expire at the pending timeout and give their slots back; then
        // a client with the token in its CONNECT gets in too.
        #expect(try await Self.awaitMetric(relay, #"tether_connection_slots{pool="pending"}"#, 0) == 0)
        let late = try await Self.connect(relay, "polling", auth: Self.token)
        #expect(late["connected"] as? Bool == true, "\(late)")
        #expect(try await Self.awaitMetric(relay, #"tether_connection_slots{pool="authenticated"}"#, 0) == 0)
        #expect(await relay.terminate() == 0)
    }

    /// 20,000 handshakes, nearly all refused and the rest abandoned, leave resident memory where
    /// it was and every slot free (the seed's 20,000 cost 167 MB, never released).
    @Test(arguments: [true, false])
    func twentyThousandRefusedOrAbandonedHandshakesLeaveMemoryWhereItWas(withTokens: Bool) async throws {
        var environment = ["TETHER_LIMITS_PENDING_TIMEOUT": "1"]
        if withTokens { environment.merge(Self.tokens) { $1 } } else { environment["TETHER_LIMITS_MAX_CONNECTIONS"] = "64" }
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"], environment: environment)
        let engine = EngineIOPolling(relay)
        _ = try await engine.flood(count: 2_000)  // warm up allocator and caches
        _ = try await Self.awaitMetric(relay, #"tether_connection_slots{pool="pending"}"#, 0)
        _ = try await Self.awaitMetric(relay, #"tether_connection_slots{pool="authenticated"}"#, 0)
        let before = try #require(relay.residentBytes)
        let started = ContinuousClock.now
        let statuses = try await engine.flood(count: 20_000)
        let seconds = Int((ContinuousClock.now - started).components.seconds)
        #expect(statuses.values.reduce(0, +) == 20_000, "\(statuses)")
        // Sessions that get in are abandoned and expire each pending timeout (1 s), freeing their
        // slots (8 per address pending with tokens, 64 in all without): on a loaded machine a
        // slower flood admits more, never more than the slots free over its duration.
        let slots = withTokens ? 8 : 64
        let admitted = 20_000 - statuses[withTokens ? 429 : 503, default: 0]
        #expect(admitted <= slots * (seconds + 3), "\(admitted) admitted in \(seconds) s: \(statuses)")
        #expect(try await Self.awaitMetric(relay, #"tether_connection_slots{pool="pending"}"#, 0) == 0)
        #expect(try await Self.awaitMetric(relay, #"tether_connection_slots{pool="authenticated"}"#, 0) == 0)
        let after = try #require(relay.residentBytes)
        #expect(after - before < 24 << 20, "RSS went from \(before >> 20) MB to \(after >> 20) MB")
        #expect(await relay.terminate() == 0)
    }

    /// A binary packet announcing 999,999 attachments, followed by most of a payload of binary
    /// data, before and after CONNECT, with and without tokens: refused with a reason, its
    /// session closed, nothing kept.
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func binaryAttachmentsAreRefusedBeforeAnythingIsKept(withTokens: Bool, afterConnect: Bool) async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"], environment: withTokens ? Self.tokens : [:])
        let engine = EngineIOPolling(relay)
        let blob = Data(repeating: 0xAB, count: 600_000).base64EncodedString()
        let attack = #"45999999-["x",{"_placeholder":true,"num":0}]"# + "\u{1e}b" + blob
        func round() async throws {
            let sid = try #require(try await engine.handshake().sid)
            if afterConnect {
                #expect(try await engine.post(sid, #"40{"token":"\#(Self.token)"}"#) == 200)
                #expect(try await engine.poll(sid, until: "connection_established").received.contains("connection_established"))
            }
            #expect(try await engine.post(sid, attack) == 200)
            let (status, received) = try await engine.poll(sid, until: "binary_not_supported")
            #expect(received.contains(#"44{"message":"binary packets"#) && received.contains(#""code":"binary_not_supported""#), "\(status) \(received.prefix(400))")
            #expect(try await engine.poll(sid).status == 400, "the session outlived its refusal")
        }
        for _ in 0..<5 { try await round() }
        _ = try await Self.awaitMetric(relay, #"tether_connection_slots{pool="authenticated"}"#, 0)
        let before = try #require(relay.residentBytes)
        for _ in 0..<60 { try await round() }
        #expect(try await Self.awaitMetric(relay, #"tether_connection_slots{pool="pending"}"#, 0) == 0)
        #expect(try await Self.awaitMetric(relay, #"tether_connection_slots{pool="authenticated"}"#, 0) == 0)
        let after = try #require(relay.residentBytes)
        #expect(after - before < 24 << 20, "RSS went from \(before >> 20) MB to \(after >> 20) MB")
        #expect(await relay.terminate() == 0)
    }
}
