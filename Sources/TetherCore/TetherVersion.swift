/// This build's version, as `tether --version`, `tether_build_info` and logs report it.
public enum TetherVersion {
    public static let string = "0.1.0"
}
