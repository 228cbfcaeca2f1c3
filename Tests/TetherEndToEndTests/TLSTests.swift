import Foundation
import NIOSSL
import Testing
import TetherClient
import TetherTesting

/// `tether serve --tls-cert/--tls-key` with a real self-signed certificate: real HTTPS (curl) and
/// WSS (`TetherClient`) clients that trust it get through; plain HTTP to the TLS port and bad
/// certificate files get clear answers.
@Suite("TLS")
struct TLSTests {
    @Test func clientsThatTrustTheCertificatePublishAndSubscribeOverTLS() async throws {
        let certificate = try await TestCertificate.make()
        let relay = try await RelayProcess.start(arguments: ["--store", "memory", "--tls-cert", certificate.certificatePath, "--tls-key", certificate.keyPath])
        #expect(relay.log.contains("listening on https://127.0.0.1:\(relay.port)"), "\(relay.log)")
        let curl = try #require(ExternalTool.find("curl"))
        let base = "https://127.0.0.1:\(relay.port)"

        // A WSS subscriber that trusts the test CA.
        // An IP address cannot be checked against the certificate by NIOSSL: the client says so.
        #expect(throws: TetherClientError.self) { try TetherClient(configuration: TetherClientConfiguration(url: "wss://127.0.0.1:\(relay.port)/v1/ws")) }
        var configuration = TetherClientConfiguration(url: "wss://localhost:\(relay.port)/v1/ws")
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(certificate.certificatePath)
        configuration.tls = tls
        configuration.autoAck = true
        let client = try TetherClient(configuration: configuration)
        let runner = Task { await client.run() }
        let consumer = Task { () -> [String] in
            var topics: [String] = []
            for await item in client.events {
                if case .event(let event) = item { topics.append(event.topic) }
                if topics.count == 2 { break }
            }
            return topics
        }
        let deadline = Date().addingTimeInterval(20)
        while await client.metrics.state != .connected, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let clientMetrics = await client.metrics
        #expect(clientMetrics.state == .connected, "\(clientMetrics); relay log:\n\(relay.log)")

        // curl publishes over HTTPS, verifying the certificate.
        let published = try await Command.run(curl, [
            "-sS", "--cacert", certificate.certificatePath, "-w", "\n%{http_code}", "-H", "Content-Type: application/json",
            "--data", #"[{"topic":"tls-a","data":1},{"topic":"tls-b","data":2}]"#, base + "/v1/events",
        ])
        #expect(published.output.hasSuffix("202"), "\(published.output)")
        #expect(await consumer.value == ["tls-a", "tls-b"])
        // An SSE stream over HTTPS (its chunks are written from the event loop, through TLS).
        let stream = try await Command.run(curl, ["-sSN", "--max-time", "3", "--cacert", certificate.certificatePath, base + "/v1/stream?history=2"])
        #expect(stream.output.contains("event: tls-a\n") && stream.output.contains("event: tls-b\n"), "\(stream.output)")
        await client.stop()
        await runner.value

        // A client that does not trust the certificate is refused by its own TLS check.
        let untrusted = try await Command.run(curl, ["-sS", base + "/healthz"])
        #expect(untrusted.status != 0)
        // Plain HTTP to the TLS port gets no HTTP answer, only a closed connection...
        let plain = try RawTCPConnection(port: relay.port)
        try await plain.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let answer = await plain.read(timeout: 10)
        #expect(answer.closed && !String(decoding: answer.bytes, as: UTF8.self).contains("HTTP/1.1"))
        plain.close()
        // ...and is counted, and logged as a warning once, not as an error per connection.
        let metrics = try await Command.run(curl, ["-sS", "--cacert", certificate.certificatePath, base + "/metrics"])
        let failed = metrics.output.split(separator: "\n").first { $0.hasPrefix(#"tether_refused_total{reason="handshake_failed"}"#) }
        #expect(failed.flatMap { Double($0.split(separator: " ").last ?? "") }.map { $0 >= 2 } == true, "\(metrics.output)")
        #expect(await relay.terminate() == 0)
        #expect(relay.log.components(separatedBy: "refused handshake_failed").count == 2, "\(relay.log)")
        #expect(!relay.log.contains(" error "), "\(relay.log)")
    }

    @Test(arguments: [
        (["--tls-cert", "CERT"], "tls.cert is set but tls.key is not"),
        (["--tls-key", "KEY"], "tls.key is set but tls.cert is not"),
        (["--tls-cert", "/nonexistent/cert.pem", "--tls-key", "KEY"], "tls.cert /nonexistent/cert.pem is not a readable file"),
        (["--tls-cert", "KEY", "--tls-key", "KEY"], "is not a PEM certificate chain"),
        (["--tls-cert", "CERT", "--tls-key", "OTHER"], "does not fit tls.cert"),
    ])
    func badCertificateFilesStopStartUpNamingTheFile(arguments: [String], message: String) async throws {
        let certificate = try await TestCertificate.make()
        let other = try await certificate.unrelatedKey()
        let resolved = arguments.map { $0 == "CERT" ? certificate.certificatePath : $0 == "KEY" ? certificate.keyPath : $0 == "OTHER" ? other : $0 }
        let result = try await Command.run(
            RelayProcess.binary.path, ["serve", "--listen", "127.0.0.1:0", "--store", "memory"] + resolved,
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TETHER_") }
        )
        #expect(result.status == 2, "\(result.output)")
        #expect(result.output.contains(message), "\(result.output)")
        #expect(!result.output.contains("listening on"))
    }
}
