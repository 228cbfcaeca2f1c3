import Foundation
import Testing
import TetherCore
import TetherRouting
@testable import TetherServer

/// The layered configuration: declared keys only, values checked against their declaration, and
/// errors that name the key, the value, its source and what is allowed.
@Suite struct ConfigLayersTests {
    static let declared = PluginRegistry<TetherRouter>.builtins.allKeys

    static func file(_ text: String, extension ext: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tether-config-\(UUID().uuidString).\(ext)")
        try Data(text.utf8).write(to: url)
        return url.path
    }

    static func load(flags: [ConfigLayers.Flag] = [], environment: [String: String] = [:], file: String? = nil) async throws(ConfigurationError) -> ConfigLayers {
        try await ConfigLayers.load(flags: flags, environment: environment, configPath: file, declared: declared)
    }

    static func message(_ body: () async throws -> Void) async -> String {
        do {
            try await body()
            return "accepted"
        } catch let error as ConfigurationError {
            return error.message
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func unknownFileKeysAreRefusedWithTheirLineAndASuggestion() async throws {
        let path = try Self.file("{\n  \"retention\": {\"tll\": 600},\n  \"lagcap\": 2000\n}\n", extension: "json")
        let message = await Self.message { _ = try await Self.load(file: path) }
        #expect(message.contains("unknown key \"retention.tll\" in \(path):2; did you mean \"retention.ttl\"?"), "\(message)")
        #expect(message.contains("unknown key \"lagcap\" in \(path):3; did you mean \"lag-cap\"?"), "\(message)")
    }

    @Test func unknownEnvironmentVariablesAreRefusedWithASuggestion() async {
        let message = await Self.message { _ = try await Self.load(environment: ["TETHER_RETENTON_TTL": "5", "PATH": "/bin"]) }
        #expect(message == "unknown environment variable TETHER_RETENTON_TTL; did you mean TETHER_RETENTION_TTL? (`tether serve --help` lists every key)", "\(message)")
        // Variables tether reads that are not keys are known too.
        #expect(await Self.message { _ = try await Self.load(environment: ["TETHER_URL": "ws://x", "TETHER_CONFIG": "/dev/null/none"]) } == "accepted")
    }

    @Test func pluginKeysAreDeclaredAndCheckedEvenWhenThePluginIsNotSelected() async {
        // SSE clamped a heartbeat under 1 s to 1 s before; now it is refused, naming the source.
        let message = await Self.message { _ = try await Self.load(environment: ["TETHER_TRANSPORT_SSE_HEARTBEAT_INTERVAL": "0.5"]) }
        #expect(message == "transport.sse.heartbeat-interval \"0.5\" (from TETHER_TRANSPORT_SSE_HEARTBEAT_INTERVAL) is not a number from 1 to 3600", "\(message)")
        let pool = await Self.message { _ = try await Self.load(environment: ["TETHER_STORE_POSTGRES_POOL_SIZE": "0"]) }
        #expect(pool.contains("store.postgres.pool-size \"0\" (from TETHER_STORE_POSTGRES_POOL_SIZE) is not a whole number from 1 to 1000"), "\(pool)")
        let sync = await Self.message { _ = try await Self.load(flags: [], environment: ["TETHER_STORE_SQLITE_SYNCHRONOUS": "off"]) }
        #expect(sync.contains("is not full or normal"), "\(sync)")
    }

    @Test func yamlFilesAreReadAndBadValuesNameTheirLine() async throws {
        let good = try Self.file("retention:\n  ttl: 600\nlag-cap: 2000\ntransports: [websocket, sse]\ntransport:\n  sse:\n    retry-ms: 500\n", extension: "yaml")
        let layers = try await Self.load(file: good)
        let configuration = try ServerConfiguration(settings: layers.settings, environment: [:])
        #expect(configuration.relay.retention.ttl == 600 && configuration.relay.lagCap == 2000)
        #expect(configuration.transportNames == ["websocket", "sse"])
        #expect(layers.settings.origins.origin(of: "lag-cap") == "\(good):3")
        let bad = try Self.file("# relay\nretention:\n  ttl: soon\n", extension: "yml")
        let message = await Self.message { _ = try await Self.load(file: bad) }
        #expect(message == "retention.ttl \"soon\" (from \(bad):3) is not a number from 1 to 31536000", "\(message)")
    }

    @Test func syntaxErrorsGiveTheLineNotAFoundationDump() async throws {
        let json = try Self.file("{\n  \"lag-cap\": 2000,\n  \"window\": \n}\n", extension: "json")
        let jsonMessage = await Self.message { _ = try await Self.load(file: json) }
        #expect(jsonMessage.hasPrefix("config file \(json) is not valid JSON: line 4"), "\(jsonMessage)")
        #expect(!jsonMessage.contains("NSCocoaErrorDomain"))
        let yaml = try Self.file("retention:\n  ttl: 600\n lag-cap: [1\n", extension: "yaml")
        let yamlMessage = await Self.message { _ = try await Self.load(file: yaml) }
        #expect(yamlMessage.hasPrefix("config file \(yaml) is not valid YAML: line 3"), "\(yamlMessage)")
        let missing = await Self.message { _ = try await Self.load(file: "/nonexistent/tether.yaml") }
        #expect(missing == "config file /nonexistent/tether.yaml could not be read: no such file")
    }

    @Test func flagsBeatEnvironmentWhichBeatsTheFile() async throws {
        let path = try Self.file(#"{"lag-cap": 10, "window": 20, "listen": "127.0.0.1:1"}"#, extension: "json")
        let layers = try await Self.load(
            flags: [.init("listen", "127.0.0.1:3", flag: "--listen")], environment: ["TETHER_WINDOW": "30", "TETHER_LISTEN": "127.0.0.1:2"], file: path
        )
        let configuration = try ServerConfiguration(settings: layers.settings, environment: [:])
        #expect(configuration.relay.lagCap == 10 && configuration.relay.window == 30 && configuration.port == 3)
        let shown = Dictionary(uniqueKeysWithValues: layers.effectiveValues().map { ($0.spec.key, ($0.value, $0.source)) })
        #expect(shown["listen"]?.1 == "--listen" && shown["window"]?.1 == "TETHER_WINDOW" && shown["lag-cap"]?.1 == "\(path):1")
        #expect(shown["retention.ttl"]?.1 == "default" && shown["retention.ttl"]?.0 == "300")
    }

    @Test func configShowMasksSecrets() async throws {
        let layers = try await Self.load(environment: [
            "TETHER_AUTH_PRODUCER_TOKENS": "0123456789abcdef0123,fedcba9876543210fedc",
            "TETHER_STORE_POSTGRES_URL": "postgres://tether:hunter2hunter2@db.example:5432/tether",
        ])
        let shown = Dictionary(uniqueKeysWithValues: layers.effectiveValues().map { ($0.spec.key, $0.value) })
        #expect(shown["auth.producer-tokens"] == "(2 secrets, masked)")
        #expect(shown["store.postgres.url"] == "postgres://tether:****@db.example:5432/tether")
        #expect(!shown.values.contains { $0.contains("hunter2") || $0.contains("0123456789abcdef") })
    }

    @Test func everyKeyIsDeclaredOnceAndDocumentedInConfigurationMD() throws {
        let names = Self.declared.map(\.key)
        #expect(Set(names).count == names.count, "a key is declared twice")
        for key in ["transport.websocket.ping-interval", "transport.sse.retry-ms", "transport.socketio.history", "store.postgres.url", "store.sqlite.trim-chunk"] {
            #expect(names.contains(key), "\(key) is not declared")
        }
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/CONFIGURATION.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let begin = try #require(text.range(of: "<!-- keys:begin -->\n"))
        let end = try #require(text.range(of: "<!-- keys:end -->"))
        let table = String(text[begin.upperBound..<end.lowerBound])
        #expect(table == ConfigReference.markdown(Self.declared), "docs/CONFIGURATION.md differs from the declarations; regenerate its table with `tether config reference`")
    }

    @Test func suggestionsAreCloseOrAbsent() {
        #expect(ConfigKeyCheck.suggestion(for: "retention.tll", among: Self.declared.map(\.key)) == "retention.ttl")
        #expect(ConfigKeyCheck.suggestion(for: "completely-unrelated", among: Self.declared.map(\.key)) == nil)
    }
}
