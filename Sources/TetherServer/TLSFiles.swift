import Foundation
import NIOSSL
import TetherCore

/// The certificate chain and private key `tether serve` answers TLS with (`tls.cert`,
/// `tls.key`, PEM files). Both or neither: one without the other is a configuration error, and
/// so is a file that cannot be read, so a typo stops start-up instead of serving plain HTTP.
public struct TLSFiles: Sendable, Equatable {
    public var certificatePath: String
    public var keyPath: String

    public init(certificatePath: String, keyPath: String) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
    }

    /// `nil` when neither is set.
    init?(certificate: String?, key: String?) throws(ConfigurationError) {
        switch (certificate, key) {
        case (nil, nil):
            return nil
        case (let certificate?, let key?):
            for (name, path) in [("tls.cert", certificate), ("tls.key", key)] where !FileManager.default.isReadableFile(atPath: path) {
                throw ConfigurationError("\(name) \(path) is not a readable file")
            }
            self.init(certificatePath: certificate, keyPath: key)
        case (.some, nil):
            throw ConfigurationError("tls.cert is set but tls.key is not; TLS needs both (--tls-cert and --tls-key)")
        case (nil, .some):
            throw ConfigurationError("tls.key is set but tls.cert is not; TLS needs both (--tls-cert and --tls-key)")
        }
    }

    /// The server's TLS configuration (TLS 1.2 and later, NIOSSL's default ciphers).
    ///
    /// - Throws: ``RelayStartError`` naming the file that is not a PEM certificate or key.
    func serverConfiguration() throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw RelayStartError("tls.cert \(certificatePath) is not a PEM certificate chain: \(error)")
        }
        guard !chain.isEmpty else {
            throw RelayStartError("tls.cert \(certificatePath) holds no PEM certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw RelayStartError("tls.key \(keyPath) is not a PEM private key (or is encrypted): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        do {
            // Building the context checks that the key belongs to the certificate.
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw RelayStartError("tls.key \(keyPath) does not fit tls.cert \(certificatePath): \(error)")
        }
        return configuration
    }
}
