public import Foundation

/// A throw-away self-signed certificate for 127.0.0.1 and localhost, made by the real `openssl`
/// command (Debian: openssl), for tests of `--tls-cert/--tls-key` and of clients trusting it.
public struct TestCertificate: Sendable {
    public let directory: URL
    public var certificatePath: String { directory.appendingPathComponent("cert.pem").path }
    public var keyPath: String { directory.appendingPathComponent("key.pem").path }

    /// Makes a P-256 key and a certificate valid for two days.
    public static func make() async throws -> TestCertificate {
        guard let openssl = ExternalTool.find("openssl") else {
            throw RelayProcessError("openssl is not installed (scripts/ensure-deps.sh test installs it)")
        }
        let certificate = TestCertificate(directory: try temporaryDirectory(prefix: "tether-tls"))
        let result = try await Command.run(openssl, [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", certificate.keyPath, "-out", certificate.certificatePath, "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        guard result.status == 0 else { throw RelayProcessError("openssl req failed:\n\(result.output)") }
        return certificate
    }

    /// Writes another private key (one that does not fit the certificate) and returns its path.
    public func unrelatedKey() async throws -> String {
        let path = directory.appendingPathComponent("other-key.pem").path
        let result = try await Command.run(ExternalTool.find("openssl") ?? "openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path])
        guard result.status == 0 else { throw RelayProcessError("openssl genpkey failed:\n\(result.output)") }
        return path
    }
}
