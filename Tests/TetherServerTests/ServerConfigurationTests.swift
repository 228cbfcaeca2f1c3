import Configuration
import Foundation
import Testing
import TetherCore
@testable import TetherServer

@Suite struct ServerConfigurationTests {
    static func make(_ values: [AbsoluteConfigKey: ConfigValue], environment: [String: String] = [:]) throws(ConfigurationError) -> ServerConfiguration {
        try ServerConfiguration(reader: ConfigReader(provider: InMemoryProvider(values: values)), environment: environment)
    }

    static let token = "0123456789abcdef0123"

    @Test func defaultsAreLoopbackAndOpen() throws {
        let configuration = try Self.make([:])
        #expect(configuration.host == "127.0.0.1" && configuration.port == 8765)
        #expect(configuration.relay.access.isOpen(.produce) && configuration.relay.access.isOpen(.subscribe))
        #expect(configuration.relay.lagCap == 1000 && configuration.relay.window == 256)
        #expect(configuration.relay.retention.ttl == 300)
    }

    @Test func beyondLoopbackWithoutTokensIsRefused() {
        #expect(throws: ConfigurationError.self) { try Self.make(["listen": "0.0.0.0:8765"]) }
        #expect(throws: ConfigurationError.self) {
            try Self.make(["listen": "0.0.0.0:8765", "auth.producer-tokens": .init(stringLiteral: Self.token)])
        }
    }

    @Test func beyondLoopbackWithTokensForBothScopesOrInsecureIsAllowed() throws {
        let guarded = try Self.make([
            "listen": "0.0.0.0:8765", "auth.producer-tokens": .init(stringLiteral: Self.token),
            "auth.subscriber-tokens": .init(stringLiteral: Self.token + "x"),
        ])
        #expect(!guarded.relay.access.isOpen(.produce) && !guarded.relay.access.isOpen(.subscribe))
        let insecure = try Self.make(["listen": "[::]:8765", "insecure": "true"])
        #expect(insecure.host == "::" && insecure.insecure)
    }

    @Test func tokensComeFromSystemdCredentialsToo() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("creds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("# tokens for the deploy bot\n\(Self.token)\n\n  second-token-0123456789  \n".utf8).write(to: directory.appendingPathComponent("producer-tokens"))
        let configuration = try Self.make([:], environment: ["CREDENTIALS_DIRECTORY": directory.path])
        #expect(throws: Never.self) { try configuration.relay.access.check("second-token-0123456789", for: .produce) }
        #expect(throws: RelayError.self) { try configuration.relay.access.check("nope-nope-nope-nope", for: .produce) }
        #expect(configuration.relay.access.isOpen(.subscribe))
    }

    @Test(arguments: [
        ("auth.producer-tokens", "short"), ("listen", "127.0.0.1:99999"), ("window", "0"), ("insecure", "maybe"),
        ("log.level", "loud"), ("retention.max-bytes", "12"),
    ])
    func badValuesNameTheirKey(key: String, value: String) {
        do {
            _ = try Self.make([AbsoluteConfigKey(ConfigKey(key)): .init(stringLiteral: value)])
            Issue.record("\(key)=\(value) was accepted")
        } catch {
            #expect(error.message.contains(key), "message: \(error.message)")
        }
    }

    @Test func stateDirectoryFallsBackToSystemd() throws {
        #expect(try Self.make([:], environment: ["STATE_DIRECTORY": "/var/lib/tether"]).stateDirectory == "/var/lib/tether")
        #expect(try Self.make(["state-dir": "/srv/t"], environment: ["STATE_DIRECTORY": "/var/lib/tether"]).stateDirectory == "/srv/t")
        #expect(try Self.make([:]).stateDirectory == "./tether-data")
    }
}

@Suite struct AccessPolicyTests {
    @Test func missingAndWrongTokensAreToldApart() {
        let policy = AccessPolicy(producerTokens: ["a-long-enough-token-1"], subscriberTokens: [])
        let missing = #expect(throws: RelayError.self) { try policy.check(nil, for: .produce) }
        #expect(missing?.code == .unauthorized)
        let wrong = #expect(throws: RelayError.self) { try policy.check("guess", for: .produce) }
        #expect(wrong?.code == .forbidden)
        #expect(throws: Never.self) { try policy.check("a-long-enough-token-1", for: .produce) }
        #expect(throws: Never.self) { try policy.check(nil, for: .subscribe) }
    }
}
