import Foundation
import Testing
import TetherTesting

/// Producer and subscriber tokens on the running relay.
@Suite("Access tokens")
struct AccessTokenTests {
    static let producer = "producer-token-0123456789"
    static let subscriber = "subscriber-token-0123456789"
    static let environment = ["TETHER_AUTH_PRODUCER_TOKENS": producer, "TETHER_AUTH_SUBSCRIBER_TOKENS": subscriber]

    static func code(_ body: Data) throws -> String? {
        ((try HTTP.json(body) as? [String: Any])?["error"] as? [String: Any])?["code"] as? String
    }

    @Test func publishingNeedsTheProducerToken() async throws {
        let relay = try await RelayProcess.start(environment: Self.environment)
        let body = Data(#"{"topic":"t","data":1}"#.utf8)
        let none = try await relay.http("POST", "/v1/events", body: body, headers: ["Content-Type": "application/json"])
        let noneCode = try Self.code(none.body)
        #expect(none.status == 401 && noneCode == "unauthorized")
        let subscriberToken = try await relay.http("POST", "/v1/events", body: body, headers: ["Content-Type": "application/json", "Authorization": "Bearer \(Self.subscriber)"])
        let wrongCode = try Self.code(subscriberToken.body)
        #expect(subscriberToken.status == 403 && wrongCode == "forbidden")
        let good = try await relay.http("POST", "/v1/events", body: body, headers: ["Content-Type": "application/json", "Authorization": "Bearer \(Self.producer)"])
        #expect(good.status == 202)
        // Nothing a refused request sent was stored.
        let read = try await relay.http("GET", "/v1/events?after=0", headers: ["Authorization": "Bearer \(Self.subscriber)"])
        #expect(((try HTTP.json(read.body) as? [String: Any])?["events"] as? [Any])?.count == 1)
        await relay.terminate()
    }

    @Test func readingAndStreamingNeedTheSubscriberToken() async throws {
        let relay = try await RelayProcess.start(environment: Self.environment)
        #expect(try await relay.http("GET", "/v1/events?after=0").status == 401)
        #expect(try await relay.http("GET", "/v1/stats").status == 401)
        #expect(try await relay.http("GET", "/v1/stream").status == 401)
        #expect(try await relay.http("GET", "/v1/stream?token=wrong-wrong-wrong-wrong").status == 403)
        let stream = try StreamingProcess("curl", ["-sN", "--max-time", "30", "\(relay.baseURL)/v1/stream?token=\(Self.subscriber)"])
        #expect(await stream.waitUntil { $0.contains("event: tether.welcome") })
        await stream.stop()
        #expect(try await relay.http("GET", "/v1/stats", headers: ["Authorization": "Bearer \(Self.subscriber)"]).status == 200)
        // Liveness, readiness and metrics stay open for probes and scrapers.
        #expect(try await relay.http("GET", "/healthz").status == 200)
        #expect(try await relay.http("GET", "/readyz").status == 200)
        #expect(try await relay.http("GET", "/metrics").status == 200)
        await relay.terminate()
    }

    @Test func listeningBeyondLoopbackWithoutTokensIsRefused() async throws {
        let result = try await Command.run(RelayProcess.binary.path, ["serve", "--listen", "0.0.0.0:0"], environment: ProcessInfo.processInfo.environment.merging(["TETHER_AUTH_PRODUCER_TOKENS": ""]) { $1 })
        #expect(result.status == 2)
        #expect(result.output.contains("beyond loopback"), "\(result.output)")
        #expect(result.output.contains("--insecure"))
    }
}
