import Configuration
import Testing
import TetherCore
@testable import TetherServer

/// The `Host` check against DNS rebinding, and the loopback test behind the listen-address rule:
/// both parse addresses rather than compare text prefixes.
@Suite struct HostPolicyTests {
    static let loopbackListen = try! HostPolicy([], listen: "127.0.0.1")

    @Test(arguments: [
        ("localhost", true), ("LOCALHOST", true), ("localhost.", true), ("localhost:8765", true), ("localhost.:1", true),
        ("127.0.0.1", true), ("127.0.0.1:8765", true), ("127.8.9.10", true), ("127.0.0.1.", true),
        ("[::1]", true), ("[::1]:8765", true), ("[0:0:0:0:0:0:0:1]", true), ("[::ffff:127.0.0.1]:80", true),
        ("rebind.attacker.example", false), ("rebind.attacker.example:8765", false), ("REBIND.ATTACKER.EXAMPLE.", false),
        ("127.0.0.1.attacker", false), ("127.attacker.invalid", false), ("127.1", false), ("localhost.attacker.example", false),
        ("[::2]", false), ("[::ffff:10.0.0.1]", false), ("10.0.0.1", false), ("0.0.0.0", false),
    ])
    func loopbackListenAnswersOnlyLoopbackNames(host: String, allowed: Bool) {
        let decision = Self.loopbackListen.decide(host)
        #expect((decision == .allowed) == allowed, "\(host): \(decision)")
        if !allowed { #expect(decision == .refused(HostPolicy.host(host)!.name)) }
    }

    @Test(arguments: ["::1", "::1:8765", "[::1", "[::1]x", "[rebind.example]", "a b", "a/b", "a@b", "host:port", "host:99999", "", ":80", "."])
    func malformedHostsAre400(host: String) {
        #expect(Self.loopbackListen.decide(host) == .malformed, "\(host)")
    }

    @Test func missingHostIsItsOwnDecision() {
        #expect(Self.loopbackListen.decide(nil) == .missing)
    }

    @Test func theListenNameAndAllowedHostsAreAnswered() throws {
        let policy = try HostPolicy(["relay.example.com", "192.0.2.10", "[2001:db8::1]"], listen: "tether.internal")
        for host in ["tether.internal:8765", "TETHER.INTERNAL.", "relay.example.com", "relay.example.com.:443", "192.0.2.10:8765", "[2001:db8:0::1]", "localhost"] {
            #expect(policy.decide(host) == .allowed, "\(host)")
        }
        for host in ["other.example.com", "example.com", "sub.relay.example.com", "192.0.2.11", "[2001:db8::2]"] {
            #expect(policy.decide(host) != .allowed, "\(host)")
        }
    }

    @Test func aWildcardListenAnswersEveryAddressButNoOtherName() throws {
        for listen in ["0.0.0.0", "::"] {
            let policy = try HostPolicy([], listen: listen)
            #expect(policy.listensEverywhere)
            for host in ["192.0.2.10:8765", "[2001:db8::1]", "10.1.2.3", "localhost", "127.0.0.1"] {
                #expect(policy.decide(host) == .allowed, "\(listen) \(host)")
            }
            #expect(policy.decide("relay.example.com") == .refused("relay.example.com"))
            #expect(policy.decide("0.0.0.0:8765") == .refused("0.0.0.0"))
            #expect(policy.decide("[::]") == .refused("::"))
            #expect(policy.decide("rebind.attacker.example:8765") == .refused("rebind.attacker.example"))
            #expect(policy.summary.contains("any IP address"))
        }
    }

    @Test func starAllowsAnyWellFormedHost() throws {
        let policy = try HostPolicy(["*"], listen: "127.0.0.1")
        #expect(policy.decide("rebind.attacker.example") == .allowed)
        #expect(policy.decide("a b") == .malformed)
    }

    @Test(arguments: ["https://relay.example.com", "relay.example.com:8765", "relay.example.com/app", "a b", ""])
    func anEntryThatIsNotAHostStopsStartUp(entry: String) {
        #expect(throws: ConfigurationError.self) { try HostPolicy([entry], listen: "127.0.0.1") }
    }

    @Test func allowedHostsIsReadFromConfiguration() throws {
        let configuration = try ServerConfiguration(
            reader: ConfigReader(provider: InMemoryProvider(values: ["allowed-hosts": "relay.example.com, 192.0.2.10", "limits.body-timeout": "5"])),
            environment: [:]
        )
        #expect(configuration.hosts.allowedNames == ["relay.example.com"])
        #expect(configuration.hosts.decide("192.0.2.10") == .allowed)
        #expect(configuration.bodyTimeout == 5)
    }

    @Test(arguments: [
        ("localhost", true), ("127.0.0.1", true), ("127.255.0.9", true), ("::1", true), ("0:0:0:0:0:0:0:1", true), ("::ffff:127.0.0.1", true),
        ("127.attacker.invalid", false), ("127.0.0.1.attacker", false), ("127.1", false), ("0.0.0.0", false), ("::", false),
        ("::ffff:10.0.0.1", false), ("10.0.0.1", false), ("example.com", false),
    ])
    func loopbackIsAParsedAddress(host: String, loopback: Bool) {
        #expect(ServerConfiguration.isLoopback(host) == loopback, "\(host)")
    }

    @Test func aListenNameThatLooksLikeLoopbackStillNeedsTokens() {
        #expect(throws: ConfigurationError.self) {
            try ServerConfiguration(reader: ConfigReader(provider: InMemoryProvider(values: ["listen": "127.attacker.invalid:8765"])), environment: [:])
        }
    }
}
