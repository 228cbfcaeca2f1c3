import CTetherBuildInfo

/// This build's version and git commit, as `tether --version`, `tether version`,
/// `tether_build_info` and the start-up log report them. Fixed when the binary is built
/// (Package.swift reads `VERSION` and the commit; see there), so a copied binary still knows.
public enum TetherVersion {
    /// The release version, from the repository's `VERSION` file; the Debian package's version.
    public static let string = String(cString: tether_build_version())
    /// The git commit the build was made from (12 hex digits, `-dirty` when the work tree had
    /// uncommitted changes), or `unknown` when built outside a git clone.
    public static let commit = String(cString: tether_build_commit())

    /// `0.1.0 (commit 460c164abcde)`: what `tether --version` prints.
    public static var summary: String { "\(string) (commit \(commit))" }
}
