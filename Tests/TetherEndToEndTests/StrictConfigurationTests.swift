import Foundation
import Testing
import TetherTesting

/// What an operator sees from the real binary: unknown keys stop start-up, `tether config`
/// checks and shows, the start-up log states the settings in force, bind failures say where and why.
@Suite("Strict configuration of the real binary")
struct StrictConfigurationTests {
    static func file(_ text: String, extension ext: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tether-\(UUID().uuidString).\(ext)")
        try Data(text.utf8).write(to: url)
        return url
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> Command.Result {
        try await Command.run(
            RelayProcess.binary.path, arguments,
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TETHER_") }.merging(environment) { $1 }
        )
    }

    @Test func aTypoInTheConfigFileStopsStartUpWithASuggestion() async throws {
        let config = try Self.file("{\"retention\": {\"tll\": 600}, \"lag-cap\": 2000}", extension: "json")
        let result = try await Self.run(["serve", "--listen", "127.0.0.1:0", "--store", "memory", "--config", config.path])
        #expect(result.status == 2)
        #expect(result.output.contains("unknown key \"retention.tll\" in \(config.path):1; did you mean \"retention.ttl\"?"), "\(result.output)")
        #expect(result.output.split(separator: "\n").count == 1, "\(result.output)")
    }

    @Test func keysStartingWithAnUnderscoreAreCommentsButTyposBesideThemAreStillRefused() async throws {
        let commented = try Self.file(
            "{\"_comment\": [\"why\", \"and how\"], \"retention\": {\"_note\": \"seconds\", \"ttl\": 600}, \"lag-cap\": 2000}", extension: "json"
        )
        let accepted = try await Self.run(["config", "check", "--config", commented.path])
        #expect(accepted.status == 0, "\(accepted.output)")
        let typo = try Self.file("{\"_comment\": \"why\", \"lagcap\": 2000}", extension: "json")
        let refused = try await Self.run(["config", "check", "--config", typo.path])
        #expect(refused.status == 2)
        #expect(refused.output.contains("unknown key \"lagcap\""), "\(refused.output)")
        #expect(!refused.output.contains("_comment"), "\(refused.output)")
    }

    @Test func aTypoInATetherVariableStopsStartUpWithASuggestion() async throws {
        let result = try await Self.run(["serve", "--listen", "127.0.0.1:0", "--store", "memory"], environment: ["TETHER_RETENTON_TTL": "5"])
        #expect(result.status == 2)
        #expect(result.output.contains("unknown environment variable TETHER_RETENTON_TTL; did you mean TETHER_RETENTION_TTL?"), "\(result.output)")
    }

    @Test func configCheckExitsZeroForAGoodFileAndTwoForABadOne() async throws {
        let good = try Self.file("store: memory\nretention:\n  ttl: 600\nlag-cap: 2000\n", extension: "yaml")
        let ok = try await Self.run(["config", "check", "--config", good.path])
        #expect(ok.status == 0, "\(ok.output)")
        #expect(ok.output.contains("retention.ttl=600s") && ok.output.contains("lag-cap=2000") && ok.output.contains("store=memory"), "\(ok.output)")
        let bad = try Self.file("store: memory\nwindow: 0\n", extension: "yaml")
        let refused = try await Self.run(["config", "check", "--config", bad.path])
        #expect(refused.status == 2)
        #expect(refused.output.contains("window \"0\" (from \(bad.path):2) is not a whole number from 1 to 65536"), "\(refused.output)")
        let unknownStore = try await Self.run(["config", "check"], environment: ["TETHER_STORE": "nonesuch"])
        #expect(unknownStore.status == 2 && unknownStore.output.contains("unknown store plugin \"nonesuch\""), "\(unknownStore.output)")
    }

    @Test func configShowGivesEachValueAndItsSource() async throws {
        let config = try Self.file("{\n  \"lag-cap\": 2000\n}\n", extension: "json")
        let result = try await Self.run(["config", "show", "--config", config.path], environment: ["TETHER_WINDOW": "64", "TETHER_AUTH_PRODUCER_TOKENS": "0123456789abcdef0123"])
        #expect(result.status == 0, "\(result.output)")
        let rows = result.output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows.contains(["lag-cap", "2000", "\(config.path):2"]), "\(result.output)")
        #expect(rows.contains(["window", "64", "TETHER_WINDOW"]))
        #expect(rows.contains(["retention.ttl", "300", "default"]))
        #expect(!result.output.contains("0123456789abcdef0123"), "a token was shown")
    }

    @Test func theStartUpLogStatesTheSettingsInForceInOneLine() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"], environment: ["TETHER_LAG_CAP": "1234", "TETHER_TRANSPORTS": "websocket,sse"])
        let line = try #require(relay.log.split(separator: "\n").first { $0.contains("configuration: store=memory") }, "\(relay.log)")
        for part in ["transports=websocket,sse", "retention.ttl=300s", "lag-cap=1234", "max-event-bytes=1048576", "max-connections=10000"] {
            #expect(line.contains(part), "\(part) missing from: \(line)")
        }
        await relay.terminate()
    }

    @Test func aPortInUseNamesTheAddressAndExitsOne() async throws {
        let first = try await RelayProcess.start(arguments: ["--store", "memory"])
        let result = try await Self.run(["serve", "--store", "memory", "--listen", "127.0.0.1:\(first.port)"])
        #expect(result.status == 1)
        #expect(result.output.contains("cannot listen on 127.0.0.1:\(first.port): the address is already in use"), "\(result.output)")
        #expect(!result.output.contains("errno: 98"))
        await first.terminate()
    }

    @Test func anAddressThisMachineDoesNotHaveIsAConfigurationError() async throws {
        // 192.0.2.1 is TEST-NET-1 (RFC 5737): no interface has it; binding sends no packet.
        let result = try await Self.run(["serve", "--store", "memory", "--insecure", "--listen", "192.0.2.1:0"])
        #expect(result.status == 2)
        #expect(result.output.contains("cannot listen on 192.0.2.1:0: no network interface of this machine has the address 192.0.2.1"), "\(result.output)")
    }

    @Test func serveHelpListsEveryPluginKey() async throws {
        let result = try await Self.run(["serve", "--help"])
        for key in ["transport.websocket.ping-interval", "transport.sse.heartbeat-interval", "transport.socketio.max-payload", "store.postgres.url", "store.sqlite.synchronous", "retention.ttl"] {
            #expect(result.output.contains(key), "\(key) missing from serve --help")
        }
    }
}
